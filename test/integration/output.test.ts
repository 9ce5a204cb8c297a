// Output on IOPub: stream, display_data, update_display_data, clear_output, late async output, batching and the flood cap.
import { startTestKernel, TestKernel } from '../support/kernel-client';
import type { Message } from '../../kernel/protocol/messages';

let k: TestKernel;
beforeAll(async () => {
  k = await startTestKernel();
});
afterAll(async () => {
  await k.stop();
});

const types = (outputs: Message[]) => outputs.map((m) => m.header.msg_type);
const streamText = (outputs: Message[], name: string) =>
  outputs.filter((m) => m.header.msg_type === 'stream' && m.content.name === name).map((m) => String(m.content.text)).join('');

test('stream: stdout and stderr, each on its own stream', async () => {
  const r = await k.client.execute('console.log("to out"); console.error("to err"); process.stdout.write("raw out\\n")');
  expect(r.reply.content.status).toBe('ok');
  expect(streamText(r.outputs, 'stdout')).toBe('to out\nraw out\n');
  expect(streamText(r.outputs, 'stderr')).toBe('to err\n');
  for (const m of r.outputs.filter((o) => o.header.msg_type === 'stream')) expect(m.parent_header.msg_id).toBe(r.reply.parent_header.msg_id);
  // the order of the two streams is kept
  const names = r.outputs.filter((m) => m.header.msg_type === 'stream').map((m) => m.content.name);
  expect(names.indexOf('stderr')).toBeGreaterThan(names.indexOf('stdout'));
});

test('display(value) publishes display_data with a display id', async () => {
  const r = await k.client.execute('display({k: "v"}); display("text"); undefined');
  const displays = r.outputs.filter((m) => m.header.msg_type === 'display_data');
  expect(displays).toHaveLength(2);
  expect(displays[0].content.data).toEqual({ 'text/plain': "{ k: 'v' }" });
  expect(displays[1].content.data).toEqual({ 'text/plain': "'text'" });
  for (const d of displays) {
    expect(d.content.metadata).toEqual(expect.any(Object));
    expect(typeof (d.content.transient as Record<string, unknown>).display_id).toBe('string');
  }
  expect(types(r.outputs)).toEqual(['execute_input', 'display_data', 'display_data']);
});

test('a cell ending in display(x) shows x once, not also its handle as the result', async () => {
  const r = await k.client.execute('display({ shown: true })');
  expect(r.reply.content.status).toBe('ok');
  expect(r.outputs.map((m) => m.header.msg_type)).toEqual(['execute_input', 'display_data']);
});

test('a rich value (Symbol.for("Jupyter.display")) displays as its bundle', async () => {
  const r = await k.client.execute('display({[Symbol.for("Jupyter.display")]() { return {"text/html": "<b>hi</b>"} }}); undefined');
  const d = r.outputs.find((m) => m.header.msg_type === 'display_data');
  expect((d?.content.data as Record<string, unknown>)['text/html']).toBe('<b>hi</b>');
  expect((d?.content.data as Record<string, unknown>)['text/plain']).toEqual(expect.any(String));
});

test('update_display_data targets the display id of the handle', async () => {
  const r = await k.client.execute('const h = display(1); h.update({"text/plain": "2"}); h.id');
  expect(types(r.outputs)).toEqual(['execute_input', 'display_data', 'update_display_data', 'execute_result']);
  const [, shown, updated, result] = r.outputs;
  const id = (shown.content.transient as Record<string, unknown>).display_id;
  expect(typeof id).toBe('string');
  expect(shown.content.data).toEqual({ 'text/plain': '1' });
  expect(updated.content.data).toEqual({ 'text/plain': '2' });
  expect((updated.content.transient as Record<string, unknown>).display_id).toBe(id);
  expect(updated.content.metadata).toEqual(expect.any(Object));
  expect(result.content.data).toEqual({ 'text/plain': `'${String(id)}'` });

  // a later cell can update the same display; the update belongs to the later cell
  const later = await k.client.execute('h.update({"text/plain": "3"})');
  const up = later.outputs.find((m) => m.header.msg_type === 'update_display_data');
  expect(up?.content.data).toEqual({ 'text/plain': '3' });
  expect((up?.content.transient as Record<string, unknown>).display_id).toBe(id);
  expect(up?.parent_header.msg_id).toBe(later.reply.parent_header.msg_id);
});

test('clearOutput({wait: true}) publishes clear_output with wait, in order with other output', async () => {
  const r = await k.client.execute('console.log("before"); clearOutput({wait: true}); console.log("after"); clearOutput()');
  expect(types(r.outputs)).toEqual(['execute_input', 'stream', 'clear_output', 'stream', 'clear_output']);
  expect(r.outputs[1].content.text).toBe('before\n');
  expect(r.outputs[2].content).toEqual({ wait: true });
  expect(r.outputs[3].content.text).toBe('after\n');
  expect(r.outputs[4].content).toEqual({ wait: false });
});

test('late async output keeps the parent of the cell that scheduled it', async () => {
  const a = await k.client.execute('setTimeout(() => console.log("late"), 300); "scheduled"');
  const aId = String(a.reply.parent_header.msg_id);
  expect(streamText(a.outputs, 'stdout')).toBe('');
  const b = await k.client.execute('await new Promise(r => setTimeout(r, 600)); "b done"');
  const bId = String(b.reply.parent_header.msg_id);
  const late = await k.client.waitForIopub((m) => m.header.msg_type === 'stream' && String(m.content.text).includes('late'), 5000, 'the late stream');
  expect(late.parent_header.msg_id).toBe(aId);
  expect(late.content.name).toBe('stdout');
  expect(k.client.iopubFor(bId).some((m) => m.header.msg_type === 'stream')).toBe(false);
});

test('output batching: 10,000 lines arrive in far fewer stream messages, complete, before idle', async () => {
  const r = await k.client.execute('for (let i = 0; i < 10000; i++) console.log(i)');
  expect(r.reply.content.status).toBe('ok');
  const streams = r.outputs.filter((m) => m.header.msg_type === 'stream');
  expect(streams.length).toBeGreaterThan(0);
  expect(streams.length).toBeLessThan(50);
  const expected = Array.from({ length: 10000 }, (_, i) => `${i}\n`).join('');
  // r.outputs was collected when idle arrived: everything is flushed before idle
  expect(streamText(r.outputs, 'stdout')).toBe(expected);
});

describe('output flood cap (OPSBOOK_MAX_OUTPUT_MB=2)', () => {
  let f: TestKernel;
  beforeAll(async () => {
    f = await startTestKernel({ env: { OPSBOOK_MAX_OUTPUT_MB: '2' } });
  });
  afterAll(async () => {
    await f.stop();
  });

  test('stops near 2 MiB with a notice, stays responsive, is interruptible, next cell runs', async () => {
    await f.client.execute('const keep = "kept"');
    const { msgId, frames } = f.client.frames('execute_request', {
      code: 'while (true) console.log("x".repeat(1000))',
      silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true,
    });
    const replyPromise = f.client.waitReply(msgId, 30000);
    await f.client.sendRaw('shell', frames);
    const notice = await f.client.waitForIopub(
      (m) => m.parent_header.msg_id === msgId && m.header.msg_type === 'stream' && String(m.content.text).includes('output limit'),
      20000,
      'the output limit notice',
    );
    expect(notice.content.name).toBe('stderr');

    // still busy in the loop: heartbeat and control answer
    expect(await f.client.ping(1000)).toBeLessThan(1000);
    const info = await f.client.request('kernel_info_request', {}, { channel: 'control', timeoutMs: 2000 });
    expect(info.content.status).toBe('ok');

    const started = Date.now();
    const interrupt = await f.client.request('interrupt_request', {}, { channel: 'control', timeoutMs: 5000 });
    expect(interrupt.content.status).toBe('ok');
    const reply = await replyPromise;
    expect(Date.now() - started).toBeLessThan(2000);
    expect(reply.content.status).toBe('error');
    expect(reply.content.ename).toBe('KeyboardInterrupt');
    await f.client.waitIdle(msgId);

    const stdout = f.client.iopubFor(msgId).filter((m) => m.header.msg_type === 'stream' && m.content.name === 'stdout');
    const bytes = stdout.reduce((n, m) => n + Buffer.byteLength(String(m.content.text)), 0);
    const limit = 2 * 1024 * 1024;
    expect(bytes).toBeGreaterThanOrEqual(limit - 2000);
    expect(bytes).toBeLessThanOrEqual(limit + 2000);

    const next = await f.client.execute('keep + "!"');
    expect(next.reply.content.status).toBe('ok');
    expect(next.outputs.find((m) => m.header.msg_type === 'execute_result')?.content.data).toEqual({ 'text/plain': "'kept!'" });
    const small = await f.client.execute('console.log("small")');
    expect(streamText(small.outputs, 'stdout')).toBe('small\n');
  });
});
