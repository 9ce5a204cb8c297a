// Input history for history_request: tail, range and glob search, with outputs, over this session's inputs and
// earlier sessions' (loaded from the file history-file.ts keeps), numbered like IPython's sessions and lines.
import { HistoryEntry, HistoryFile, HistoryRow, errorText, globMatch, historyFile } from './history-file';
import { log } from './log';

/** `tail` without `n` returns this many rows (IPython's get_tail default). */
const TAIL_DEFAULT = 10;
/** How long shutdown waits for queued writes. */
const FLUSH_TIMEOUT_MS = 1000;

function integer(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : undefined;
}

/** The newest n rows; a negative n means no limit (SQLite's LIMIT, which IPython uses). */
function newest(rows: HistoryEntry[], n: number): HistoryEntry[] {
  return n < 0 ? rows : rows.slice(Math.max(0, rows.length - n));
}

/** One row per distinct input, the newest occurrence, in the order of those occurrences. */
function newestOfEach(rows: HistoryEntry[]): HistoryEntry[] {
  const last = new Map<string, HistoryEntry>();
  for (const e of rows) {
    last.delete(e.input);
    last.set(e.input, e);
  }
  return [...last.values()];
}

function search(entries: HistoryEntry[], c: Record<string, unknown>): HistoryEntry[] {
  const pattern = typeof c.pattern === 'string' ? c.pattern : '*';
  let rows = entries.filter((e) => globMatch(pattern, e.input));
  if (c.unique === true) rows = newestOfEach(rows);
  const n = integer(c.n);
  return n === undefined ? rows : newest(rows, n);
}

/** IPython counts a negative start or stop back from the end of the session. */
function fromEnd(v: number, end: number): number {
  return v < 0 ? v + end : v;
}

export class History {
  /** Earlier sessions' entries (once loaded), then this session's, ordered by session and line. */
  private entries: HistoryEntry[] = [];
  private number: number;
  /** The file, once it is loaded and this session has its number; until then inputs are only kept. */
  private writer: HistoryFile | undefined;
  private ready: Promise<void> = Promise.resolve();

  /** An in-memory history for one session. */
  constructor(session = 1) {
    this.number = session;
  }

  /** A history backed by `file`: loads it in the background; inputs added meanwhile are written once it is. */
  static persistent(file: HistoryFile): History {
    const history = new History(0);
    history.ready = history.open(file);
    return history;
  }

  /** The kernel's history, in the file `historyFile()` names; memory only if that cannot even be named. */
  static forKernel(env: NodeJS.ProcessEnv = process.env): History {
    try {
      return History.persistent(new HistoryFile(historyFile(env)));
    } catch (e) {
      log.warn(`history: no history file (${errorText(e)}); input history is kept in memory only`);
      return new History(1);
    }
  }

  get session(): number {
    return this.number;
  }

  /** Resolves once earlier sessions are loaded and this session has its number. */
  loaded(): Promise<void> {
    return this.ready;
  }

  /** Waits (bounded) for queued writes, for shutdown. */
  async flush(timeoutMs = FLUSH_TIMEOUT_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([this.ready.then(() => this.writer?.flushed()), timeout]);
    clearTimeout(timer);
  }

  add(line: number, input: string): void {
    const entry = { session: this.number, line, input };
    this.entries.push(entry);
    this.writer?.append(entry);
  }

  recordOutput(line: number, output: string): void {
    const entry = this.entries.findLast((e) => e.session === this.number && e.line === line);
    if (!entry) return;
    entry.output = output;
    this.writer?.append(entry);
  }

  /** Rows as the spec wants them: (session, line, input), or (session, line, (input, output)) with `output`. */
  query(content: Record<string, unknown>): HistoryRow[] {
    const rows = this.select(content);
    if (content.output === true) return rows.map((e) => [e.session, e.line, [e.input, e.output ?? null]]);
    return rows.map((e) => [e.session, e.line, e.input]);
  }

  private async open(file: HistoryFile): Promise<void> {
    const { entries: past, session } = await file.claimSession().catch(() => ({ entries: [], session: 1 }));
    this.number = session;
    for (const entry of this.entries) {
      entry.session = this.number;
      file.append(entry);
    }
    this.entries = [...past, ...this.entries];
    this.writer = file;
  }

  private select(c: Record<string, unknown>): HistoryEntry[] {
    switch (c.hist_access_type) {
      case 'tail':
        return newest(this.entries, integer(c.n) ?? TAIL_DEFAULT);
      case 'range':
        return this.range(c);
      case 'search':
        return search(this.entries, c);
      default:
        return [];
    }
  }

  /** One session's lines start..stop-1: session 0 or none is this one, negative counts back (-1 the previous). */
  private range(c: Record<string, unknown>): HistoryEntry[] {
    const asked = integer(c.session) ?? 0;
    const session = asked <= 0 ? this.number + asked : asked;
    const lines = this.entries.filter((e) => e.session === session);
    const end = lines.reduce((max, e) => Math.max(max, e.line), 0) + 1;
    const start = fromEnd(integer(c.start) ?? 0, end);
    const stop = integer(c.stop) || 0;
    const before = stop === 0 ? Infinity : fromEnd(stop, end);
    return lines.filter((e) => e.line >= start && e.line < before);
  }
}
