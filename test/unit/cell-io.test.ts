// Unit tests of the worker-side Io with a fake post: stream batching, flush before other output,
// the output limit, silent requests, input without stdin, interrupt.
import { CellIo } from '../../kernel/executor/cell-thread/cell-io';
import type { ToMain } from '../../kernel/executor/thread-messages';

function collect(options = { silent: false, allowStdin: true }) {
  const sent: ToMain[] = [];
  const io = new CellIo('req', (m) => sent.push(m), options);
  const streams = () => sent.filter((m): m is Extract<ToMain, { type: 'iopub' }> => m.type === 'iopub' && m.msgType === 'stream');
  return { io, sent, streams };
}

test('many small writes become few messages, in order, with all text', () => {
  const { io, streams } = collect();
  let expected = '';
  for (let i = 0; i < 5000; i++) {
    io.stream('stdout', `${i}\n`);
    expected += `${i}\n`;
  }
  io.finish();
  expect(streams().length).toBeLessThan(5);
  expect(streams().map((m) => m.content.text).join('')).toBe(expected);
});

test('switching stream name or displaying flushes first, keeping order', () => {
  const { io, sent } = collect();
  io.stream('stdout', 'a');
  io.stream('stderr', 'b');
  io.display({ 'text/plain': 'c' });
  io.stream('stdout', 'd');
  io.finish();
  const order = sent.map((m) => (m.type === 'iopub' ? (m.msgType === 'stream' ? String(m.content.text) : m.msgType) : m.type));
  expect(order).toEqual(['a', 'b', 'display_data', 'd']);
});

test('the output limit drops the rest with one notice and reports the count', () => {
  process.env.OPSBOOK_MAX_OUTPUT_MB = '1';
  try {
    const { io, streams } = collect();
    const line = 'x'.repeat(1023) + '\n';
    for (let i = 0; i < 3000; i++) io.stream('stdout', line);
    io.finish();
    const text = streams().map((m) => String(m.content.text)).join('');
    expect(text.match(/output limit of 1 MiB reached/g)?.length).toBe(1);
    expect(text).toMatch(/\d+ bytes of output were discarded/);
    expect(streams().filter((m) => m.content.name === 'stdout').map((m) => String(m.content.text)).join('').length).toBeLessThanOrEqual(1024 * 1024 + 1024);
  } finally {
    delete process.env.OPSBOOK_MAX_OUTPUT_MB;
  }
});

test('silent requests publish nothing', () => {
  const { io, sent } = collect({ silent: true, allowStdin: true });
  io.stream('stdout', 'x');
  io.display({ 'text/plain': 'y' });
  io.finish();
  expect(sent).toEqual([]);
});

test('input without stdin fails at once; interrupt rejects a waiting input', async () => {
  await expect(collect({ silent: false, allowStdin: false }).io.input('x')).rejects.toMatchObject({ name: 'StdinNotAllowedError' });
  const { io, sent } = collect();
  const answer = io.input('name?');
  expect(sent[0]).toMatchObject({ type: 'input_request', prompt: 'name?', password: false });
  io.interrupt();
  await expect(answer).rejects.toMatchObject({ name: 'KeyboardInterrupt' });
  expect(io.signal.aborted).toBe(true);
});

test('display handles update and clear the same display id', () => {
  const { io, sent } = collect();
  const h = io.display({ 'text/plain': '1' }, { id: 'd1' });
  h.update({ 'text/plain': '2' });
  h.clear();
  expect(sent.map((m) => (m.type === 'iopub' ? [m.msgType, (m.content.transient as { display_id: string }).display_id] : []))).toEqual([
    ['display_data', 'd1'],
    ['update_display_data', 'd1'],
    ['update_display_data', 'd1'],
  ]);
});

test('work held for an interrupt: nothing held answers at once; held work is waited for, bounded, and may reject', async () => {
  const { io, streams } = collect();
  expect(io.heldWork()).toBeUndefined();
  let finishWork!: () => void;
  const work = io.holdInterrupt(new Promise<void>((resolve) => (finishWork = resolve)), 'the rollback', 60_000);
  const failing = io.holdInterrupt(Promise.reject(new Error('rolled back')), 'the failing one', 60_000);
  await expect(failing).rejects.toThrow('rolled back');
  io.interrupt();
  const held = io.heldWork();
  expect(held).toBeDefined();
  let done = false;
  void held?.then(() => (done = true));
  await new Promise((resolve) => setImmediate(resolve));
  expect(done).toBe(false);
  expect(io.heldDescription()).toBe('the rollback');
  finishWork();
  await work;
  await held;
  expect(io.heldWork()).toBeUndefined();
  expect(streams()).toEqual([]);
});

test('held work past its limit: the interrupt answers, saying the work still runs', async () => {
  const { io, streams } = collect();
  void io.holdInterrupt(new Promise<void>(() => undefined), 'the deploy of api', 20);
  io.interrupt();
  await io.heldWork();
  io.flush();
  expect(streams().map((m) => m.content.text).join('')).toMatch(/^\[opsbook\] the deploy of api still runs 0 s after the interrupt: the cell answers now/);
});
