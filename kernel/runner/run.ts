// The run loop of `opsbook run`: each code cell in order as an execute_request, its IOPub collected until the reply
// and `idle` have both arrived, papermill's and nbclient's timings recorded, the notebook saved after every cell.
// It stops at the first failure (not for cells tagged `raises-exception`), ends early as a success on SystemExit 0,
// and bounds every wait: a per-cell timeout interrupts (then kills) the kernel, a dead kernel fails the cell, and a
// SIGINT/SIGTERM to the runner interrupts the cell and stops.
import type { Message } from '../protocol/messages';
import type { KernelExit } from './launch';
import { describeExit } from './launch';
import { addErrorMarkers, Cell, cellPapermill, Notebook, notebookPapermill, Output, seconds, tagsOf } from './notebook';
import { OutputRecorder } from './outputs';
import type { MessageListener } from './client';

/** What the run loop needs from a kernel (KernelProcess in production, a fake in unit tests). */
export interface RunKernel {
  readonly client: {
    request(channel: 'shell' | 'control', msgType: string, content: Record<string, unknown>, metadata?: Record<string, unknown>): { msgId: string; sent: Promise<void> };
    onMessage(listener: MessageListener): () => void;
  };
  readonly exited: Promise<KernelExit>;
  readonly alive: boolean;
  interrupt(): Promise<void>;
  kill(): void;
}

export interface RunSettings {
  /** Per-cell limit (--timeout); none when undefined. */
  timeoutMs?: number;
  /** After an interrupt, how long the cell has to end before the kernel is killed. */
  interruptGraceMs: number;
  /** After the reply, how long to wait for IOPub's `idle` (nbclient's iopub_timeout) before going on. */
  iopubGraceMs: number;
}

export interface RunHooks {
  /** Writes the notebook as it is now. */
  save(): void;
  /** One line for the runner's stderr. */
  progress(line: string): void;
  /** A cell's stream output as it arrives (for --log-output). */
  stream?(name: 'stdout' | 'stderr', text: string): void;
  now?(): Date;
}

export type FailureReason = 'error' | 'timeout' | 'died' | 'interrupted';

export interface Failure {
  cell: Cell;
  /** 1-based position of the cell in the notebook that ran (the error banner not counted). */
  position: number;
  reason: FailureReason;
  ename: string;
  evalue: string;
  traceback: string[];
}

export type RunOutcome =
  | { kind: 'completed' }
  /** SystemExit 0 (exit(0), %stop-here): a success; the cells after `cell` did not run. */
  | { kind: 'stopped'; cell: Cell }
  | { kind: 'failed'; failure: Failure }
  /** SIGINT or SIGTERM; `failure` is the cell it interrupted, if one was running. */
  | { kind: 'interrupted'; signal: NodeJS.Signals; failure?: Failure };

export interface RunResult {
  outcome: RunOutcome;
  /** Cells by papermill status at the end. */
  cells: Record<'pending' | 'running' | 'completed' | 'failed', number>;
}

type Ending = 'done' | 'timeout' | 'died' | 'signal';

/** The state of one execute_request while its messages arrive. */
class Execution {
  reply: Message | undefined;
  idle = false;
  private settle: (() => void) | undefined;
  readonly finished = new Promise<void>((resolve) => (this.settle = resolve));
  private replyTimer: NodeJS.Timeout | undefined;

  constructor(private readonly iopubGraceMs: number, private readonly onLateIdle: () => void) {}

  gotReply(m: Message): void {
    this.reply = m;
    if (this.idle) this.settle?.();
    // nbclient's iopub_timeout: a reply without its idle does not hold the run forever
    else this.replyTimer = setTimeout(() => {
      this.onLateIdle();
      this.settle?.();
    }, this.iopubGraceMs);
  }

  gotIdle(): void {
    this.idle = true;
    if (this.reply) {
      clearTimeout(this.replyTimer);
      this.settle?.();
    }
  }

  dispose(): void {
    clearTimeout(this.replyTimer);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function formatSeconds(s: number): string {
  return s < 10 ? `${s.toFixed(1)} s` : `${Math.round(s)} s`;
}

function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '');
}

export class NotebookRun {
  private readonly recorder = new OutputRecorder();
  private signal: NodeJS.Signals | undefined;
  private onSignal: (() => void) | undefined;

  constructor(
    private readonly nb: Notebook,
    private readonly kernel: RunKernel,
    private readonly settings: RunSettings,
    private readonly hooks: RunHooks,
  ) {}

  private now(): string {
    return (this.hooks.now?.() ?? new Date()).toISOString();
  }

  /** SIGINT/SIGTERM: the running cell is interrupted and the run stops after it. */
  stop(signal: NodeJS.Signals): void {
    if (this.signal) return;
    this.signal = signal;
    this.onSignal?.();
  }

  async run(): Promise<RunResult> {
    const outcome = await this.loop();
    this.finish(outcome);
    return { outcome, cells: this.statusCounts() };
  }

  private async loop(): Promise<RunOutcome> {
    const cells = [...this.nb.cells];
    const codeCells = cells.filter((c) => c.cell_type === 'code').length;
    let codeSeen = 0;
    for (const [i, cell] of cells.entries()) {
      if (this.signal) return { kind: 'interrupted', signal: this.signal };
      const pm = cellPapermill(cell);
      if (cell.cell_type !== 'code' || cell.source.trim() === '') {
        // papermill passes every cell through its start/complete callbacks; nbclient skips empty ones
        if (cell.cell_type === 'code') codeSeen++;
        pm.start_time = pm.end_time = this.now();
        pm.duration = 0;
        pm.exception = false;
        pm.status = 'completed';
        continue;
      }
      codeSeen++;
      const result = await this.execute(cell, i + 1);
      const label = `[${codeSeen}/${codeCells}] In [${cell.execution_count ?? ' '}]`;
      this.hooks.progress(`${label} ${result.summary} ${formatSeconds(pm.duration ?? 0)}${result.detail ? `: ${result.detail}` : ''}`);
      if (result.failure) return this.signal ? { kind: 'interrupted', signal: this.signal, failure: result.failure } : { kind: 'failed', failure: result.failure };
      if (result.stopped) return { kind: 'stopped', cell };
    }
    return this.signal ? { kind: 'interrupted', signal: this.signal } : { kind: 'completed' };
  }

  private async execute(cell: Cell, position: number): Promise<{ summary: string; detail?: string; failure?: Failure; stopped?: boolean }> {
    const pm = cellPapermill(cell);
    pm.start_time = this.now();
    pm.status = 'running';
    pm.exception = false;
    const timing: Record<string, string> = {};
    cell.metadata.execution = timing;
    this.recorder.begin(cell);
    this.hooks.save();

    const allowErrors = tagsOf(cell).includes('raises-exception');
    const request = this.kernel.client.request(
      'shell',
      'execute_request',
      { code: cell.source, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: !allowErrors },
      { cellId: cell.id },
    );
    const execution = new Execution(this.settings.iopubGraceMs, () => this.hooks.progress(`  (no idle status on IOPub ${this.settings.iopubGraceMs / 1000} s after the reply; going on)`));
    const off = this.kernel.client.onMessage((channel, m) => {
      if (m.parent_header.msg_id !== request.msgId) return;
      this.handle(cell, execution, channel, m);
    });
    const finished = () => execution.finished.then((): Ending => 'done');
    const died = this.kernel.exited.then((): Ending => 'died');
    // a request that cannot even be queued means the kernel is gone (or going): wait for its exit
    const unsent = request.sent.then(() => new Promise<never>(() => undefined), () => died);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = this.settings.timeoutMs === undefined ? new Promise<never>(() => undefined) : new Promise<Ending>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.settings.timeoutMs)));
    const signalled = new Promise<Ending>((resolve) => {
      this.onSignal = () => resolve('signal');
      if (this.signal) resolve('signal');
    });

    let ending: Ending;
    try {
      ending = await Promise.race([finished(), died, unsent, timedOut, signalled]);
      if (ending === 'timeout' || ending === 'signal') {
        if (ending === 'timeout') this.hooks.progress(`  the cell timed out after ${this.settings.timeoutMs! / 1000} s: interrupting the kernel`);
        await this.kernel.interrupt();
        const after = await Promise.race([finished(), died, delay(this.settings.interruptGraceMs).then((): Ending => 'timeout')]);
        if (after === 'timeout') {
          this.hooks.progress(`  the kernel did not stop within ${this.settings.interruptGraceMs / 1000} s of the interrupt: killing it`);
          this.kernel.kill();
          await Promise.race([this.kernel.exited, delay(2000)]);
        }
      }
    } finally {
      clearTimeout(timer);
      this.onSignal = undefined;
      execution.dispose();
      off();
    }

    pm.end_time = this.now();
    pm.duration = seconds(pm.start_time, pm.end_time);
    const fail = (reason: FailureReason, summary: string, output?: Output): { summary: string; detail?: string; failure: Failure } => {
      if (output) this.recorder.add(cell, output);
      const error = [...(cell.outputs ?? [])].reverse().find((o): o is Extract<Output, { output_type: 'error' }> => o.output_type === 'error');
      pm.status = 'failed';
      pm.exception = true;
      const failure: Failure = { cell, position, reason, ename: error?.ename ?? 'Error', evalue: error?.evalue ?? '', traceback: error?.traceback ?? [] };
      return { summary, detail: `${failure.ename}: ${failure.evalue}`, failure };
    };

    if (ending === 'died') {
      const how = describeExit(await this.kernel.exited);
      return fail('died', 'kernel died', { output_type: 'error', ename: 'DeadKernelError', evalue: `the kernel died (${how}) while this cell ran`, traceback: [`DeadKernelError: the kernel died (${how}) while this cell ran`] });
    }
    if (ending === 'timeout') {
      const s = this.settings.timeoutMs! / 1000;
      const evalue = `the cell timed out after ${s} s (--timeout ${s})${this.kernel.alive ? '' : '; the kernel did not stop when interrupted and was killed'}`;
      return fail('timeout', 'timed out', { output_type: 'error', ename: 'CellTimeoutError', evalue, traceback: [`CellTimeoutError: ${evalue}`] });
    }
    if (ending === 'signal') {
      const evalue = `opsbook run was stopped by ${this.signal} while this cell ran`;
      return fail('interrupted', 'interrupted', { output_type: 'error', ename: 'KeyboardInterrupt', evalue, traceback: [`KeyboardInterrupt: ${evalue}`] });
    }

    const reply = execution.reply!.content;
    const status = String(reply.status);
    if (status === 'ok') {
      pm.status = 'completed';
      return { summary: 'ok' };
    }
    if (!(cell.outputs ?? []).some((o) => o.output_type === 'error')) {
      // the reply is the authority; keep its error even if IOPub did not carry one
      this.recorder.add(cell, { output_type: 'error', ename: String(reply.ename ?? status), evalue: String(reply.evalue ?? ''), traceback: Array.isArray(reply.traceback) ? reply.traceback.map(String) : [] });
    }
    const ename = String(reply.ename ?? '');
    const evalue = String(reply.evalue ?? '');
    if (status === 'error' && ename === 'SystemExit' && (evalue === '0' || evalue === '')) {
      pm.status = 'completed';
      return { summary: 'stopped here (SystemExit 0); the cells below do not run', stopped: true };
    }
    if (status === 'error' && allowErrors) {
      pm.status = 'completed';
      return { summary: 'error allowed (raises-exception)', detail: `${ename}: ${evalue}` };
    }
    return fail('error', status === 'error' ? 'failed' : status);
  }

  private handle(cell: Cell, execution: Execution, channel: string, m: Message): void {
    const timing = cell.metadata.execution as Record<string, string>;
    const type = m.header.msg_type;
    if (channel === 'shell') {
      if (type !== 'execute_reply') return;
      timing['shell.execute_reply'] = m.header.date;
      if (typeof m.content.execution_count === 'number') cell.execution_count = m.content.execution_count;
      execution.gotReply(m);
      return;
    }
    if (channel !== 'iopub') return;
    if (type === 'status') {
      if (m.content.execution_state === 'busy') timing['iopub.status.busy'] = m.header.date;
      if (m.content.execution_state === 'idle') {
        timing['iopub.status.idle'] = m.header.date;
        execution.gotIdle();
      }
      return;
    }
    if (type === 'execute_input') {
      timing['iopub.execute_input'] = m.header.date;
      if (typeof m.content.execution_count === 'number') cell.execution_count = m.content.execution_count;
      return;
    }
    if (type === 'stream' && this.hooks.stream) this.hooks.stream(m.content.name === 'stderr' ? 'stderr' : 'stdout', String(m.content.text ?? ''));
    this.recorder.apply(cell, type, m.content);
  }

  private finish(outcome: RunOutcome): void {
    const pm = notebookPapermill(this.nb);
    pm.end_time = this.now();
    pm.duration = pm.start_time ? seconds(pm.start_time, pm.end_time) : null;
    const failure = outcome.kind === 'failed' || outcome.kind === 'interrupted' ? outcome.failure : undefined;
    if (failure) {
      pm.exception = true;
      addErrorMarkers(this.nb, failure.cell);
    }
    this.hooks.save();
  }

  private statusCounts(): RunResult['cells'] {
    const counts = { pending: 0, running: 0, completed: 0, failed: 0 };
    for (const cell of this.nb.cells) {
      const status = (cell.metadata.papermill as { status?: keyof typeof counts } | undefined)?.status;
      if (status && status in counts) counts[status]++;
    }
    return counts;
  }
}

/** The failure, for the runner's stderr: which cell, the error, the first lines of its traceback. */
export function describeFailure(failure: Failure, outputPath: string): string {
  const count = failure.cell.execution_count;
  const lines = [`opsbook run: cell ${failure.position} (In [${count ?? ' '}]) failed: ${failure.ename}: ${failure.evalue}`];
  const traceback = failure.traceback.flatMap((t) => stripAnsi(t).split('\n')).filter((l) => l.trim() !== '');
  if (traceback.length > 1) lines.push(...traceback.slice(0, 20).map((l) => `  ${l}`));
  lines.push(`opsbook run: the executed notebook, with the error at the top, is ${outputPath}`);
  return lines.join('\n');
}
