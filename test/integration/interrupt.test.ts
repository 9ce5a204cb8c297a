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

test('an interrupt that lands while the cell is being answered (a user expression spins) still gets the cell its reply', async () => {
  // The cell itself is done; its reply waits for user_expressions, and this one never ends. The interrupt
  // terminates it halfway through the answer, and the kernel must still answer the cell: it used to count the
  // cell as answered from the moment answering began, and the notebook stayed busy forever.
  const cell = await startCell('1', { user_expressions: { spin: 'while (true) {}' } });
  await new Promise((r) => setTimeout(r, 100));
  await expectInterrupted(cell, viaControl);
});

test('an abort listener that spins is stopped too: the cell answers once the kernel stops waiting for it', async () => {
  // the cell thread takes the interrupt, then runs this listener: the kernel gives a thread that took the
  // interrupt time to answer (a loaded machine), but not forever
  const cell = await startCell('io.signal.addEventListener("abort", () => { while (true) {} }); console.log("armed"); await new Promise(() => {})');
  const deadline = Date.now() + 10_000;
  while (!k.client.iopubFor(cell.msgId).some((m) => m.header.msg_type === 'stream' && String(m.content.text).includes('armed')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  await viaControl();
  const reply = await cell.reply;
  expect(reply.content.ename).toBe('KeyboardInterrupt');
  const next = await k.client.execute('survivor + "?"', {}, 5000);
  expect(next.outputs.find((m) => m.header.msg_type === 'execute_result')?.content.data).toEqual({ 'text/plain': "'still here?'" });
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

describe('timers cells started', () => {
  const PERIOD_MS = 20;
  /** Interval periods the test waits (measured by its own clock) for output that must not come. */
  const PERIODS = 10;

  const streamText = (m: Message): string => (m.header.msg_type === 'stream' ? String(m.content.text) : '');
  const count = (text: string, word: string): number => text.split(word).length - 1;
  /** How many times `word` was printed so far under request `msgId`, and where in the IOPub log `since` stands. */
  const printed = (msgId: string, word: string, since = 0): number =>
    k.client.iopubLog.slice(since).filter((m) => m.parent_header.msg_id === msgId).reduce((n, m) => n + count(streamText(m), word), 0);

  async function untilPrinted(msgId: string, word: string): Promise<void> {
    await k.client.waitForIopub((m) => m.parent_header.msg_id === msgId && streamText(m).includes(word), 10_000, `"${word}" from the cell`);
  }

  /**
   * Runs a cell that lets PERIODS interval periods pass in the kernel, then checks by the test's own clock that
   * they did: any interval still alive would have printed during them, before this cell's reply.
   */
  async function letPeriodsPass(): Promise<void> {
    const started = Date.now();
    const r = await k.client.execute(`await new Promise((r) => setTimeout(r, ${PERIODS * PERIOD_MS})); "periods passed"`, {}, 10_000);
    expect(r.reply.content.status).toBe('ok');
    expect(r.outputs.find((m) => m.header.msg_type === 'execute_result')?.content.data).toEqual({ 'text/plain': "'periods passed'" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(PERIODS * PERIOD_MS);
  }

  const isNotice = (m: Message): boolean => m.header.msg_type === 'stream' && m.content.name === 'stderr' && /interrupt stopped/.test(streamText(m));
  /** The kernel's note of the timers an interrupt stopped, published under the request that started them. */
  const notice = (msgId: string): Message | undefined => k.client.iopubFor(msgId).find(isNotice);
  const noticeArrives = (msgId: string): Promise<Message> =>
    k.client.waitForIopub((m) => m.parent_header.msg_id === msgId && isNotice(m), 5000, `the interrupt's notice under ${msgId}`);

  test('interrupting a cell stops the intervals and timeouts it started, also from its callbacks', async () => {
    const cell = await startCell([
      `setInterval(() => console.log("tick-a"), ${PERIOD_MS});`,
      // a timeout started from a promise continuation and one started by the interval's own callback chain
      'Promise.resolve().then(() => setTimeout(() => console.log("late-a"), 60_000));',
      'const chain = () => setTimeout(() => { console.log("chain-a"); chain() }, 5); chain();',
      'await new Promise(() => {})',
    ].join('\n'));
    await untilPrinted(cell.msgId, 'tick-a');
    await untilPrinted(cell.msgId, 'chain-a');
    await expectInterrupted(cell, viaControl);
    const at = k.client.iopubLog.length;
    await letPeriodsPass();
    expect(printed(cell.msgId, 'tick-a', at)).toBe(0);
    expect(printed(cell.msgId, 'chain-a', at)).toBe(0);
    expect(printed(cell.msgId, 'late-a')).toBe(0);
    // said in the cell, before its KeyboardInterrupt error
    const outputs = k.client.iopubFor(cell.msgId);
    expect(streamText(notice(cell.msgId) ?? outputs[0])).toMatch(/interrupt stopped 1 interval and 2 timeouts this cell started/);
    expect(outputs.indexOf(notice(cell.msgId) as Message)).toBeLessThan(outputs.findIndex((m) => m.header.msg_type === 'error'));
  });

  test('interrupt on an idle kernel stops the timers earlier cells left running and says so in each cell', async () => {
    const first = await k.client.execute(`setInterval(() => console.log("tick-b"), ${PERIOD_MS}); setTimeout(() => console.log("late-b"), 60_000); "started"`);
    const second = await k.client.execute(`setInterval(() => console.log("tick-c"), ${PERIOD_MS}); "started"`);
    const firstId = String(first.reply.parent_header.msg_id);
    const secondId = String(second.reply.parent_header.msg_id);
    await untilPrinted(firstId, 'tick-b');
    await untilPrinted(secondId, 'tick-c');
    await viaControl();
    // the notice goes where the timers' output went: the cell that started them
    expect(streamText(await noticeArrives(firstId))).toMatch(/interrupt stopped 1 interval and 1 timeout this cell left running/);
    expect(streamText(await noticeArrives(secondId))).toMatch(/interrupt stopped 1 interval this cell left running/);
    const afterNotices = k.client.iopubLog.length;
    await letPeriodsPass();
    expect(printed(firstId, 'tick-b', afterNotices)).toBe(0);
    expect(printed(secondId, 'tick-c', afterNotices)).toBe(0);
    expect(printed(firstId, 'late-b')).toBe(0);
    // nothing printed after its cell's notice either (the notice is the cell's last output)
    const noticeAt = k.client.iopubLog.indexOf(notice(firstId) as Message);
    expect(printed(firstId, 'tick-b', noticeAt)).toBe(0);
    // a further interrupt finds nothing to stop and says nothing
    await viaControl();
    const r = await k.client.execute('"still fine"');
    expect(r.reply.content.status).toBe('ok');
    expect(k.client.iopubFor(firstId).filter((m) => /interrupt stopped/.test(streamText(m)))).toHaveLength(1);
  });

  test('interrupting a cell leaves the timers of earlier cells running until an idle interrupt', async () => {
    const earlier = await k.client.execute(`setInterval(() => console.log("tick-d"), ${PERIOD_MS}); "started"`);
    const earlierId = String(earlier.reply.parent_header.msg_id);
    await untilPrinted(earlierId, 'tick-d');
    const cell = await startCell(`setInterval(() => console.log("tick-e"), ${PERIOD_MS}); await new Promise(() => {})`);
    await untilPrinted(cell.msgId, 'tick-e');
    await expectInterrupted(cell, viaControl);
    const at = k.client.iopubLog.length;
    await letPeriodsPass();
    expect(printed(cell.msgId, 'tick-e', at)).toBe(0);
    expect(printed(earlierId, 'tick-d', at)).toBeGreaterThan(0);
    await viaControl();
    await noticeArrives(earlierId);
    const afterNotice = k.client.iopubLog.length;
    await letPeriodsPass();
    expect(printed(earlierId, 'tick-d', afterNotice)).toBe(0);
  });

  test('timers a cell clears itself or that already ran are not counted', async () => {
    const done = await k.client.execute('const cleared = setInterval(() => {}, 1000); clearInterval(cleared); await new Promise((r) => setTimeout(r, 5)); setImmediate(() => {}); await new Promise((r) => setImmediate(r)); "done"');
    expect(done.reply.content.status).toBe('ok');
    const id = String(done.reply.parent_header.msg_id);
    await viaControl();
    const r = await k.client.execute('"after"');
    expect(r.reply.content.status).toBe('ok');
    expect(notice(id)).toBeUndefined();
  });
});
