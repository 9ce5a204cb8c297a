// The history file: input history kept across kernel restarts in a JSON-lines file (history.ts answers the
// history_request queries over it).
//
// The file holds one record per executed input, {session, line, input, output?}, appended as the kernel goes
// (an input is written just after it runs, and again with its output when an execute_result arrives after that
// write: the later record for the same session, line and input wins). Inputs may contain secrets (tokens pasted into a cell), so the file
// is created with mode 0600 (an existing one is narrowed to 0600 when first written to) and its folder with 0700. Sessions are numbered like IPython's: a kernel's session is
// 1 + the highest session in the file, claimed under a lock file with a marker record, so kernels started
// together get different numbers. Writing never blocks or crashes the kernel: appends are queued and
// asynchronous, and a location that cannot be read or written logs one warning and leaves history in memory.
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { log } from './log';

export interface HistoryEntry {
  session: number;
  line: number;
  input: string;
  /** text/plain of the line's execute_result, when it had one. */
  output?: string;
}

/** A history_reply row: (session, line, input), or (session, line, (input, output)) when output was asked for. */
export type HistoryRow = [number, number, string | [string, string | null]];

/** When the file holds more records than this at start, it is rewritten with the newest HISTORY_KEEP entries. */
export const HISTORY_MAX_RECORDS = 10_000;
/** Trimming keeps less than the bound so that a file near it is not rewritten at every start. */
const HISTORY_KEEP = 0.9;
/** Outputs longer than this are kept in memory for the session but not written to the file. */
const MAX_STORED_OUTPUT = 64 * 1024;
/**
 * Appends within this window are written together: a burst of cells (a notebook run top to bottom) costs one
 * file write, not an open/append/close per cell on the protocol thread. Shutdown flushes at once.
 */
const COALESCE_MS = 50;
/** How long a kernel waits for another one's session claim, and when a lock file counts as left by a dead one. */
const LOCK_WAIT_MS = 2000;
const LOCK_STALE_MS = 5000;

/**
 * IPython-style glob over the whole input (`*` any run, `?` one character), matched without backtracking
 * blow-up: the classic two-pointer wildcard match, O(pattern x input) at worst. A regex built from a
 * pattern like `*a*a*a...b` would take exponential time on the protocol thread.
 */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === text[t])) {
      p += 1;
      t += 1;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p;
      resume = t;
      p += 1;
    } else if (star >= 0) {
      p = star + 1;
      resume += 1;
      t = resume;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p += 1;
  return p === pattern.length;
}

/**
 * Where the history lives: `$OPSBOOK_HISTORY_FILE`, else the user's data folder: `$XDG_DATA_HOME` (when absolute)
 * or `~/.local/share` on Linux, `~/Library/Application Support` on macOS, `%APPDATA%` on Windows, plus
 * `opsbook/history.jsonl`.
 */
export function historyFile(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform, home = os.homedir()): string {
  if (env.OPSBOOK_HISTORY_FILE) return env.OPSBOOK_HISTORY_FILE;
  return path.join(dataHome(env, platform, home), 'opsbook', 'history.jsonl');
}

function dataHome(env: NodeJS.ProcessEnv, platform: NodeJS.Platform, home: string): string {
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support');
  if (platform === 'win32') return env.APPDATA || path.join(home, 'AppData', 'Roaming');
  const xdg = env.XDG_DATA_HOME;
  return xdg && path.isAbsolute(xdg) ? xdg : path.join(home, '.local', 'share');
}

function isCount(v: unknown, min: number): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= min;
}

/** One line of the file as an entry, or undefined for a blank, corrupt or truncated line. */
export function parseRecord(line: string): HistoryEntry | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!value || typeof value !== 'object') return undefined;
  const { session, line: n, input, output } = value as Record<string, unknown>;
  if (!isCount(session, 1) || !isCount(n, 0) || typeof input !== 'string') return undefined;
  return typeof output === 'string' ? { session, line: n, input, output } : { session, line: n, input };
}

function toRecord(entry: HistoryEntry): string {
  const { session, line, input, output } = entry;
  const keep = output !== undefined && output.length <= MAX_STORED_OUTPUT;
  return `${JSON.stringify(keep ? { session, line, input, output } : { session, line, input })}\n`;
}

function bySessionAndLine(a: HistoryEntry, b: HistoryEntry): number {
  return a.session - b.session || a.line - b.line;
}

/** The record a kernel writes when it claims its session number, before it has run anything. */
function sessionMarker(session: number): string {
  return `${JSON.stringify({ session, started: new Date().toISOString() })}\n`;
}

/** The session a line claims, when it is a session marker. */
function markerSession(line: string): number | undefined {
  if (!line.includes('"started"')) return undefined;
  try {
    const value = JSON.parse(line) as Record<string, unknown>;
    return isCount(value.session, 1) && typeof value.started === 'string' && value.line === undefined ? value.session : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The file's valid records, a later record for the same session, line and input replacing the earlier one, and
 * the highest session claimed (by an entry or by a marker of a session that has not run anything yet).
 */
export function parseRecords(text: string): { entries: HistoryEntry[]; records: number; maxSession: number } {
  const latest = new Map<string, HistoryEntry>();
  let records = 0;
  let maxSession = 0;
  for (const line of text.split('\n')) {
    const entry = parseRecord(line);
    if (!entry) {
      maxSession = Math.max(maxSession, markerSession(line) ?? 0);
      continue;
    }
    records += 1;
    maxSession = Math.max(maxSession, entry.session);
    latest.set(`${entry.session}\u0000${entry.line}\u0000${entry.input}`, entry);
  }
  return { entries: [...latest.values()].sort(bySessionAndLine), records, maxSession };
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The folders between the nearest existing ancestor of `dir` and `dir`, outermost first. */
async function missingFolders(dir: string): Promise<string[]> {
  const missing: string[] = [];
  for (let d = dir; d !== path.dirname(d); d = path.dirname(d)) {
    const code = await fsp.stat(d).then(() => undefined, (e: NodeJS.ErrnoException) => e.code);
    if (code !== 'ENOENT') break;
    missing.unshift(d);
  }
  return missing;
}

/**
 * `mkdir -p` with mode 0700, one level at a time. Not `fs.mkdir(..., { recursive: true })`: on Node 20 that
 * spins forever on a file system that answers ENOENT for a folder whose parent exists (e.g. /proc).
 */
async function makeFolders(dir: string): Promise<void> {
  for (const d of await missingFolders(dir)) {
    await fsp.mkdir(d, { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }
}

/** The history file: read once, trimmed when over the bound, then appended to through a queue. */
export class HistoryFile {
  /** Entries waiting to be written, in order; an entry whose output arrives before it is written is written once. */
  private readonly pending = new Set<HistoryEntry>();
  private timer: NodeJS.Timeout | undefined;
  private writing = false;
  private disabled = false;
  private folderMade = false;
  /** Whether this kernel has narrowed the file's mode to 0600 (once, at its first write). */
  private madePrivate = false;
  /** A newline to write first when the file ends in a truncated record, so the next record starts a line. */
  private separator = '';
  private readonly idle: Array<() => void> = [];

  constructor(
    readonly file: string,
    private readonly maxRecords = HISTORY_MAX_RECORDS,
  ) {}

  /**
   * Every entry in the file, ordered by session and line, and this kernel's session number: 1 + the highest
   * claimed. Kernels started together (a restored JupyterLab workspace) must not share a number, so the claim
   * (read, trim when over the bound, append a session marker) happens under a lock file next to the history.
   */
  async claimSession(): Promise<{ entries: HistoryEntry[]; session: number }> {
    const unlock = await this.lock();
    try {
      const text = await this.read();
      if (text === undefined) return { entries: [], session: 1 };
      this.separator = text.length > 0 && !text.endsWith('\n') ? '\n' : '';
      const { entries, records, maxSession } = parseRecords(text);
      const session = maxSession + 1;
      let kept = entries;
      if (records > this.maxRecords) {
        kept = entries.slice(-Math.floor(this.maxRecords * HISTORY_KEEP));
        await this.rewrite(kept);
      }
      await this.write(sessionMarker(session));
      return { entries: kept, session };
    } finally {
      await unlock();
    }
  }

  /**
   * An exclusive lock file (O_EXCL). One left by a kernel that died is taken over once it is LOCK_STALE_MS old;
   * after LOCK_WAIT_MS the claim goes ahead without it (a duplicate session number is better than no history).
   */
  private async lock(): Promise<() => Promise<void>> {
    const lockFile = `${this.file}.lock`;
    const deadline = Date.now() + LOCK_WAIT_MS;
    try {
      await makeFolders(path.dirname(this.file));
      this.folderMade = true;
    } catch {
      return async () => undefined; // reading and writing will report it
    }
    for (;;) {
      try {
        const handle = await fsp.open(lockFile, 'wx', 0o600);
        await handle.writeFile(String(process.pid)).finally(() => handle.close());
        return () => fsp.rm(lockFile, { force: true }).catch(() => undefined);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || Date.now() > deadline) return async () => undefined;
        const age = await fsp.stat(lockFile).then((st) => Date.now() - st.mtimeMs, () => 0);
        if (age > LOCK_STALE_MS) await fsp.rm(lockFile, { force: true }).catch(() => undefined);
        else await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 20));
      }
    }
  }

  /** Queues one record (written within COALESCE_MS); never throws, never waits. */
  append(entry: HistoryEntry): void {
    if (this.disabled) return;
    this.pending.add(entry);
    if (!this.writing && !this.timer) {
      this.timer = setTimeout(() => void this.drain(), COALESCE_MS);
      this.timer.unref();
    }
  }

  /** Starts writing what is queued now and resolves once every record appended so far is written (or dropped). */
  flushed(): Promise<void> {
    if (this.timer) void this.drain();
    if (!this.writing) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private async read(): Promise<string | undefined> {
    try {
      return await fsp.readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
      this.disable('cannot read', e);
      return undefined;
    }
  }

  /** Replaces the file atomically: a private temp file next to it, then rename. */
  private async rewrite(entries: HistoryEntry[]): Promise<void> {
    const temp = `${this.file}.${process.pid}.tmp`;
    try {
      await fsp.rm(temp, { force: true });
      await fsp.writeFile(temp, entries.map(toRecord).join(''), { mode: 0o600, flag: 'wx' });
      await fsp.rename(temp, this.file);
      this.separator = '';
    } catch (e) {
      await fsp.rm(temp, { force: true }).catch(() => undefined);
      this.disable('cannot rewrite', e);
    }
  }

  private async drain(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.writing = true;
    while (this.pending.size > 0 && !this.disabled) {
      const chunk = Array.from(this.pending, toRecord).join('');
      this.pending.clear();
      await this.write(chunk);
    }
    this.writing = false;
    for (const resolve of this.idle.splice(0)) resolve();
  }

  private async write(chunk: string): Promise<void> {
    try {
      if (!this.folderMade) await makeFolders(path.dirname(this.file));
      this.folderMade = true;
      const handle = await fsp.open(this.file, 'a', 0o600);
      try {
        if (!this.madePrivate) await this.makePrivate(handle);
        await handle.appendFile(this.separator + chunk);
      } finally {
        await handle.close();
      }
      this.separator = '';
    } catch (e) {
      this.disable('cannot write', e);
    }
  }

  /**
   * The mode given to open() applies only to a file it creates: a history file made earlier with a wider mode
   * (0644 by an older kernel, a copy, a restore) is narrowed to 0600 the first time this kernel writes to it.
   * A file the kernel cannot chmod (another owner) warns once and is still written.
   */
  private async makePrivate(handle: FileHandle): Promise<void> {
    this.madePrivate = true;
    try {
      const { mode } = await handle.stat();
      if ((mode & 0o777) !== 0o600) await handle.chmod(0o600);
    } catch (e) {
      log.warn(`history: cannot make ${this.file} private (mode 0600) (${errorText(e)}); other users may be able to read its inputs`);
    }
  }

  /** The one warning: from here on this session's history stays in memory. */
  private disable(what: string, e: unknown): void {
    if (this.disabled) return;
    this.disabled = true;
    this.pending.clear();
    log.warn(`history: ${what} ${this.file} (${errorText(e)}); this session's input history is kept in memory only (set OPSBOOK_HISTORY_FILE to move it)`);
  }
}
