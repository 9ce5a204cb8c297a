// Smoke: a real kernel process over real ZeroMQ answers kernel_info and runs a cell.
import { startTestKernel, TestKernel } from '../support/kernel-client';

let k: TestKernel;
beforeAll(async () => {
  k = await startTestKernel();
});
afterAll(async () => {
  await k.stop();
});

test('kernel_info and a first execute', async () => {
  const info = await k.client.request('kernel_info_request', {});
  expect(info.content.implementation).toBe('opsbook');
  const r = await k.client.execute('console.log("hi"); 40 + 2');
  expect(r.reply.content.status).toBe('ok');
  expect(r.statuses).toEqual(['busy', 'idle']);
  expect(r.outputs.map((m) => m.header.msg_type)).toEqual(['execute_input', 'stream', 'execute_result']);
  expect(r.outputs[2].content.data).toEqual({ 'text/plain': '42' });
});
