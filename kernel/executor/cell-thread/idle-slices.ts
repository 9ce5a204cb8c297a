// Optional work for the cell thread, done in small synchronous slices only while the thread is idle: not while a
// request runs, and not until the kernel has been quiet (no request arriving or finishing, on this thread or on
// the protocol thread, which answers some requests itself) for `quietMs`. Between
// two slices the event loop turns (setImmediate), so a request that arrives during a slice is taken before the
// next one, and the rest waits for the next quiet spell: a client sending requests back to back never meets it
// again. The warm-up (warm-up.ts) is its one user.

export interface IdleSlicesOptions {
  /** Whether a request is being served (a cell that awaits something is still running). */
  busy(): boolean;
  /** How long the thread must have been quiet before a slice runs, and before the first one. */
  quietMs: number;
  /**
   * How many requests the kernel has received so far, on any thread: a change counts as activity. The protocol
   * thread answers kernel_info itself, and a frontend's first cell follows it closely (jupyter_client sends it once
   * IOPub has been quiet for 0.2 s after kernel_info_reply).
   */
  requestsReceived?: () => number;
  /** Called after the last slice ran. */
  onDone?: () => void;
  /** The clock quiet time is measured on (tests pass their own); performance.now by default. */
  now?: () => number;
}

export class IdleSlices {
  private lastActivity: number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private readonly slices: Iterator<() => void>;
  private finished = false;
  private requestsSeen: number;

  constructor(
    slices: Iterable<() => void>,
    private readonly options: IdleSlicesOptions,
  ) {
    this.slices = slices[Symbol.iterator]();
    this.now = options.now ?? (() => performance.now());
    this.lastActivity = this.now();
    this.requestsSeen = options.requestsReceived?.() ?? 0;
  }

  /** Starts the slices once the thread has been quiet for `quietMs` from now. */
  start(): void {
    this.activity();
  }

  /** A request arrived or finished: the slices wait until the thread has been quiet for `quietMs` again. */
  activity(): void {
    if (this.finished) return;
    this.lastActivity = this.now();
    if (this.immediate) {
      clearImmediate(this.immediate);
      this.immediate = undefined;
    }
    if (!this.timer) this.waitQuiet(this.options.quietMs);
  }

  /** Whether every slice has run. */
  get done(): boolean {
    return this.finished;
  }

  private waitQuiet(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.step();
    }, ms);
    this.timer.unref();
  }

  private step(): void {
    const received = this.options.requestsReceived?.() ?? 0;
    if (received !== this.requestsSeen) {
      // requests came meanwhile (when exactly is not known): quiet from now on
      this.requestsSeen = received;
      this.lastActivity = this.now();
    }
    const quietFor = this.now() - this.lastActivity;
    if (this.options.busy() || quietFor < this.options.quietMs) {
      this.waitQuiet(Math.max(1, this.options.quietMs - quietFor));
      return;
    }
    const next = this.slices.next();
    if (next.done) {
      this.finished = true;
      this.options.onDone?.();
      return;
    }
    try {
      next.value();
    } catch {
      // optional work only: a failing slice is skipped
    }
    // not unref'd: an unref'd immediate does not stop the event loop from blocking in its poll for messages, so
    // on an otherwise quiet thread the next slice would wait for the next request
    this.immediate = setImmediate(() => {
      this.immediate = undefined;
      this.step();
    });
  }
}
