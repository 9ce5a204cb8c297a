// The cell thread's heap limit (OPSBOOK_CELL_HEAP_MB): a runaway allocation ends in an "out of memory" error that
// names the limit and what to do, the thread is replaced, and the kernel runs the next cell.
import { startTestKernel, TestKernel } from '../support/kernel-client';

const LIMIT_MB = 96;

let k: TestKernel;
beforeAll(async () => {
  k = await startTestKernel({ env: { OPSBOOK_CELL_HEAP_MB: String(LIMIT_MB) } });
});
afterAll(async () => {
  await k.stop();
});

test('a runaway allocation is reported as out of memory with the limit, and the next cell runs', async () => {
  const before = await k.client.execute('const kept = "state from before"');
  expect(before.reply.content.status).toBe('ok');

  const runaway = await k.client.execute('const hoard = []; while (true) hoard.push({ n: hoard.length, text: String(hoard.length) })', {}, 60_000);
  expect(runaway.reply.content.status).toBe('error');
  expect(runaway.reply.content.ename).toBe('OutOfMemoryError');
  const evalue = String(runaway.reply.content.evalue);
  expect(evalue).toMatch(/out of memory/);
  expect(evalue).toContain(`${LIMIT_MB} MB`);
  expect(evalue).toContain('OPSBOOK_CELL_HEAP_MB');
  expect(evalue).toMatch(/earlier state is gone/);
  expect(evalue).not.toMatch(/exited \(code/);
  // the notebook shows it as the cell's error, and a short one (no stack trace)
  const error = runaway.outputs.find((m) => m.header.msg_type === 'error');
  expect(error?.content.evalue).toBe(evalue);
  expect(error?.content.traceback).toEqual([`OutOfMemoryError: ${evalue}`]);

  // the kernel lives on, in a fresh thread: the next cell runs, the earlier state is gone
  const next = await k.client.execute('typeof kept', {}, 10_000);
  expect(next.reply.content.status).toBe('ok');
  expect(next.outputs.find((m) => m.header.msg_type === 'execute_result')?.content.data).toEqual({ 'text/plain': "'undefined'" });
  expect(k.kernel.child.exitCode).toBeNull();
});

test('a runaway allocation in a timer after its cell finished is said in that cell; the next cell runs', async () => {
  const started = await k.client.execute('setTimeout(() => { const hoard = []; while (true) hoard.push({ n: hoard.length }) }, 10); "started"');
  expect(started.reply.content.status).toBe('ok');
  const id = String(started.reply.parent_header.msg_id);
  const notice = await k.client.waitForIopub((m) => m.parent_header.msg_id === id && m.header.msg_type === 'stream' && /out of memory/.test(String(m.content.text)), 30_000, 'the out-of-memory notice');
  expect(String(notice.content.text)).toContain(`${LIMIT_MB} MB`);
  const next = await k.client.execute('1 + 1', {}, 10_000);
  expect(next.reply.content.status).toBe('ok');
});
