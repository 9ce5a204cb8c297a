// Interrupts (interrupt_request on control and SIGINT) of sync loops, pending awaits and signal-aware tasks; heartbeat and control while busy.
import { startTestKernel, TestKernel } from '../support/kernel-client';
import type { Message } from '../../kernel/protocol/messages';

let k: TestKernel;
beforeAll(async () => {
  k = await startTestKernel();
  const r = await k.client.execute('const survivor = "still here"');
  expect(r.reply.content.status).toBe('ok');
});
afterAll(async () => {
  await k.stop();
});

/** Sends an execute without waiting; resolves its reply later. Waits until the cell has started (busy). */
async function startCell(code: string, options: Record<string, unknown> = {}): Promise<{ msgId: string; reply: Promise<Message> }> {
  const { msgId, frames } = k.client.frames('execute_request', {
    code, silent: false, store_history: true, user_expressions: {}, allow_stdin: true, stop_on_error: true, ...options,
  });
  const reply = k.client.waitReply(msgId, 30000);
  await k.client.sendRaw('shell', frames);
  await k.client.waitForIopub((m) => m.parent_header.msg_id === msgId && m.header.msg_type === 'execute_input', 5000, 'execute_input');
  return { msgId, reply };
}

async function expectInterrupted(cell: { msgId: string; reply: Promise<Message> }, interrupt: () => Promise<void>): Promise<void> {
  const started = Date.now();
  await interrupt();
  const reply = await cell.reply;
  const elapsed = Date.now() - started;
  expect(reply.content.status).toBe('error');
  expect(reply.content.ename).toBe('KeyboardInterrupt');
  expect(elapsed).toBeLessThan(2000);
  await k.client.waitIdle(cell.msgId, 5000);
  const error = k.client.iopubFor(cell.msgId).find((m) => m.header.msg_type === 'error');
  expect(error?.content.ename).toBe('KeyboardInterrupt');
  // state survives and the next cell runs normally
  const next = await k.client.execute('survivor + "!"', {}, 5000);
  expect(next.reply.content.status).toBe('ok');
  expect(next.outputs.find((m) => m.header.msg_type === 'execute_result')?.content.data).toEqual({ 'text/plain': "'still here!'" });
}

async function viaControl(): Promise<void> {
  const r = await k.client.call('interrupt_request', {}, { channel: 'control', timeoutMs: 5000 });
  expect(r.reply.header.msg_type).toBe('interrupt_reply');
  expect(r.reply.content.status).toBe('ok');
  expect(r.statuses).toEqual(['busy', 'idle']);
}

async function viaSigint(): Promise<void> {
  expect(k.kernel.child.kill('SIGINT')).toBe(true);
}

test('interrupt_request stops a synchronous busy loop', async () => {
  const cell = await startCell('const t = Date.now(); while (Date.now() < t + 30000) {}');
  await new Promise((r) => setTimeout(r, 100));
  await expectInterrupted(cell, viaControl);
});

test('interrupt_request stops an await that never settles', async () => {
  const cell = await startCell('await new Promise(() => {})');
  await new Promise((r) => setTimeout(r, 100));
  await expectInterrupted(cell, viaControl);
});

test('interrupt_request aborts io.signal so a signal-aware task stops', async () => {
  const cell = await startCell(
    'globalThis.aborted = false; await new Promise((res, rej) => { const t = setTimeout(res, 30000); io.signal.addEventListener("abort", () => { clearTimeout(t); globalThis.aborted = true; rej(io.signal.reason) }); console.log("armed") })',
  );
  // interrupt once the listener is in place (a loaded machine may take longer than any fixed pause to get there)
  const deadline = Date.now() + 10_000;
  while (!k.client.iopubFor(cell.msgId).some((m) => m.header.msg_type === 'stream' && String(m.content.text).includes('armed')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  await expectInterrupted(cell, viaControl);
  const r = await k.client.execute('globalThis.aborted');
  expect(r.outputs.find((m) => m.header.msg_type === 'execute_result')?.content.data).toEqual({ 'text/plain': 'true' });
});

test('SIGINT to the kernel process interrupts an await', async () => {
  const cell = await startCell('await new Promise((r) => setTimeout(r, 30000))');
  await new Promise((r) => setTimeout(r, 100));
  await expectInterrupted(cell, viaSigint);
  expect(k.kernel.child.exitCode).toBeNull();
});

test('SIGINT interrupts a synchronous loop', async () => {
  const cell = await startCell('while (true) {}');
  await new Promise((r) => setTimeout(r, 100));
  await expectInterrupted(cell, viaSigint);
});

test('a synchronous loop after an await is interrupted', async () => {
  const cell = await startCell('await null; while (true) {}');
  await new Promise((r) => setTimeout(r, 100));
  await expectInterrupted(cell, viaControl);
});

test('a synchronous loop in a timer callback is interrupted', async () => {
  const cell = await startCell('setTimeout(() => { while (true) {} }, 20); await new Promise(() => {})');
  await new Promise((r) => setTimeout(r, 150));
  await expectInterrupted(cell, viaControl);
  // timers and awaits keep working afterwards
  const r = await k.client.execute('await new Promise((r) => setTimeout(r, 20)); setTimeout(() => console.log("tick"), 10); await new Promise((r) => setTimeout(r, 50)); "ok"');
  expect(r.outputs.filter((m) => m.header.msg_type === 'stream').map((m) => m.content.text)).toEqual(['tick\n']);
});

test('interrupting a cell waiting for input ends it', async () => {
  let asked = 0;
  k.client.onInput = () => {
    asked += 1;
    return undefined; // never answer
  };
  try {
    const cell = await startCell('await input("never answered")');
    for (let i = 0; i < 100 && asked === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(asked).toBe(1);
    await expectInterrupted(cell, viaControl);
  } finally {
    k.client.onInput = undefined;
  }
});

test('interrupt while idle is harmless', async () => {
  await viaControl();
  const r = await k.client.execute('1 + 1');
  expect(r.reply.content.status).toBe('ok');
});

test('heartbeat and kernel_info on control answer during a 30 s busy loop, then it is interrupted', async () => {
  const cell = await startCell('const t2 = Date.now(); while (Date.now() < t2 + 30000) {}');
  await new Promise((r) => setTimeout(r, 200));
  for (let i = 0; i < 3; i++) expect(await k.client.ping(1000)).toBeLessThan(1000);
  const started = Date.now();
  const info = await k.client.call('kernel_info_request', {}, { channel: 'control', timeoutMs: 2000 });
  expect(Date.now() - started).toBeLessThan(1000);
  expect(info.reply.content.status).toBe('ok');
  expect(info.statuses).toEqual(['busy', 'idle']);
  // the shell cell is still running
  expect(k.client.repliesTo(cell.msgId)).toHaveLength(0);
  await expectInterrupted(cell, viaControl);
});

test("a busy first cell interrupted the moment it is sent (the cell thread still starting) stops; the kernel lives", async () => {
  // a fresh kernel: its cell thread is still loading when the cell and the interrupt arrive. Terminating the thread
  // then ended it before it was ready, and the kernel exited.
  const fresh = await startTestKernel();
  try {
    const spinning = fresh.client.execute('const t9 = Date.now(); while (Date.now() < t9 + 60_000) {}', {}, 90_000);
    await fresh.client.waitForIopub((m) => m.header.msg_type === 'execute_input', 10_000, 'the first cell taken');
    const interrupted = await fresh.client.call('interrupt_request', {}, { channel: 'control', timeoutMs: 20_000 });
    expect(interrupted.reply.content.status).toBe('ok');
    const r = await spinning;
    expect(r.reply.content.ename).toBe('KeyboardInterrupt');
    expect((await fresh.client.execute('40 + 2')).reply.content.status).toBe('ok');
  } finally {
    await fresh.stop();
  }
});
