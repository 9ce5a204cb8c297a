// Unit tests of `opsbook run`'s run loop against a scripted fake kernel: what is sent for each cell, papermill's
// and nbclient's metadata, stopping at a failure, raises-exception, SystemExit 0, a reply that comes without its
// idle, and the paths that must never hang: a timeout (interrupt, then kill), a kernel that dies, a signal.
import { randomUUID } from 'node:crypto';
import type { Message } from '../../kernel/protocol/messages';
import type { MessageListener } from '../../kernel/runner/client';
import type { KernelExit } from '../../kernel/runner/launch';
import { Notebook, ensurePapermillMetadata, notebookPapermill, parseNotebook, startRun, tagsOf } from '../../kernel/runner/notebook';
import { NotebookRun, RunKernel, RunSettings, describeFailure } from '../../kernel/runner/run';

type Behaviour = (code: string, msgId: string, kernel: FakeKernel) => void;

class FakeKernel implements RunKernel {
  private readonly listeners = new Set<MessageListener>();
  readonly requests: Array<{ channel: string; msgType: string; content: Record<string, unknown>; metadata: Record<string, unknown> }> = [];
  interrupts = 0;
  kills = 0;
  private count = 0;
  private resolveExit!: (e: KernelExit) => void;
  readonly exited = new Promise<KernelExit>((resolve) => (this.resolveExit = resolve));
  private exit: KernelExit | undefined;
  /** What happens on interrupt_request: by default the running cell ends with KeyboardInterrupt. */
  onInterrupt: (() => void) | undefined;
  private running: string | undefined;

  constructor(private readonly behaviour: Behaviour) {}

  get alive(): boolean {
    return this.exit === undefined;
  }

  readonly client = {
    request: (channel: 'shell' | 'control', msgType: string, content: Record<string, unknown>, metadata: Record<string, unknown> = {}) => {
      const msgId = randomUUID();
      this.requests.push({ channel, msgType, content, metadata });
      if (msgType === 'execute_request') {
        this.running = msgId;
        setImmediate(() => this.behaviour(String(content.code), msgId, this));
      }
      return { msgId, sent: Promise.resolve() };
    },
    onMessage: (listener: MessageListener) => {
      this.listeners.add(listener);
      return () => this.listeners.delete(listener);
    },
  };

  emit(channel: 'shell' | 'iopub', msgType: string, parent: string, content: Record<string, unknown>): void {
    const m: Message = {
      identities: [],
      header: { msg_id: randomUUID(), session: 's', username: 'k', date: new Date().toISOString(), msg_type: msgType, version: '5.5' },
      parent_header: { msg_id: parent },
      metadata: {},
      content,
      buffers: [],
    };
    for (const l of [...this.listeners]) l(channel, m);
  }

  /** busy, execute_input, outputs, reply, idle: a cell as the kernel runs it. */
  finish(msgId: string, reply: Record<string, unknown>, outputs: Array<[string, Record<string, unknown>]> = [], options: { idle?: boolean } = {}): void {
    const count = ++this.count;
    this.emit('iopub', 'status', msgId, { execution_state: 'busy' });
    this.emit('iopub', 'execute_input', msgId, { code: '', execution_count: count });
    for (const [type, content] of outputs) this.emit('iopub', type, msgId, content);
    this.emit('shell', 'execute_reply', msgId, { execution_count: count, ...reply });
    if (options.idle !== false) this.emit('iopub', 'status', msgId, { execution_state: 'idle' });
    this.running = undefined;
  }

  async interrupt(): Promise<void> {
    this.interrupts++;
    if (this.onInterrupt) this.onInterrupt();
    else if (this.running) {
      const id = this.running;
      setImmediate(() => this.finish(id, { status: 'error', ename: 'KeyboardInterrupt', evalue: 'interrupted by the user' }, [['error', { ename: 'KeyboardInterrupt', evalue: 'interrupted by the user', traceback: ['KeyboardInterrupt: interrupted by the user'] }]]));
    }
  }

  kill(): void {
    this.kills++;
    this.die({ code: null, signal: 'SIGKILL' });
  }

  die(exit: KernelExit): void {
    if (this.exit) return;
    this.exit = exit;
    this.resolveExit(exit);
  }
}

/** Runs cells by their source: `ok`, `print`, `fail`, `exit0`, `exit3`, `hang`, `die`, `noidle`. */
const script: Behaviour = (code, id, k) => {
  const error = (ename: string, evalue: string): [Record<string, unknown>, Array<[string, Record<string, unknown>]>] => [
    { status: 'error', ename, evalue, traceback: [] },
    [['error', { ename, evalue, traceback: [`\u001b[31m${ename}\u001b[0m: ${evalue}`, '    at <cell>:1:1'] }]],
  ];
  if (code === 'ok') k.finish(id, { status: 'ok' });
  else if (code === 'print') k.finish(id, { status: 'ok' }, [['stream', { name: 'stdout', text: 'hi\n' }], ['execute_result', { data: { 'text/plain': '1' }, metadata: {}, execution_count: 0 }]]);
  else if (code === 'fail') k.finish(id, ...error('TypeError', 'bad replicas'));
  else if (code === 'exit0') k.finish(id, ...error('SystemExit', '0'));
  else if (code === 'exit3') k.finish(id, ...error('SystemExit', '3'));
  else if (code === 'noidle') k.finish(id, { status: 'ok' }, [], { idle: false });
  else if (code === 'die') k.die({ code: 1, signal: null });
  // 'hang': nothing until interrupted
};

function notebook(cells: Array<string | { source: string; tags: string[] }>): Notebook {
  const nb = parseNotebook(
    JSON.stringify({
      nbformat: 4,
      nbformat_minor: 5,
      metadata: {},
      cells: [{ cell_type: 'markdown', metadata: {}, source: '# runbook' }, ...cells.map((c, i) => ({ cell_type: 'code', id: `c${i}`, metadata: typeof c === 'string' ? {} : { tags: c.tags }, source: typeof c === 'string' ? c : c.source, outputs: [] }))],
    }),
    'test',
  );
  ensurePapermillMetadata(nb, '0.0.0');
  startRun(nb, { input: 'in', output: 'out' }, new Date().toISOString());
  return nb;
}

const SETTINGS: RunSettings = { interruptGraceMs: 200, iopubGraceMs: 100 };

function runner(nb: Notebook, kernel: FakeKernel, settings: Partial<RunSettings> = {}) {
  const progress: string[] = [];
  const streamed: string[] = [];
  let saves = 0;
  const run = new NotebookRun(nb, kernel, { ...SETTINGS, ...settings }, { save: () => saves++, progress: (l) => progress.push(l), stream: (_n, t) => streamed.push(t) });
  return { run, progress, streamed, saves: () => saves };
}

const statuses = (nb: Notebook) => nb.cells.map((c) => (c.metadata.papermill as { status?: string } | undefined)?.status ?? 'marker');

test('every code cell is an execute_request like nbclient sends, with timings and outputs recorded', async () => {
  const nb = notebook(['print', 'ok', { source: 'ok', tags: ['raises-exception'] }, '   ']);
  const kernel = new FakeKernel(script);
  const r = runner(nb, kernel);
  const result = await r.run.run();
  expect(result.outcome).toEqual({ kind: 'completed' });
  const executes = kernel.requests.filter((q) => q.msgType === 'execute_request');
  expect(executes).toHaveLength(3); // the blank cell is not sent
  expect(executes[0]).toEqual({
    channel: 'shell',
    msgType: 'execute_request',
    content: { code: 'print', silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true },
    metadata: { cellId: 'c0' },
  });
  expect(executes[2].content.stop_on_error).toBe(false); // raises-exception, as nbclient
  const first = nb.cells[1];
  expect(first.execution_count).toBe(1);
  expect(first.outputs).toEqual([
    { output_type: 'stream', name: 'stdout', text: 'hi\n' },
    { output_type: 'execute_result', data: { 'text/plain': '1' }, metadata: {}, execution_count: 0 },
  ]);
  expect(Object.keys(first.metadata.execution as object).sort()).toEqual(['iopub.execute_input', 'iopub.status.busy', 'iopub.status.idle', 'shell.execute_reply']);
  expect(first.metadata.papermill).toMatchObject({ status: 'completed', exception: false, duration: expect.any(Number), start_time: expect.any(String), end_time: expect.any(String) });
  expect(statuses(nb)).toEqual(['completed', 'completed', 'completed', 'completed', 'completed']);
  expect(result.cells).toEqual({ pending: 0, running: 0, completed: 5, failed: 0 });
  expect(notebookPapermill(nb).exception).toBeNull();
  expect(r.progress[0]).toMatch(/^\[1\/4\] In \[1\] ok \d+\.\d s$/);
  expect(r.streamed).toEqual(['hi\n']);
  expect(r.saves()).toBeGreaterThanOrEqual(4); // before each cell and at the end
});

test('the first failing cell stops the run; the rest stay pending; banner and anchor are added', async () => {
  const nb = notebook(['ok', 'fail', 'ok']);
  const kernel = new FakeKernel(script);
  const r = runner(nb, kernel);
  const { outcome } = await r.run.run();
  expect(outcome.kind).toBe('failed');
  if (outcome.kind !== 'failed') return;
  expect(outcome.failure).toMatchObject({ reason: 'error', ename: 'TypeError', evalue: 'bad replicas', position: 3 });
  expect(statuses(nb)).toEqual(['marker', 'completed', 'completed', 'marker', 'failed', 'pending']);
  expect(tagsOf(nb.cells[0])).toEqual(['papermill-error-cell-tag']);
  expect(nb.cells[0].source).toContain('In [2]');
  expect(nb.cells[5].execution_count).toBeNull();
  expect(notebookPapermill(nb).exception).toBe(true);
  expect(kernel.requests.filter((q) => q.msgType === 'execute_request')).toHaveLength(2);
  const text = describeFailure(outcome.failure, '/tmp/out.ipynb');
  expect(text).toContain('cell 3 (In [2]) failed: TypeError: bad replicas');
  expect(text).toContain('    at <cell>:1:1');
  expect(text).not.toContain('\u001b');
  expect(text).toContain('/tmp/out.ipynb');
});

test('raises-exception cells may fail and the run goes on; SystemExit 0 ends it early as a success', async () => {
  const nb = notebook([{ source: 'fail', tags: ['raises-exception'] }, 'exit0', 'ok']);
  const { run } = runner(nb, new FakeKernel(script));
  const result = await run.run();
  expect(result.outcome).toMatchObject({ kind: 'stopped' });
  expect(statuses(nb)).toEqual(['completed', 'completed', 'completed', 'pending']);
  expect(nb.cells[1].outputs?.[0]).toMatchObject({ output_type: 'error', ename: 'TypeError' });
  expect(nb.cells.some((c) => tagsOf(c).includes('papermill-error-cell-tag'))).toBe(false);
  expect(notebookPapermill(nb).exception).toBeNull();
});

test('SystemExit with another code is a failure', async () => {
  const nb = notebook(['exit3', 'ok']);
  const { outcome } = await runner(nb, new FakeKernel(script)).run.run();
  expect(outcome).toMatchObject({ kind: 'failed', failure: { ename: 'SystemExit', evalue: '3' } });
});

test('a reply whose idle never comes does not hold the run (nbclient iopub_timeout)', async () => {
  const nb = notebook(['noidle', 'ok']);
  const r = runner(nb, new FakeKernel(script));
  const { outcome } = await r.run.run();
  expect(outcome).toEqual({ kind: 'completed' });
  expect(r.progress.join('\n')).toContain('no idle status');
});

test('a timeout interrupts the kernel; the cell fails saying so', async () => {
  const nb = notebook(['ok', 'hang', 'ok']);
  const kernel = new FakeKernel(script);
  const t0 = Date.now();
  const { outcome } = await runner(nb, kernel, { timeoutMs: 150 }).run.run();
  expect(Date.now() - t0).toBeLessThan(2000);
  expect(kernel.interrupts).toBe(1);
  expect(kernel.kills).toBe(0);
  expect(outcome).toMatchObject({ kind: 'failed', failure: { reason: 'timeout', ename: 'CellTimeoutError' } });
  const outputs = nb.cells.find((c) => c.id === 'c1')?.outputs ?? [];
  expect(outputs.map((o) => (o.output_type === 'error' ? o.ename : o.output_type))).toEqual(['KeyboardInterrupt', 'CellTimeoutError']);
  expect(outputs[1]).toMatchObject({ evalue: 'the cell timed out after 0.15 s (--timeout 0.15)' });
  expect(statuses(nb).slice(-1)).toEqual(['pending']);
});

test('a kernel that ignores the interrupt is killed after the grace period', async () => {
  const nb = notebook(['hang']);
  const kernel = new FakeKernel(script);
  kernel.onInterrupt = () => undefined;
  const { outcome } = await runner(nb, kernel, { timeoutMs: 100 }).run.run();
  expect(kernel.kills).toBe(1);
  expect(outcome).toMatchObject({ kind: 'failed', failure: { reason: 'timeout' } });
  expect(outcome.kind === 'failed' && outcome.failure.evalue).toContain('was killed');
});

test('a kernel that dies fails the running cell at once, naming how it died', async () => {
  const nb = notebook(['ok', 'die', 'ok']);
  const { outcome } = await runner(nb, new FakeKernel(script)).run.run();
  expect(outcome).toMatchObject({ kind: 'failed', failure: { reason: 'died', ename: 'DeadKernelError', evalue: 'the kernel died (exit code 1) while this cell ran' } });
});

test('a signal interrupts the running cell and stops the run', async () => {
  const nb = notebook(['ok', 'hang', 'ok']);
  const kernel = new FakeKernel(script);
  const { run } = runner(nb, kernel);
  const done = run.run();
  setTimeout(() => run.stop('SIGTERM'), 100);
  const { outcome } = await done;
  expect(kernel.interrupts).toBe(1);
  expect(outcome).toMatchObject({ kind: 'interrupted', signal: 'SIGTERM', failure: { reason: 'interrupted' } });
  expect(nb.cells.find((c) => c.id === 'c1')?.outputs?.slice(-1)[0]).toMatchObject({ ename: 'KeyboardInterrupt', evalue: 'opsbook run was stopped by SIGTERM while this cell ran' });
  expect(statuses(nb).slice(-1)).toEqual(['pending']);
});
