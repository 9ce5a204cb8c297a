// The Io: the one interface through which anything a cell or a magic does reaches the notebook.
// kernel/io/ is the whole contract between the kernel and the magics (this interface, the error classes, HTML
// escaping, and how the kernel calls the magics: magics.ts): magics/ imports from this folder and from nothing
// else in kernel/, and kernel/ imports magics/ only in the cell thread's composition root
// (kernel/executor/cell-thread/magics.ts).
import type { MimeBundle } from '../protocol/messages';

export interface DisplayOptions {
  /** A display id; reusing it lets later `update` calls replace this output in place. */
  id?: string;
  metadata?: Record<string, unknown>;
}

export interface DisplayHandle {
  readonly id: string;
  update(bundle: MimeBundle, metadata?: Record<string, unknown>): void;
  /** Replaces the output with nothing (an empty bundle). */
  clear(): void;
}

export interface InputOptions {
  password?: boolean;
}

/** What the ops magics report for the kernel's metrics (kernel/metrics.ts): magics run, builds, deploys. */
export type OpsEvent =
  | { kind: 'magic'; name: string; seconds: number; outcome: 'ok' | 'usage' | 'error' | 'interrupted' }
  | { kind: 'build'; seconds: number; outcome: 'ok' | 'error' }
  | { kind: 'deploy' | 'rollback'; service: string; outcome: 'deployed' | 'failed' | 'rolled back' }
  /**
   * A service restored: the first successful deploy or rollback after a failure, seconds since that failure; or a
   * canary rolled back by its analyses, seconds from its first request to every request on the old version again.
   */
  | { kind: 'restore'; service: string; seconds: number };

export interface Io {
  stream(name: 'stdout' | 'stderr', text: string): void;
  display(bundle: MimeBundle, options?: DisplayOptions): DisplayHandle;
  clearOutput(wait?: boolean): void;
  /** Asks the frontend for a line of input; rejects with StdinNotAllowedError when the frontend cannot answer. */
  input(prompt: string, options?: InputOptions): Promise<string>;
  /** Fires when the user interrupts the cell that owns this Io. */
  readonly signal: AbortSignal;
  /**
   * The notebook cell that runs: JupyterLab's cellId; from frontends that send none (classic Notebook, nbclient) a
   * key of the cell's code, so re-running the same code counts as re-running the same cell.
   */
  readonly cellId?: string;
  /** Counts an ops event in the kernel's metrics (served when OPSBOOK_METRICS_PORT is set). */
  record?(event: OpsEvent): void;
  /**
   * Makes an interrupt's answer wait for `work`, work that must end before another cell may run (a deploy rolling
   * back and releasing its lock): the signal still fires at once, but the cell answers KeyboardInterrupt only once
   * `work` has settled, or `limitMs` after the interrupt, saying on stderr that `what` still runs. A second
   * interrupt answers at once. Returns `work`. Absent (an Io outside a cell): nothing waits.
   */
  holdInterrupt?<T>(work: Promise<T>, what: string, limitMs: number): Promise<T>;
}

export class StdinNotAllowedError extends Error {
  override name = 'StdinNotAllowedError';
  constructor() {
    super('input was requested, but this frontend does not accept input (allow_stdin is false); pass the value as a parameter instead');
  }
}

export class InterruptedError extends Error {
  override name = 'KeyboardInterrupt';
  constructor() {
    super('interrupted by the user');
  }
}
