// Security and transports: bad signatures dropped, replays answered once, empty key (unsigned), hmac-sha512, ipc.
import { createHmac } from 'node:crypto';
import { startTestKernel, TestKernel, Received } from '../support/kernel-client';
import { DELIMITER } from '../../kernel/protocol/wire';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function signatureOf(frames: Buffer[]): { signature: string; parts: Buffer[] } {
  const at = frames.findIndex((f) => f.equals(DELIMITER));
  expect(at).toBeGreaterThanOrEqual(0);
  return { signature: frames[at + 1].toString('ascii'), parts: frames.slice(at + 2, at + 6) };
}

function withSignature(frames: Buffer[], signature: string): Buffer[] {
  const at = frames.findIndex((f) => f.equals(DELIMITER));
  const copy = [...frames];
  copy[at + 1] = Buffer.from(signature, 'ascii');
  return copy;
}

describe('signed connection (hmac-sha256)', () => {
  let k: TestKernel;
  beforeAll(async () => {
    k = await startTestKernel();
  });
  afterAll(async () => {
    await k.stop();
  });

  /** Sends frames, waits a while, and returns what came back for that msg_id (replies and IOPub). */
  async function sendAndCollect(frames: Buffer[], msgId: string, channel: 'shell' | 'control' = 'shell'): Promise<{ replies: Received[]; iopub: number }> {
    await k.client.sendRaw(channel, frames);
    await sleep(400);
    return { replies: k.client.repliesTo(msgId), iopub: k.client.iopubFor(msgId).length };
  }

  async function stillAnswers(): Promise<void> {
    const r = await k.client.execute('"good"');
    expect(r.reply.content.status).toBe('ok');
    const info = await k.client.request('kernel_info_request', {}, { channel: 'control' });
    expect(info.content.status).toBe('ok');
  }

  test('replies are signed with the connection key', async () => {
    const r = await k.client.execute('1');
    const received = k.client.repliesTo(String(r.reply.parent_header.msg_id))[0];
    const { signature, parts } = signatureOf(received.frames);
    const expected = createHmac('sha256', k.client.info.key);
    for (const p of parts) expected.update(p);
    expect(signature).toBe(expected.digest('hex'));
  });

  test.each(['shell', 'control'] as const)('a message with a bad signature on %s is dropped; a good one is answered', async (channel) => {
    const { msgId, frames } = k.client.frames('kernel_info_request', {});
    const { signature } = signatureOf(frames);
    const bad = withSignature(frames, (signature[0] === 'a' ? 'b' : 'a') + signature.slice(1));
    const got = await sendAndCollect(bad, msgId, channel);
    expect(got.replies).toEqual([]);
    expect(got.iopub).toBe(0);
    await stillAnswers();
  });

  test('a message whose content was changed after signing is dropped', async () => {
    const { msgId, frames } = k.client.frames('execute_request', { code: 'globalThis.tampered = 1', silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true });
    const tampered = [...frames];
    tampered[tampered.length - 1] = Buffer.from(JSON.stringify({ code: 'globalThis.tampered = 2', silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true }));
    const got = await sendAndCollect(tampered, msgId);
    expect(got.replies).toEqual([]);
    const r = await k.client.execute('typeof globalThis.tampered');
    expect(r.outputs.find((m) => m.header.msg_type === 'execute_result')?.content.data).toEqual({ 'text/plain': "'undefined'" });
  });

  test('an unsigned message (empty signature) is dropped', async () => {
    const { msgId, frames } = k.client.frames('kernel_info_request', {});
    const got = await sendAndCollect(withSignature(frames, ''), msgId);
    expect(got.replies).toEqual([]);
    await stillAnswers();
  });

  test('a message signed with another key is dropped', async () => {
    const { msgId, frames } = k.client.frames('kernel_info_request', {});
    const { parts } = signatureOf(frames);
    const other = createHmac('sha256', 'not-the-key');
    for (const p of parts) other.update(p);
    const got = await sendAndCollect(withSignature(frames, other.digest('hex')), msgId);
    expect(got.replies).toEqual([]);
    await stillAnswers();
  });

  test('a replayed message (same frames twice) gets exactly one reply', async () => {
    const { msgId, frames } = k.client.frames('execute_request', { code: 'globalThis.runs = (globalThis.runs ?? 0) + 1', silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true });
    await k.client.sendRaw('shell', frames);
    await k.client.waitReply(msgId, 5000);
    await k.client.sendRaw('shell', frames);
    await sleep(400);
    expect(k.client.repliesTo(msgId)).toHaveLength(1);
    const busy = k.client.iopubFor(msgId).filter((m) => m.header.msg_type === 'status' && m.content.execution_state === 'busy');
    expect(busy).toHaveLength(1);
    const r = await k.client.execute('globalThis.runs');
    expect(r.outputs.find((m) => m.header.msg_type === 'execute_result')?.content.data).toEqual({ 'text/plain': '1' });
  });

  test('a replay on the other channel is rejected too', async () => {
    const { msgId, frames } = k.client.frames('kernel_info_request', {});
    await k.client.sendRaw('shell', frames);
    await k.client.waitReply(msgId, 5000);
    await k.client.sendRaw('control', frames);
    await sleep(400);
    expect(k.client.repliesTo(msgId)).toHaveLength(1);
  });

  test('garbage frames are dropped without harming the kernel', async () => {
    await k.client.sendRaw('shell', [Buffer.from('not a jupyter message')]);
    await k.client.sendRaw('shell', [DELIMITER, Buffer.from('x')]);
    await sleep(100);
    await stillAnswers();
  });
});

describe('empty key: unsigned both ways', () => {
  let k: TestKernel;
  beforeAll(async () => {
    k = await startTestKernel({ key: '' });
  });
  afterAll(async () => {
    await k.stop();
  });

  test('unsigned requests are answered with unsigned replies and IOPub', async () => {
    expect(k.client.info.key).toBe('');
    const { msgId, frames } = k.client.frames('execute_request', { code: 'console.log("plain"); 2 + 2', silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true });
    expect(signatureOf(frames).signature).toBe('');
    await k.client.sendRaw('shell', frames);
    const reply = await k.client.waitReply(msgId, 5000);
    expect(reply.content.status).toBe('ok');
    await k.client.waitIdle(msgId);
    for (const r of k.client.repliesTo(msgId)) expect(signatureOf(r.frames).signature).toBe('');
    const info = await k.client.call('kernel_info_request', {}, { channel: 'control' });
    for (const r of k.client.repliesTo(String(info.reply.parent_header.msg_id))) expect(signatureOf(r.frames).signature).toBe('');
    expect(k.client.iopubFor(msgId).map((m) => m.header.msg_type)).toEqual(['status', 'execute_input', 'stream', 'execute_result', 'status']);
  });
});

describe('hmac-sha512', () => {
  let k: TestKernel;
  beforeAll(async () => {
    k = await startTestKernel({ signatureScheme: 'hmac-sha512' });
  });
  afterAll(async () => {
    await k.stop();
  });

  test('requests signed with sha512 are answered, replies are signed with sha512', async () => {
    const r = await k.client.execute('"sha" + 512');
    expect(r.reply.content.status).toBe('ok');
    expect(r.outputs.find((m) => m.header.msg_type === 'execute_result')?.content.data).toEqual({ 'text/plain': "'sha512'" });
    const { signature, parts } = signatureOf(k.client.repliesTo(String(r.reply.parent_header.msg_id))[0].frames);
    expect(signature).toHaveLength(128);
    const expected = createHmac('sha512', k.client.info.key);
    for (const p of parts) expected.update(p);
    expect(signature).toBe(expected.digest('hex'));
  });

  test('a sha256 signature is refused on a sha512 connection', async () => {
    const { msgId, frames } = k.client.frames('kernel_info_request', {});
    const { parts } = signatureOf(frames);
    const sha256 = createHmac('sha256', k.client.info.key);
    for (const p of parts) sha256.update(p);
    await k.client.sendRaw('shell', withSignature(frames, sha256.digest('hex')));
    await sleep(400);
    expect(k.client.repliesTo(msgId)).toEqual([]);
  });
});

describe('ipc transport', () => {
  let k: TestKernel;
  beforeAll(async () => {
    k = await startTestKernel({ transport: 'ipc' });
  });
  afterAll(async () => {
    await k.stop();
  });

  test('all five channels work over ipc', async () => {
    expect(k.client.info.transport).toBe('ipc');
    const r = await k.client.execute('console.log("over ipc"); 7 * 6');
    expect(r.reply.content.status).toBe('ok');
    expect(r.outputs.map((m) => m.header.msg_type)).toEqual(['execute_input', 'stream', 'execute_result']);
    const info = await k.client.request('kernel_info_request', {}, { channel: 'control' });
    expect(info.content.status).toBe('ok');
    expect(await k.client.ping(2000)).toBeLessThan(2000);
    k.client.onInput = () => 'typed';
    const input = await k.client.execute('await input("over stdin?")');
    expect(input.outputs.find((m) => m.header.msg_type === 'execute_result')?.content.data).toEqual({ 'text/plain': "'typed'" });
  });
});
