// The protocol thread's handle on the cell thread (the worker in ./cell-thread/, which runs every cell):
// request/reply over postMessage (./thread-messages.ts), IOPub and input requests routed back by request id,
// interrupts (a message first; if the worker is stuck in synchronous code, V8's terminateExecution through the
// inspector's NodeWorker domain), a heap limit (./heap-limit.ts), and a fresh worker if it dies, with an error
// for the requests it was running that says why (out of memory, or the exit code). This is the only executor
// file that runs on the protocol thread.
import { Worker } from 'node:worker_threads';
import { Session } from 'node:inspector';
import * as path from 'node:path';
import { BEFORE_TERMINATE, CODE_RUNNING } from './thread-messages';
import { HEAP_LIMIT_ENV, cellHeapLimit } from './heap-limit';
import type { CellThreadData, ToMain, ToWorker } from './thread-messages';
import type { OpsEvent } from '../io/io';
import { log } from '../log';

type Command = Extract<ToWorker, { id: string }>;
type CommandOf<T extends Command['type']> = Omit<Extract<Command, { type: T }>, 'id' | 'type'>;
type WorkerReply = Pick<Extract<ToMain, { type: 'reply' }>, 'content' | 'iopub'>;

/** What running a cell answers: the reply content, and the execute_result published with it, if it showed one. */
export interface ExecuteOutcome {
  content: Record<string, unknown>;
  result?: Record<string, unknown>;
}

export interface ExecutorEvents {
  iopub(requestId: string, msgType: string, content: Record<string, unknown>, metadata?: Record<string, unknown>): void;
  inputRequest(requestId: string, inputId: string, prompt: string, password: boolean): void;
  /**
   * The worker died (process.exit in a cell, out of memory...) and was replaced; state is gone. The executes it
   * was running got an `error` output saying so; `requestIds` are the other requests it was answering or, when
   * it died running no cell (a timer's code), the last cell run, whose late work most likely killed it.
   */
  restarted(requestIds: string[], reason: string): void;
  /** An ops event (magic run, build, deploy) for the kernel's metrics. */
  metric(event: OpsEvent): void;
}

interface Interrupting {
  id: number;
  attempt: number;
  /** Acknowledgements of deliveries before this one may predate the termination. */
  minAttempt: number;
  /** When the protocol thread first saw that the cell thread had taken this interrupt (see CellThreadData). */
  seenAt?: number;
  timers: NodeJS.Timeout[];
  done: () => void;
  promise: Promise<void>;
}

const ACK_BEFORE_TERMINATE_MS = 10;
const RETRY_MS = 50;
/**
 * How long a cell thread that has taken the interrupt may take to answer it before its running code is
 * terminated anyway: it runs the abort listeners of magics and cells, and one of those may spin.
 */
const HANDLING_GRACE_MS = 2000;

interface Pending {
  answer: (reply: WorkerReply) => void;
  /** A non-silent execute: the notebook shows its failure as an `error` output. */
  showsErrors: boolean;
}

/** What the requests a dead worker was running are told (ename, evalue): why, what is lost, what to do. */
function deathOf(code: number, outOfMemory: boolean, heapMb: number): { ename: string; evalue: string } {
  const lost = 'earlier state is gone (the variables, functions and imports of earlier cells, their timers and comms): re-run the cells this one needs';
  if (!outOfMemory) return { ename: 'ExecutorExited', evalue: `the cell's thread exited (code ${code}) and a new one was started; ${lost}` };
  return {
    ename: 'OutOfMemoryError',
    evalue: `the cell's thread ran out of memory (heap limit ${heapMb} MB) and a new one was started; ${lost}. `
      + `Work on the data in smaller pieces, or raise the limit with ${HEAP_LIMIT_ENV} (MB, or a share of memory such as 50%) in the kernel's environment or kernel.json's "env" and restart the kernel.`,
  };
}

export class ExecutorClient {
  private worker!: Worker;
  private ready!: Promise<void>;
  private readonly pending = new Map<string, Pending>();
  private readonly heapLimit = cellHeapLimit();
  /** The newest execute posted: where a death outside any cell is said. */
  private lastExecuteId: string | undefined;
  private readonly inspector = new Session();
  private workerSession: string | undefined;
  private interrupting: Interrupting | undefined;
  private interrupts = 0;
  /** Expressions sent to the cell thread through the inspector, by id, until they answer (evaluateInWorker). */
  private readonly evaluating = new Map<number, (value: unknown) => void>();
  private evaluations = 0;
  private stopping = false;
  /** Shared with the worker: 1 while it runs a cell (see CellThreadData). */
  private readonly cellRunning = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
  /** Shared with the worker: the newest interrupt id it has begun to handle (see CellThreadData). */
  private readonly interruptSeen = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
  /** Shared with the worker: the requests the kernel has received (see CellThreadData). */
  private readonly requestsReceived = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));

  constructor(private readonly events: ExecutorEvents) {
    this.inspector.connect();
    this.inspector.on('NodeWorker.attachedToWorker', (ev) => {
      this.workerSession = (ev.params as { sessionId: string }).sessionId;
    });
    this.inspector.on('NodeWorker.receivedMessageFromWorker', (ev) => {
      const { sessionId, message } = ev.params as { sessionId: string; message: string };
      if (sessionId === this.workerSession) this.evaluated(message);
    });
    this.inspector.post('NodeWorker.enable', { waitForDebuggerOnStart: false });
    if (this.heapLimit.warning) log.warn(this.heapLimit.warning);
    log.info(`the cell thread's heap limit is ${this.heapLimit.mb} MB`);
    this.spawn();
  }

  private spawn(): void {
    this.workerSession = undefined;
    this.evaluating.clear();
    Atomics.store(this.cellRunning, 0, 0);
    Atomics.store(this.interruptSeen, 0, 0);
    const workerData: CellThreadData = { cellRunning: this.cellRunning, interruptSeen: this.interruptSeen, requestsReceived: this.requestsReceived };
    const worker = new Worker(path.join(__dirname, 'cell-thread', 'worker.js'), {
      stdout: false,
      stderr: false,
      workerData,
      resourceLimits: { maxOldGenerationSizeMb: this.heapLimit.mb },
    });
    this.worker = worker;
    this.ready = new Promise((resolve) => {
      const onReady = (m: ToMain) => {
        if (m.type === 'ready') {
          worker.off('message', onReady);
          resolve();
        }
      };
      worker.on('message', onReady);
    });
    worker.on('message', (m: ToMain) => this.receive(m));
    let outOfMemory = false;
    worker.on('error', (e: Error & { code?: string }) => {
      if (e.code === 'ERR_WORKER_OUT_OF_MEMORY') outOfMemory = true; // said when it exits, next
      else log.error(`executor error: ${e.stack ?? e.message}`);
    });
    let started = false;
    void this.ready.then(() => (started = true));
    worker.on('exit', (code) => {
      if (this.stopping || worker !== this.worker) return;
      if (!started) {
        log.error(`executor failed to start (exit code ${code}); the kernel cannot run cells`);
        process.exit(1);
      }
      log.warn(`executor ${outOfMemory ? `ran out of memory (heap limit ${this.heapLimit.mb} MB)` : `exited with code ${code}`}; starting a new one`);
      this.spawn();
      const { ename, evalue } = deathOf(code, outOfMemory, this.heapLimit.mb);
      const error = { ename, evalue, traceback: [`${ename}: ${evalue}`] };
      const others: string[] = [];
      let shown = false;
      for (const [id, { answer, showsErrors }] of this.pending) {
        if (showsErrors) this.events.iopub(id, 'error', { ...error });
        else others.push(id);
        shown ||= showsErrors;
        answer({ content: { status: 'error', ...error } });
      }
      if (!shown && this.lastExecuteId !== undefined && !others.includes(this.lastExecuteId)) others.push(this.lastExecuteId);
      this.pending.clear();
      this.finishInterrupt();
      this.events.restarted(others, evalue);
    });
  }

  /** The kernel received a request (any channel): the cell thread's optional work waits for a quiet spell. */
  requestReceived(): void {
    Atomics.add(this.requestsReceived, 0, 1);
  }

  whenReady(): Promise<void> {
    return this.ready;
  }

  private receive(m: ToMain): void {
    switch (m.type) {
      case 'reply': {
        for (const out of m.iopub ?? []) this.events.iopub(m.id, out.msgType, out.content);
        const pending = this.pending.get(m.id);
        this.pending.delete(m.id);
        pending?.answer(m);
        break;
      }
      case 'iopub':
        this.events.iopub(m.id, m.msgType, m.content, m.metadata);
        break;
      case 'input_request':
        this.events.inputRequest(m.id, m.inputId, m.prompt, m.password);
        break;
      case 'interrupted':
        this.acknowledged(m.interruptId, m.attempt);
        break;
      case 'metric':
        this.events.metric(m.event);
        break;
      case 'ready':
        break;
    }
  }

  /** Sends a command and resolves with the worker's reply content. */
  async request<T extends Exclude<Command['type'], 'execute'>>(type: T, id: string, fields: CommandOf<T>): Promise<Record<string, unknown>> {
    return (await this.post(type, id, fields)).content;
  }

  /** Runs a cell; resolves with its reply and the execute_result published just before it (see ExecuteOutcome). */
  async execute(id: string, fields: CommandOf<'execute'>): Promise<ExecuteOutcome> {
    if (!fields.silent) this.lastExecuteId = id;
    const reply = await this.post('execute', id, fields, !fields.silent);
    return { content: reply.content, result: reply.iopub?.find((out) => out.msgType === 'execute_result')?.content };
  }

  private async post<T extends Command['type']>(type: T, id: string, fields: CommandOf<T>, showsErrors = false): Promise<WorkerReply> {
    // Nothing is posted while an interrupt is in progress: its termination may cost the worker one message.
    while (this.interrupting) await this.interrupting.promise;
    return new Promise((resolve) => {
      this.pending.set(id, { answer: resolve, showsErrors });
      this.worker.postMessage({ type, id, ...fields });
    });
  }

  answerInput(inputId: string, value: string | undefined, error?: string): void {
    this.worker.postMessage({ type: 'input_reply', inputId, value, error } satisfies ToWorker);
  }

  /**
   * Interrupts whatever the worker runs; resolves once the worker has acknowledged. A worker that has not taken
   * the interrupt within a few ms (or has taken it but not answered within HANDLING_GRACE_MS) is inside synchronous
   * code: terminate that execution, then ask again until an answer to a request sent after the termination arrives
   * (the termination may have cost one message, or cut the worker's handling of the first one short).
   * No other command is posted while this runs.
   */
  interrupt(): Promise<void> {
    if (this.interrupting) return this.interrupting.promise;
    let done!: () => void;
    const promise = new Promise<void>((resolve) => (done = resolve));
    const state: Interrupting = { id: ++this.interrupts, attempt: 0, minAttempt: 0, timers: [], done, promise };
    this.interrupting = state;
    this.postInterrupt(state);
    state.timers.push(setTimeout(() => this.terminateRunningCode(state), ACK_BEFORE_TERMINATE_MS));
    return promise;
  }

  private postInterrupt(state: Interrupting): void {
    this.worker.postMessage({ type: 'interrupt', interruptId: state.id, attempt: ++state.attempt } satisfies ToWorker);
  }

  private terminateRunningCode(state: Interrupting): void {
    if (this.interrupting !== state) return;
    const retryLater = () => state.timers.push(setTimeout(() => this.terminateRunningCode(state), RETRY_MS));
    if (!this.workerSession || Atomics.load(this.cellRunning, 0) === 0) {
      // no cell on the thread yet (it is still starting, or the cell's command is queued behind the one it runs):
      // the interrupt message already sent is answered once the thread is free; look again shortly, since the
      // queued cell may start and spin before it reads that message
      retryLater();
      return;
    }
    if (Atomics.load(this.interruptSeen, 0) === state.id) {
      // the thread is handling this interrupt, only slowly: terminating now would cut that handling short
      state.seenAt ??= Date.now();
      if (Date.now() - state.seenAt < HANDLING_GRACE_MS) {
        retryLater();
        return;
      }
    }
    // Terminate only code that runs: on an idle thread, terminateExecution would end the next code to start, which
    // is most likely the handling of the interrupt message itself (see CODE_RUNNING).
    const session = this.workerSession;
    void this.evaluateInWorker(session, `globalThis[Symbol.for(${JSON.stringify(CODE_RUNNING)})]?.()`).then((running) => {
      if (this.interrupting !== state || this.workerSession !== session) return;
      if (running === true) this.terminate(state, session);
      else retryLater();
    });
  }

  /** What an expression evaluated on the cell thread (through the inspector, so also inside running code) returns. */
  private evaluateInWorker(session: string, expression: string): Promise<unknown> {
    const id = ++this.evaluations;
    return new Promise((resolve) => {
      this.evaluating.set(id, resolve);
      const message = JSON.stringify({ id, method: 'Runtime.evaluate', params: { expression, returnByValue: true } });
      this.inspector.post('NodeWorker.sendMessageToWorker', { sessionId: session, message });
    });
  }

  private evaluated(message: string): void {
    const answer = JSON.parse(message) as { id?: number; result?: { result?: { value?: unknown } } };
    if (answer.id === undefined) return;
    const resolve = this.evaluating.get(answer.id);
    this.evaluating.delete(answer.id);
    resolve?.(answer.result?.result?.value);
  }

  private terminate(state: Interrupting, session: string): void {
    // Both run in the worker in one inspector dispatch: first the worker empties its async id stack (see
    // BEFORE_TERMINATE), then the running code is terminated.
    const prepare = JSON.stringify({ id: -2 * state.id, method: 'Runtime.evaluate', params: { expression: `globalThis[Symbol.for(${JSON.stringify(BEFORE_TERMINATE)})]?.()` } });
    this.inspector.post('NodeWorker.sendMessageToWorker', { sessionId: session, message: prepare });
    const message = JSON.stringify({ id: -2 * state.id - 1, method: 'Runtime.terminateExecution' });
    this.inspector.post('NodeWorker.sendMessageToWorker', { sessionId: session, message }, () => {
      state.minAttempt = state.attempt + 1;
      const retry = () => {
        if (this.interrupting !== state) return;
        this.postInterrupt(state);
        state.timers.push(setTimeout(retry, RETRY_MS));
      };
      retry();
    });
  }

  private acknowledged(interruptId: number, attempt: number): void {
    const state = this.interrupting;
    if (!state || state.id !== interruptId || attempt < state.minAttempt) return;
    this.finishInterrupt();
  }

  private finishInterrupt(): void {
    const state = this.interrupting;
    if (!state) return;
    this.interrupting = undefined;
    for (const t of state.timers) clearTimeout(t);
    state.done();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.inspector.disconnect();
    await this.worker.terminate();
  }
}
