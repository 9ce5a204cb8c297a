// The cell thread's entry point (a worker thread started by ../client.ts). Cells run here, in this thread's own
// V8 context, so a busy cell never blocks the protocol thread (heartbeat, control, interrupt). It answers the
// ToWorker commands of ../thread-messages.ts.
import { parentPort, workerData } from 'node:worker_threads';
import * as vm from 'node:vm';
import { CellIo, currentCell } from './cell-io';
import { rewriteCell, cellValue, CellSyntaxError } from './cell-rewrite';
import { toBundle } from './display';
import { toErrorContent } from './errors';
import { rememberCell, ranSourcesNewestFirst } from './ran-cells';
import { CommManager } from './comms';
import { complete, magicArgumentsAt } from './complete';
import { codePoints } from './cursor';
import { inspectAt } from './inspect';
import { isComplete } from './is-complete';
import { setUpMagics } from './magics';
import { installCellGlobals } from './cell-globals';
import { installTerminationSupport } from './termination';
import { CellTimers, TimerCounts, describeTimers } from './cell-timers';
import { startWarmUp, warmFirstRequest } from './warm-up';
import type { CellThreadData, ExecuteCommand, ToMain, ToWorker } from '../thread-messages';
import { InterruptedError } from '../../io/io';

if (!parentPort) throw new Error('executor/cell-thread/worker must run as a worker thread');
const port = parentPort;
/** Shared with the protocol thread: whether a cell runs, and the newest interrupt taken (see CellThreadData). */
const { cellRunning, interruptSeen, requestsReceived } = workerData as CellThreadData;
const post = (message: ToMain) => port.postMessage(message);

interface Running {
  command: ExecuteCommand;
  io: CellIo;
  /** Its reply is posted. Set only after the post: a termination can cut answering short (see interrupt()). */
  replied: boolean;
  /** The work a magic holds for the interrupt (Io.holdInterrupt), once an interrupt waits for it; `done` when ended. */
  held?: 'waiting' | 'done';
}

let running: Running | undefined;
/** The Io of the newest request: where output goes when no request can be found for it. */
let latest: CellIo | undefined;
const waitingInputs = new Map<string, CellIo>();
/** Compiles the rewrite and display code in small slices while no request needs this thread (warm-up.ts). */
const warmUp = startWarmUp(() => running !== undefined, () => Atomics.load(requestsReceived, 0));

function currentIo(): CellIo | undefined {
  return currentCell.getStore() ?? latest;
}

/** A request that is not an execute (complete, comm_msg...) still owns the output it causes. */
function ioFor(id: string, options: { silent: boolean; allowStdin: boolean; cellId?: string; code?: string } = { silent: false, allowStdin: false }): CellIo {
  const io: CellIo = new CellIo(id, (m) => {
    if (m.type === 'input_request') waitingInputs.set(m.inputId, io);
    post(m);
  }, options);
  return io;
}

/** The magics: magic lines in cells call them with the running cell's Io, completion asks them. */
const magics = setUpMagics(currentIo);
const comms = new CommManager((msgType, content) => currentIo()?.emit(msgType, content));
const cellGlobals = installCellGlobals(currentIo, comms);
installTerminationSupport();
/** The timers cells start, so an interrupt can stop them (see interrupt()). */
const cellTimers = new CellTimers(currentIo);
cellTimers.install();

// ---- execute ------------------------------------------------------------------------------------
function evaluateUserExpressions(expressions: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, source] of Object.entries(expressions)) {
    try {
      const value: unknown = vm.runInThisContext(source, { filename: `<user_expression ${name}>` });
      out[name] = { status: 'ok', ...toBundle(value) };
    } catch (e) {
      out[name] = { status: 'error', ...toErrorContent(e) };
    }
  }
  return out;
}

function finish(run: Running, outcome: { value: unknown } | { error: unknown }): void {
  if (run.replied) return;
  try {
    answer(run, outcome);
  } catch (e) {
    // never leave a request without a reply: that would hang the notebook
    post({ type: 'reply', id: run.command.id, content: { status: 'error', execution_count: run.command.executionCount, ...toErrorContent(e) } });
  }
  run.replied = true;
  if (running === run) {
    running = undefined;
    Atomics.store(cellRunning, 0, 0);
  }
  warmUp.activity();
}

function answer(run: Running, outcome: { value: unknown } | { error: unknown }): void {
  const { command, io } = run;
  const count = command.executionCount;
  if ('error' in outcome) {
    const error = io.interrupted ? new InterruptedError() : outcome.error;
    const content = error instanceof CellSyntaxError
      ? { ename: 'SyntaxError', evalue: error.message, traceback: [`SyntaxError: ${error.message} (cell line ${error.line}, column ${error.column})`] }
      : toErrorContent(error);
    // The frame of the wrapper's own call (the line after the cell's last) is ours, not the user's.
    const wrapperFrame = `<cell ${count}>:${command.code.split('\n').length + 1}:`;
    content.traceback = content.traceback.filter((line) => !line.includes(wrapperFrame));
    io.finish();
    const iopub = command.silent ? [] : [{ msgType: 'error', content: { ...content } }];
    post({ type: 'reply', id: command.id, content: { status: 'error', execution_count: count, ...content }, iopub });
  } else {
    const shown = outcome.value !== undefined && !cellGlobals.isDisplayHandle(outcome.value);
    const result = shown && !command.silent ? [{ msgType: 'execute_result', content: { execution_count: count, ...toBundle(outcome.value) } }] : [];
    const userExpressions = evaluateUserExpressions(command.userExpressions);
    io.finish();
    post({ type: 'reply', id: command.id, content: { status: 'ok', execution_count: count, user_expressions: userExpressions, payload: [] }, iopub: result });
  }
}

async function execute(command: ExecuteCommand): Promise<void> {
  const io = ioFor(command.id, { silent: command.silent, allowStdin: command.allowStdin, cellId: command.cellId, code: command.code });
  const run: Running = { command, io, replied: false };
  running = run;
  Atomics.store(cellRunning, 0, 1);
  latest = io;
  await currentCell.run(io, async () => {
    try {
      const cell = rewriteCell(command.code);
      const filename = `<cell ${command.executionCount}>`;
      rememberCell(filename, cell.positions);
      const script = new vm.Script(cell.code, { filename, columnOffset: -cell.prefixLength });
      // An interrupt finishes the run itself (see interrupt()), so a cell that never settles is not awaited here.
      finish(run, await cellValue(cell, script.runInThisContext()));
    } catch (error) {
      finish(run, { error });
    }
  });
}

/**
 * Interrupt: abort the running cell's Io, stop the timers it started and, if its code was stopped mid-flight,
 * answer for it, once the work a magic holds for the interrupt (Io.holdInterrupt: a deploy rolling back) has ended
 * or run past its limit; a second interrupt answers at once. The interrupt itself is acknowledged at once either
 * way (the protocol thread would otherwise terminate the running code). With no cell running, stop the timers
 * earlier cells left running. Each stop is said in the cell that started the timers, where their output went: an
 * idle interrupt has no request of its own that a notebook shows (frontends send interrupt_request through the
 * server, or a signal), and interrupt_reply's content is only its status.
 *
 * The protocol thread may terminate whatever this thread runs while it has not acknowledged (a loaded machine
 * makes this thread slow to answer), this handler included, and then sends the same interrupt again. So every
 * step here can be taken again: what the first delivery left undone (the reply above all) is done by the next.
 */
let lastInterruptId = -1;
function interrupt(interruptId: number, attempt: number): void {
  Atomics.store(interruptSeen, 0, interruptId);
  const run = running;
  const repeated = interruptId === lastInterruptId;
  lastInterruptId = interruptId;
  if (run && !run.replied) {
    if (run.io.interrupted && !repeated) answerNow(run);
    else stopCell(run);
  } else if (!repeated) {
    for (const [owner, counts] of cellTimers.stopAll()) if (owner) sayStopped(owner, counts, 'this cell left running');
  }
  post({ type: 'interrupted', interruptId, attempt });
}

/** The first interrupt of a running cell (or the same one again): stop it, answer once its held work has ended. */
function stopCell(run: Running): void {
  run.io.interrupt();
  sayStopped(run.io, cellTimers.stopStartedBy(run.io), 'this cell started');
  if (run.held === 'waiting') return;
  // work a magic holds (a deploy rolling back) ends before the answer, so the next cell finds it done
  const held = run.held === 'done' ? undefined : run.io.heldWork();
  if (!held) {
    finish(run, { error: new InterruptedError() });
    return;
  }
  run.held = 'waiting';
  void held.then(() => {
    run.held = 'done';
    finish(run, { error: new InterruptedError() });
  });
}

/** A second interrupt while the first waits for held work: answer now, and say what goes on in the background. */
function answerNow(run: Running): void {
  const still = run.io.heldDescription();
  if (still) run.io.emit('stream', { name: 'stderr', text: `[opsbook] interrupted again: the cell answers now; ${still} goes on in the background.\n` });
  finish(run, { error: new InterruptedError() });
}

function sayStopped(io: CellIo, counts: TimerCounts, whose: string): void {
  const stopped = describeTimers(counts);
  if (!stopped) return;
  io.flush(); // the timers' own batched output comes first
  io.emit('stream', { name: 'stderr', text: `[opsbook] interrupt stopped ${stopped} ${whose}.\n` });
}

/** complete_request: a magic's own completer inside its arguments (it may ask a server), else the code completer. */
async function completeRequest(id: string, code: string, cursor: number): Promise<void> {
  const args = magicArgumentsAt(code, cursor);
  const own = args ? magics.completeArguments(args.name, args.before) : undefined;
  if (own) {
    const found = await own.catch(() => ({ matches: [], replace: 0 }));
    const start = cursor - codePoints(args?.before.slice(args.before.length - found.replace) ?? '');
    post({ type: 'reply', id, content: { status: 'ok', matches: found.matches, cursor_start: start, cursor_end: cursor, metadata: {} } });
    return;
  }
  post({ type: 'reply', id, content: { ...complete(globalThis, code, cursor, (prefix, magicName) => magics.complete(prefix, magicName)) } });
}

function reportLate(kind: string, error: unknown): void {
  const io = currentIo();
  const content = toErrorContent(error);
  if (!io) {
    process.stderr.write(`[opsbook] ${kind}: ${content.ename}: ${content.evalue}\n`); // no cell yet: the kernel log
    return;
  }
  io.emit('error', { ...content, evalue: `${content.evalue} (${kind})` });
  io.flush();
}
process.on('unhandledRejection', (reason) => reportLate('unhandled promise rejection', reason));
process.on('uncaughtException', (error) => reportLate('uncaught exception', error));

port.on('message', (message: ToWorker) => {
  warmUp.activity(); // a request never waits behind more than the warm-up slice in progress (warm-up.ts)
  switch (message.type) {
    case 'execute':
      void execute(message);
      break;
    case 'interrupt':
      interrupt(message.interruptId, message.attempt);
      break;
    case 'input_reply': {
      const io = waitingInputs.get(message.inputId);
      waitingInputs.delete(message.inputId);
      io?.answerInput(message.inputId, message.value, message.error);
      break;
    }
    case 'complete':
      void completeRequest(message.id, message.code, message.cursor);
      break;
    case 'inspect':
      post({ type: 'reply', id: message.id, content: inspectAt(globalThis, message.code, message.cursor, message.detailLevel, ranSourcesNewestFirst) });
      break;
    case 'is_complete':
      post({ type: 'reply', id: message.id, content: isComplete(message.code) });
      break;
    case 'comm_info':
      post({ type: 'reply', id: message.id, content: { status: 'ok', comms: comms.info(message.targetName) } });
      break;
    case 'comm': {
      const io = ioFor(message.id);
      currentCell.run(io, () => {
        try {
          comms.receive(message.msgType, message.content);
        } catch (e) {
          const err = toErrorContent(e);
          io.emit('stream', { name: 'stderr', text: `[opsbook] ${message.msgType}: ${err.evalue}\n` });
        }
        io.finish();
      });
      post({ type: 'reply', id: message.id, content: { status: 'ok' } });
      break;
    }
  }
});

warmFirstRequest();
post({ type: 'ready' });
