// The worker-side Io: one CellIo per request. Stream writes are batched (flushed by size or age, and always
// before the reply), output beyond a limit is dropped with one visible notice, and everything carries the
// id of the request that caused it, found through AsyncLocalStorage so late async output lands in its cell. An
// interrupt's answer may wait, bounded, for work a magic holds (holdInterrupt: a deploy rolling back).
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash, randomUUID } from 'node:crypto';
import type { MimeBundle } from '../../protocol/messages';
import { DisplayHandle, DisplayOptions, InputOptions, InterruptedError, Io, OpsEvent, StdinNotAllowedError } from '../../io/io';
import type { ToMain } from '../thread-messages';

export type Post = (message: ToMain) => void;

const FLUSH_BYTES = 256 * 1024;
const FLUSH_AGE_MS = 50;
const DEFAULT_LIMIT_MB = 32;

let cachedLimit: { setting: string | undefined; bytes: number } | undefined;
function outputLimitBytes(): number {
  const setting = process.env.OPSBOOK_MAX_OUTPUT_MB;
  if (cachedLimit === undefined || cachedLimit.setting !== setting) {
    const mb = Number(setting);
    cachedLimit = { setting, bytes: (Number.isFinite(mb) && mb > 0 ? mb : DEFAULT_LIMIT_MB) * 1024 * 1024 };
  }
  return cachedLimit.bytes;
}

/** Work an interrupt's answer waits for: settles (never rejects) when the work does. */
interface HeldWork {
  done: Promise<void>;
  what: string;
  limitMs: number;
}

export class CellIo implements Io {
  private readonly controller = new AbortController();
  private pendingName: 'stdout' | 'stderr' | undefined;
  private pending: string[] = [];
  private pendingBytes = 0;
  private firstPendingAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private written = 0;
  private dropped = 0;
  private readonly limit = outputLimitBytes();
  private readonly inputs = new Map<string, { resolve: (v: string) => void; reject: (e: Error) => void }>();
  private codeKey: string | undefined;
  /** Work an interrupt's answer waits for (see holdInterrupt). */
  private readonly held = new Set<HeldWork>();

  constructor(
    readonly requestId: string,
    private readonly post: Post,
    private readonly options: { silent: boolean; allowStdin: boolean; cellId?: string; code?: string },
  ) {}

  record(event: OpsEvent): void {
    this.post({ type: 'metric', event });
  }

  /**
   * The notebook cell this request runs: JupyterLab's `cellId` metadata; where the frontend sends none (classic
   * Notebook, nbclient), a key of the cell's code, so re-running the same code counts as re-running the same cell
   * (what an output's owner needs: magics/plotly-library). Computed only when asked.
   */
  get cellId(): string | undefined {
    const { cellId, code } = this.options;
    if (cellId !== undefined || code === undefined) return cellId;
    this.codeKey ??= `code-${createHash('sha256').update(code).digest('hex').slice(0, 16)}`;
    return this.codeKey;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get interrupted(): boolean {
    return this.controller.signal.aborted;
  }

  stream(name: 'stdout' | 'stderr', text: string): void {
    if (this.options.silent || text.length === 0) return;
    if (this.written >= this.limit) {
      this.dropped += Buffer.byteLength(text);
      return;
    }
    if (this.pendingName !== name) this.flush();
    const size = Buffer.byteLength(text);
    this.written += size;
    this.pendingName = name;
    this.pending.push(text);
    this.pendingBytes += size;
    const now = Date.now();
    if (this.pending.length === 1) {
      this.firstPendingAt = now;
      this.timer = setTimeout(() => this.flush(), FLUSH_AGE_MS);
    }
    if (this.pendingBytes >= FLUSH_BYTES || now - this.firstPendingAt >= FLUSH_AGE_MS) this.flush();
    if (this.written >= this.limit) {
      this.flush();
      this.emit('stream', {
        name: 'stderr',
        text: `\n[opsbook] output limit of ${Math.round(this.limit / 1048576)} MiB reached: the rest of this cell's output is discarded (OPSBOOK_MAX_OUTPUT_MB changes the limit).\n`,
      });
    }
  }

  /** Sends batched stream text now. Called before any other output and before the reply. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.pendingName || this.pending.length === 0) return;
    const text = this.pending.join('');
    const name = this.pendingName;
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingName = undefined;
    this.emit('stream', { name, text });
  }

  /** Called when the cell's reply is sent: reports how much output the limit discarded. */
  finish(): void {
    this.flush();
    if (this.dropped > 0) {
      this.emit('stream', { name: 'stderr', text: `[opsbook] ${this.dropped} bytes of output were discarded.\n` });
      this.dropped = 0;
    }
  }

  display(bundle: MimeBundle, options: DisplayOptions = {}): DisplayHandle {
    const id = options.id ?? randomUUID();
    this.emit('display_data', { data: bundle, metadata: options.metadata ?? {}, transient: { display_id: id } });
    // an update belongs to the request that makes it (a later cell may update this display), as in ipykernel
    const owner = (): CellIo => currentCell.getStore() ?? this;
    return {
      id,
      update: (next: MimeBundle, metadata?: Record<string, unknown>) =>
        owner().emit('update_display_data', { data: next, metadata: metadata ?? {}, transient: { display_id: id } }),
      clear: () => owner().emit('update_display_data', { data: { 'text/plain': '' }, metadata: {}, transient: { display_id: id } }),
    };
  }

  clearOutput(wait = false): void {
    this.emit('clear_output', { wait });
  }

  /** Sends an IOPub message owned by this request, after any batched stream text. */
  emit(msgType: string, content: Record<string, unknown>, metadata?: Record<string, unknown>): void {
    if (this.options.silent) return;
    if (msgType !== 'stream') this.flush();
    this.post({ type: 'iopub', id: this.requestId, msgType, content, metadata });
  }

  input(prompt: string, options: InputOptions = {}): Promise<string> {
    if (!this.options.allowStdin) return Promise.reject(new StdinNotAllowedError());
    if (this.interrupted) return Promise.reject(new InterruptedError());
    this.flush();
    const inputId = randomUUID();
    return new Promise<string>((resolve, reject) => {
      this.inputs.set(inputId, { resolve, reject });
      this.post({ type: 'input_request', id: this.requestId, inputId, prompt: String(prompt), password: options.password === true });
    });
  }

  /** Delivers an input_reply (or its failure) to the waiting input() call. */
  answerInput(inputId: string, value: string | undefined, error: string | undefined): boolean {
    const waiting = this.inputs.get(inputId);
    if (!waiting) return false;
    this.inputs.delete(inputId);
    if (error !== undefined) waiting.reject(new Error(error));
    else waiting.resolve(value ?? '');
    return true;
  }

  holdInterrupt<T>(work: Promise<T>, what: string, limitMs: number): Promise<T> {
    const entry: HeldWork = { done: work.then(() => undefined, () => undefined), what, limitMs };
    this.held.add(entry);
    void entry.done.then(() => this.held.delete(entry));
    return work;
  }

  /**
   * After an interrupt: resolves once every held work has settled, each bounded by its limit from now (one that runs
   * past it is said on stderr); undefined when nothing is held, so the answer need not wait.
   */
  heldWork(): Promise<void> | undefined {
    if (this.held.size === 0) return undefined;
    return Promise.all(
      [...this.held].map(async ({ done, what, limitMs }) => {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), limitMs)));
        const outcome = await Promise.race([done, late]);
        clearTimeout(timer);
        if (outcome === 'late') this.emit('stream', { name: 'stderr', text: `[opsbook] ${what} still runs ${Math.round(limitMs / 1000)} s after the interrupt: the cell answers now, the work goes on in the background.\n` });
      }),
    ).then(() => undefined);
  }

  /** What a second interrupt says when it answers before the held work is done. */
  heldDescription(): string | undefined {
    return this.held.size === 0 ? undefined : [...this.held].map((h) => h.what).join(', ');
  }

  interrupt(): void {
    if (this.interrupted) return;
    this.controller.abort(new InterruptedError());
    for (const { reject } of this.inputs.values()) reject(new InterruptedError());
    this.inputs.clear();
  }
}

/** Which request's Io the running code belongs to. */
export const currentCell = new AsyncLocalStorage<CellIo>();
