// Unit tests of history_request queries (tail, range, search with unique and n, output=true) and of the history file.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { History } from '../../kernel/history';
import { HistoryEntry, HistoryFile, historyFile, parseRecords } from '../../kernel/history-file';
import { log } from '../../kernel/log';

function filled(): History {
  const h = new History(1);
  ['a = 1', 'b = 2', 'a = 1', 'print(a)', 'a + b'].forEach((code, i) => h.add(i + 1, code));
  h.recordOutput(5, '3');
  return h;
}

test('tail with n', () => {
  expect(filled().query({ hist_access_type: 'tail', n: 2 })).toEqual([[1, 4, 'print(a)'], [1, 5, 'a + b']]);
});

test('range is start inclusive, stop exclusive', () => {
  expect(filled().query({ hist_access_type: 'range', session: 0, start: 2, stop: 4 })).toEqual([[1, 2, 'b = 2'], [1, 3, 'a = 1']]);
});

test('search matches the whole input with glob patterns; unique keeps the latest of each', () => {
  expect(filled().query({ hist_access_type: 'search', pattern: 'a*' }).map((r) => r[1])).toEqual([1, 3, 5]);
  expect(filled().query({ hist_access_type: 'search', pattern: 'a*', unique: true }).map((r) => r[1])).toEqual([3, 5]);
  expect(filled().query({ hist_access_type: 'search', pattern: '*', n: 1 }).map((r) => r[1])).toEqual([5]);
});

test('output=true pairs each input with its result text or null', () => {
  expect(filled().query({ hist_access_type: 'tail', n: 2, output: true })).toEqual([[1, 4, ['print(a)', null]], [1, 5, ['a + b', '3']]]);
});

test('glob matching stays polynomial on hostile patterns (a backtracking regex would not finish)', () => {
  const { globMatch } = jest.requireActual('../../kernel/history-file') as typeof import('../../kernel/history-file');
  expect(globMatch('a*c', 'abbbc')).toBe(true);
  expect(globMatch('a?c', 'abc')).toBe(true);
  expect(globMatch('a*', 'b')).toBe(false);
  expect(globMatch('', '')).toBe(true);
  expect(globMatch('*', '')).toBe(true);
  expect(globMatch(`${'*a'.repeat(20)}*b`, 'a'.repeat(40))).toBe(false);
  expect(globMatch(`${'*a'.repeat(200)}*b`, 'a'.repeat(5000))).toBe(false);
});

test('n = 0 returns nothing, a negative n no limit (SQLite LIMIT); tail without n returns the last 10', () => {
  expect(filled().query({ hist_access_type: 'tail', n: 0 })).toEqual([]);
  expect(filled().query({ hist_access_type: 'search', pattern: '*', n: -1 })).toHaveLength(5);
  const h = new History(1);
  for (let i = 1; i <= 15; i += 1) h.add(i, `cell ${i}`);
  expect(h.query({ hist_access_type: 'tail' }).map((r) => r[1])).toEqual([6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
});

test('range: stop omitted or 0 runs to the end; negative start/stop count back from the end; unknown types return nothing', () => {
  expect(filled().query({ hist_access_type: 'range', start: 4 }).map((r) => r[1])).toEqual([4, 5]);
  expect(filled().query({ hist_access_type: 'range', session: 0, start: 2, stop: 0 }).map((r) => r[1])).toEqual([2, 3, 4, 5]);
  expect(filled().query({ hist_access_type: 'range', start: -2 }).map((r) => r[1])).toEqual([4, 5]);
  expect(filled().query({ hist_access_type: 'range', start: 1, stop: -3 }).map((r) => r[1])).toEqual([1, 2]);
  expect(filled().query({ hist_access_type: 'range', session: -1 })).toEqual([]);
  expect(filled().query({ hist_access_type: 'nonsense' })).toEqual([]);
});

describe('history file location', () => {
  const home = '/home/u';
  test('OPSBOOK_HISTORY_FILE wins', () => {
    expect(historyFile({ OPSBOOK_HISTORY_FILE: '/t/h.jsonl', XDG_DATA_HOME: '/x' }, 'linux', home)).toBe('/t/h.jsonl');
  });
  test('Linux: $XDG_DATA_HOME when absolute, else ~/.local/share', () => {
    expect(historyFile({ XDG_DATA_HOME: '/x' }, 'linux', home)).toBe('/x/opsbook/history.jsonl');
    expect(historyFile({ XDG_DATA_HOME: 'relative' }, 'linux', home)).toBe('/home/u/.local/share/opsbook/history.jsonl');
    expect(historyFile({}, 'linux', home)).toBe('/home/u/.local/share/opsbook/history.jsonl');
  });
  test('macOS: ~/Library/Application Support', () => {
    expect(historyFile({ XDG_DATA_HOME: '/x' }, 'darwin', home)).toBe('/home/u/Library/Application Support/opsbook/history.jsonl');
  });
});

describe('history file', () => {
  let dir: string;
  let file: string;
  let warn: jest.SpyInstance;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'opsbook-history-'));
    file = path.join(dir, 'data', 'opsbook', 'history.jsonl');
    warn = jest.spyOn(log, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => {
    warn.mockRestore();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A kernel's life: open the file, run `inputs` (with optional outputs), flush. */
  async function session(inputs: Array<string | [string, string]>, at = file, max?: number): Promise<History> {
    const h = History.persistent(new HistoryFile(at, max));
    await h.loaded();
    inputs.forEach((cell, i) => {
      const [input, output] = typeof cell === 'string' ? [cell, undefined] : cell;
      h.add(i + 1, input);
      if (output !== undefined) h.recordOutput(i + 1, output);
    });
    await h.flush();
    return h;
  }

  /** The file's entry records, without the session markers. */
  function records(at = file): HistoryEntry[] {
    return readFileSync(at, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as HistoryEntry & { started?: string }).filter((r) => r.started === undefined);
  }

  test('a missing file is session 1; each restart is the next session and sees the earlier ones', async () => {
    const first = await session(['const a = 1', ['a + 1', '2']]);
    expect(first.session).toBe(1);
    const second = await session(['const b = 2']);
    expect(second.session).toBe(2);
    expect(second.query({ hist_access_type: 'tail', n: 10 })).toEqual([[1, 1, 'const a = 1'], [1, 2, 'a + 1'], [2, 1, 'const b = 2']]);
    expect(second.query({ hist_access_type: 'range', session: -1, output: true })).toEqual([[1, 1, ['const a = 1', null]], [1, 2, ['a + 1', '2']]]);
    expect(second.query({ hist_access_type: 'range', session: 1, start: 2 })).toEqual([[1, 2, 'a + 1']]);
    expect(second.query({ hist_access_type: 'range' })).toEqual([[2, 1, 'const b = 2']]);
    const third = await session([]);
    expect(third.session).toBe(3);
    expect(third.query({ hist_access_type: 'range', session: -2 }).map((r) => r[2])).toEqual(['const a = 1', 'a + 1']);
  });

  test('search spans sessions; unique keeps the newest of each input, n the newest rows', async () => {
    await session(['x = 1', 'x + 1', 'y = 2']);
    const h = await session(['x + 1', 'z']);
    expect(h.query({ hist_access_type: 'search', pattern: 'x*' })).toEqual([[1, 1, 'x = 1'], [1, 2, 'x + 1'], [2, 1, 'x + 1']]);
    expect(h.query({ hist_access_type: 'search', pattern: 'x*', unique: true })).toEqual([[1, 1, 'x = 1'], [2, 1, 'x + 1']]);
    expect(h.query({ hist_access_type: 'search', pattern: '*', unique: true, n: 2 })).toEqual([[2, 1, 'x + 1'], [2, 2, 'z']]);
  });

  test('the file and its folder are private (0600 / 0700): inputs may hold secrets', async () => {
    await session(['const token = "s3cret"']);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
  });

  test('an existing file with a wider mode (0644) is made private (0600) when written to', async () => {
    await session(['const a = 1']);
    chmodSync(file, 0o644);
    await session(['const token = "s3cret"']);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(records().map((r) => r.input)).toEqual(['const a = 1', 'const token = "s3cret"']);
    expect(warn).not.toHaveBeenCalled();
  });

  test('kernels started together claim different sessions; markers are not entries', async () => {
    const kernels = Array.from({ length: 6 }, () => History.persistent(new HistoryFile(file)));
    await Promise.all(kernels.map((h) => h.loaded()));
    expect(kernels.map((h) => h.session).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(existsSync(`${file}.lock`)).toBe(false);
    kernels[0].add(1, 'only this');
    await kernels[0].flush();
    expect(parseRecords(readFileSync(file, 'utf8')).entries).toEqual([{ session: kernels[0].session, line: 1, input: 'only this' }]);
    const next = History.persistent(new HistoryFile(file));
    await next.loaded();
    expect(next.session).toBe(7);
  });

  test('a lock file left by a dead kernel is taken over once stale', async () => {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(`${file}.lock`, '999999');
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${file}.lock`, old, old);
    const h = History.persistent(new HistoryFile(file));
    await h.loaded();
    expect(h.session).toBe(1);
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  test('an output that arrives before the input is written makes one record', async () => {
    await session([['1 + 1', '2']]);
    expect(records()).toEqual([{ session: 1, line: 1, input: '1 + 1', output: '2' }]);
  });

  test('an output that arrives after the input was written is a later record; loading keeps one entry with it', async () => {
    const h = History.persistent(new HistoryFile(file));
    await h.loaded();
    h.add(1, '1 + 1');
    await h.flush();
    h.recordOutput(1, '2');
    await h.flush();
    expect(records()).toEqual([{ session: 1, line: 1, input: '1 + 1' }, { session: 1, line: 1, input: '1 + 1', output: '2' }]);
    const { entries } = parseRecords(readFileSync(file, 'utf8'));
    expect(entries).toEqual([{ session: 1, line: 1, input: '1 + 1', output: '2' }]);
  });

  test('a burst of inputs is written together, shortly after, without a flush', async () => {
    const h = History.persistent(new HistoryFile(file));
    await h.loaded();
    for (let i = 1; i <= 100; i++) h.add(i, `x${i}`);
    expect(existsSync(file) ? records() : []).toEqual([]);
    await new Promise((r) => setTimeout(r, 300));
    expect(records().map((r) => r.input)).toEqual(Array.from({ length: 100 }, (_, i) => `x${i + 1}`));
  });

  test('a huge output stays in memory but is not written', async () => {
    const big = 'x'.repeat(100 * 1024);
    const h = await session([['big()', big]]);
    expect(h.query({ hist_access_type: 'tail', n: 1, output: true })).toEqual([[1, 1, ['big()', big]]]);
    const next = await session([]);
    expect(next.query({ hist_access_type: 'range', session: -1, output: true })).toEqual([[1, 1, ['big()', null]]]);
  });

  test('inputs added before the file is loaded get the session number and are written', async () => {
    await session(['old']);
    const h = History.persistent(new HistoryFile(file));
    h.add(1, 'early');
    h.recordOutput(1, 'out');
    await h.loaded();
    expect(h.session).toBe(2);
    expect(h.query({ hist_access_type: 'tail', output: true })).toEqual([[1, 1, ['old', null]], [2, 1, ['early', 'out']]]);
    await h.flush();
    expect(records().at(-1)).toEqual({ session: 2, line: 1, input: 'early', output: 'out' });
  });

  test('a corrupt or truncated line is skipped, and the next record starts on a line of its own', async () => {
    await session(['good 1', 'good 2']);
    writeFileSync(file, `${readFileSync(file, 'utf8')}not json\n{"session":7,"line":1,"input":"trunc`);
    const h = await session(['after']);
    expect(h.session).toBe(2);
    expect(warn).not.toHaveBeenCalled();
    const again = await session([]);
    expect(again.query({ hist_access_type: 'tail', n: 10 })).toEqual([[1, 1, 'good 1'], [1, 2, 'good 2'], [2, 1, 'after']]);
    expect(readFileSync(file, 'utf8').split('\n').filter((l) => !l.includes('"started"')).at(-2)).toBe('{"session":2,"line":1,"input":"after"}');
  });

  test('a file over the bound is rewritten at start with the newest entries, atomically', async () => {
    for (let s = 0; s < 5; s += 1) await session(['a', 'b', 'c', 'd'], file, 100);
    expect(records()).toHaveLength(20);
    const h = await session([], file, 10);
    expect(h.session).toBe(6);
    const kept = records();
    expect(kept).toHaveLength(9); // 90% of the bound, so that a file near it is not rewritten at every start
    expect(kept[0]).toEqual({ session: 3, line: 4, input: 'd' });
    expect(kept.at(-1)).toEqual({ session: 5, line: 4, input: 'd' });
    expect(h.query({ hist_access_type: 'tail', n: 100 })).toHaveLength(9);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(path.dirname(file))).toEqual(['history.jsonl']);
    await session(['e'], file, 10); // under the bound again: appended, not rewritten
    expect(records()).toHaveLength(10);
  });

  test('an unreadable location warns once and keeps history in memory', async () => {
    writeFileSync(path.join(dir, 'a-file'), '');
    const at = path.join(dir, 'a-file', 'history.jsonl');
    const h = await session(['one', 'two'], at);
    expect(h.session).toBe(1);
    expect(h.query({ hist_access_type: 'tail' }).map((r) => r[2])).toEqual(['one', 'two']);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toContain('memory only');
  });

  test('an unwritable location warns once, keeps history in memory, and never throws', async () => {
    const at = path.join(dir, 'link.jsonl');
    symlinkSync(path.join(dir, 'no-such-folder', 'target.jsonl'), at); // reads as missing, cannot be created
    const h = await session(['one', ['two', '2'], 'three'], at);
    expect(h.query({ hist_access_type: 'tail', output: true })).toEqual([[1, 1, ['one', null]], [1, 2, ['two', '2']], [1, 3, ['three', null]]]);
    h.add(4, 'four');
    await h.flush();
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toContain('cannot write');
  });

  test('a folder that cannot be created fails instead of spinning (Node 20 recursive mkdir loops on /proc)', async () => {
    if (!existsSync('/proc/self')) return;
    const h = await session(['one'], '/proc/opsbook-no-such-folder/history.jsonl');
    expect(h.query({ hist_access_type: 'tail' })).toEqual([[1, 1, 'one']]);
    expect(warn).toHaveBeenCalledTimes(1);
  });

  test('a read-only folder (when not root) warns once', async () => {
    if (process.getuid?.() === 0) return; // root writes anyway
    const ro = path.join(dir, 'ro');
    await session(['x'], path.join(ro, 'h.jsonl'));
    chmodSync(ro, 0o500);
    try {
      await session(['y'], path.join(ro, 'other.jsonl'));
      expect(warn).toHaveBeenCalledTimes(1);
    } finally {
      chmodSync(ro, 0o700);
    }
  });
});
