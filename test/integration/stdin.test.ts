// stdin channel: input() and password() answered by the frontend, and allow_stdin false failing clearly instead of hanging.
import { startTestKernel, TestKernel } from '../support/kernel-client';
import type { Message } from '../../kernel/protocol/messages';

let k: TestKernel;
beforeAll(async () => {
  k = await startTestKernel();
});
afterAll(async () => {
  await k.stop();
});
afterEach(() => {
  k.client.onInput = undefined;
});

test('await input("name?") is answered through input_request / input_reply', async () => {
  const requests: Message[] = [];
  k.client.onInput = (m) => {
    requests.push(m);
    return 'Ada';
  };
  const r = await k.client.execute('const who = await input("name?"); console.log("hello " + who); who.length');
  expect(r.reply.content.status).toBe('ok');
  expect(requests).toHaveLength(1);
  const req = requests[0];
  expect(req.header.msg_type).toBe('input_request');
  expect(req.content).toEqual({ prompt: 'name?', password: false });
  expect(req.parent_header.msg_id).toBe(r.reply.parent_header.msg_id);
  const text = r.outputs.filter((m) => m.header.msg_type === 'stream').map((m) => m.content.text).join('');
  expect(text).toBe('hello Ada\n');
  expect(r.outputs.find((m) => m.header.msg_type === 'execute_result')?.content.data).toEqual({ 'text/plain': '3' });
  // the answer persists as ordinary state
  const after = await k.client.execute('who');
  expect(after.outputs[1].content.data).toEqual({ 'text/plain': "'Ada'" });
});

test('an input_reply with an empty parent header (classic Notebook 6 sends them so) answers the waiting input()', async () => {
  k.client.onInput = () => {
    void k.client.sendOn(k.client.stdin, 'input_reply', { value: 'Grace' }, {});
    return undefined;
  };
  const r = await k.client.execute('const who2 = await input("name?"); "hello " + who2', {}, 10_000);
  expect(r.reply.content.status).toBe('ok');
  expect(r.outputs.find((m) => m.header.msg_type === 'execute_result')?.content.data).toEqual({ 'text/plain': "'hello Grace'" });
});

test('await password("pw?") asks with password: true', async () => {
  const requests: Message[] = [];
  k.client.onInput = (m) => {
    requests.push(m);
    return 's3cret';
  };
  const r = await k.client.execute('const pw = await password("pw?"); pw === "s3cret"');
  expect(r.reply.content.status).toBe('ok');
  expect(requests).toHaveLength(1);
  expect(requests[0].content).toEqual({ prompt: 'pw?', password: true });
  expect(r.outputs.find((m) => m.header.msg_type === 'execute_result')?.content.data).toEqual({ 'text/plain': 'true' });
});

test('several inputs in one cell are asked in order', async () => {
  const answers = ['one', 'two'];
  const prompts: unknown[] = [];
  k.client.onInput = (m) => {
    prompts.push(m.content.prompt);
    return answers.shift();
  };
  const r = await k.client.execute('const a1 = await input("first"); const a2 = await input("second"); a1 + "+" + a2');
  expect(prompts).toEqual(['first', 'second']);
  expect(r.outputs.find((m) => m.header.msg_type === 'execute_result')?.content.data).toEqual({ 'text/plain': "'one+two'" });
});

test('allow_stdin false: input() fails with StdinNotAllowedError, no input_request, no hang', async () => {
  let asked = 0;
  k.client.onInput = () => {
    asked += 1;
    return 'should not be asked';
  };
  const started = Date.now();
  const r = await k.client.execute('const x = await input("x")', { allow_stdin: false }, 5000);
  expect(Date.now() - started).toBeLessThan(2000);
  expect(r.reply.content.status).toBe('error');
  expect(r.reply.content.ename).toBe('StdinNotAllowedError');
  expect(String(r.reply.content.evalue)).toMatch(/allow_stdin/);
  const err = r.outputs.find((m) => m.header.msg_type === 'error');
  expect(err?.content.ename).toBe('StdinNotAllowedError');
  expect(asked).toBe(0);
  const next = await k.client.execute('"still fine"');
  expect(next.reply.content.status).toBe('ok');
});
