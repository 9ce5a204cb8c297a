// History across kernel restarts: two kernels on one OPSBOOK_HISTORY_FILE, the second sees the first's inputs.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startTestKernel, TestKernel } from '../support/kernel-client';

type Row = [number, number, string];
type OutputRow = [number, number, [string, string | null]];

let dir: string;
let file: string;
const first = ['const restartA = 20', 'restartA + 1', 'restartA * 2'];

async function run(k: TestKernel, cells: string[]): Promise<void> {
  for (const code of cells) expect((await k.client.execute(code)).reply.content.status).toBe('ok');
}

async function history(k: TestKernel, content: Record<string, unknown>): Promise<unknown[]> {
  const r = await k.client.request('history_request', { output: false, raw: true, ...content });
  expect(r.content.status).toBe('ok');
  return r.content.history as unknown[];
}

function start(): Promise<TestKernel> {
  return startTestKernel({ env: { OPSBOOK_HISTORY_FILE: file } });
}

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'opsbook-history-it-'));
  file = path.join(dir, 'nested', 'history.jsonl');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('a restarted kernel is the next session and answers tail, range and search with the earlier inputs', async () => {
  const one = await start();
  let firstSession: number;
  try {
    await run(one, first);
    const rows = (await history(one, { hist_access_type: 'tail', n: 10 })) as Row[];
    expect(rows.map((r) => r[2])).toEqual(first);
    firstSession = rows[0][0];
    expect(firstSession).toBe(1); // a fresh file
  } finally {
    await one.stop();
  }
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(readFileSync(file, 'utf8')).toContain('restartA * 2');

  const two = await start();
  try {
    await run(two, ['const restartB = 1', 'typeof restartA']);
    const tail = (await history(two, { hist_access_type: 'tail', n: 4 })) as Row[];
    expect(tail).toEqual([
      [firstSession, 2, first[1]],
      [firstSession, 3, first[2]],
      [firstSession + 1, 1, 'const restartB = 1'],
      [firstSession + 1, 2, 'typeof restartA'],
    ]);

    const previous = (await history(two, { hist_access_type: 'range', session: -1, start: 1, output: true })) as OutputRow[];
    expect(previous).toEqual([
      [firstSession, 1, [first[0], null]],
      [firstSession, 2, [first[1], '21']],
      [firstSession, 3, [first[2], '40']],
    ]);
    const current = (await history(two, { hist_access_type: 'range', session: 0, start: 1 })) as Row[];
    expect(current.map((r) => r[0])).toEqual([firstSession + 1, firstSession + 1]);

    // the glob matches the whole input: 'restartA*' finds inputs starting with it, '*restartA*' any containing it
    const found = (await history(two, { hist_access_type: 'search', pattern: 'restartA*' })) as Row[];
    expect(found).toEqual([
      [firstSession, 2, first[1]],
      [firstSession, 3, first[2]],
    ]);
    const anywhere = (await history(two, { hist_access_type: 'search', pattern: '*restartA*' })) as Row[];
    expect(anywhere.map((r) => r[2])).toEqual([...first, 'typeof restartA']);
    const newest = (await history(two, { hist_access_type: 'search', pattern: '*restart*', unique: true, n: 2 })) as Row[];
    expect(newest.map((r) => r[2])).toEqual(['const restartB = 1', 'typeof restartA']);
    expect(two.kernel.stderr()).not.toContain('history:');
  } finally {
    await two.stop();
  }

  const three = await start();
  try {
    const byNumber = (await history(three, { hist_access_type: 'range', session: firstSession, start: 1 })) as Row[];
    expect(byNumber.map((r) => r[2])).toEqual(first);
    const two = (await history(three, { hist_access_type: 'range', session: -1, start: 1 })) as Row[];
    expect(two.map((r) => r[0])).toEqual([firstSession + 1, firstSession + 1]);
  } finally {
    await three.stop();
  }
});

test('test kernels without OPSBOOK_HISTORY_FILE keep history next to their connection file', async () => {
  const k = await startTestKernel();
  try {
    await run(k, ['"default location"']);
    const rows = (await history(k, { hist_access_type: 'tail', n: 1 })) as Row[];
    expect(rows).toEqual([[1, 1, '"default location"']]);
    const own = path.join(String(k.kernel.dir), 'history.jsonl');
    const written = () => existsSync(own) && readFileSync(own, 'utf8').includes('default location');
    for (let i = 0; i < 100 && !written(); i += 1) await new Promise((r) => setTimeout(r, 20));
    expect(readFileSync(own, 'utf8')).toContain('default location');
  } finally {
    await k.stop();
  }
});

test('a result of an input not stored in history does not become the output of the line before it', async () => {
  const k = await startTestKernel();
  try {
    await run(k, ['"stored"']);
    expect((await k.client.execute('"not stored"', { store_history: false })).reply.content.status).toBe('ok');
    expect(await history(k, { hist_access_type: 'tail', n: 1, output: true })).toEqual([[expect.any(Number), 1, ['"stored"', "'stored'"]]]);
  } finally {
    await k.stop();
  }
});

test('an existing history file with a wider mode (0644) is made private (0600) when the kernel writes to it', async () => {
  const wide = path.join(dir, 'wide', 'history.jsonl');
  mkdirSync(path.dirname(wide), { recursive: true });
  writeFileSync(wide, `${JSON.stringify({ session: 1, line: 1, input: 'const token = "old secret"' })}\n`, { mode: 0o644 });
  chmodSync(wide, 0o644); // whatever the umask made of it
  const k = await startTestKernel({ env: { OPSBOOK_HISTORY_FILE: wide } });
  try {
    await run(k, ['"new input"']);
  } finally {
    await k.stop(); // shutdown flushes the history
  }
  expect(readFileSync(wide, 'utf8')).toContain('new input');
  expect(statSync(wide).mode & 0o777).toBe(0o600);
  expect(k.kernel.stderr()).not.toContain('history:');
});
