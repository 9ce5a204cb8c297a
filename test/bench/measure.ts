// The timed benchmarks: cold start, execute (and kernel_info) round trips, 20 MB of printed lines, interrupt of a busy
// loop, a 200-line TypeScript cell, completion on a 10,000-property object.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Message } from '../../kernel/protocol/messages';
import type { KernelUnderTest } from './kernels';
import { floodText } from './kernels';
import { Session, executeContent } from './session';
import { CELL_LINES, CELL_VALUE, typescriptCell } from './typescript-cell';
import { Summary, median, summarize } from './stats';

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: string };

export async function attempt<T>(run: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await run() };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

// ---- 1. cold start ---------------------------------------------------------------------------------
export interface ColdStart {
  /** Discarded first start (warms the page cache and, for ipykernel, its profile folder). */
  warmupMs: number;
  startMs: number[];
  medianStartMs: number;
  /** Spawn to the reply of a `1` sent as soon as kernel_info was answered. */
  firstExecuteMs: number[];
  medianFirstExecuteMs: number;
}

export async function coldStarts(kernel: KernelUnderTest, cwd: string, runs: number, timeoutMs: number): Promise<ColdStart> {
  const startMs: number[] = [];
  const firstExecuteMs: number[] = [];
  let warmupMs = Number.NaN;
  for (let i = 0; i <= runs; i++) {
    const { session, startMs: ms } = await Session.launch(kernel, cwd, timeoutMs);
    try {
      // Only the reply: IOPub may not be subscribed yet this early, so its idle can be missed.
      const t0 = performance.now();
      await session.client.request('execute_request', executeContent(kernel.code.trivial), { timeoutMs });
      const replyMs = performance.now() - t0;
      if (i === 0) warmupMs = ms;
      else {
        startMs.push(ms);
        firstExecuteMs.push(ms + replyMs);
      }
    } finally {
      await session.kill();
    }
  }
  return { warmupMs, startMs, medianStartMs: median(startMs), firstExecuteMs, medianFirstExecuteMs: median(firstExecuteMs) };
}

// ---- 2. execute round trip (and kernel_info, the same path without the code execution) -------------
export async function kernelInfoRoundTrips(session: Session, warmup: number, runs: number, timeoutMs: number): Promise<Summary> {
  for (let i = 0; i < warmup; i++) await session.timed('kernel_info_request', {}, timeoutMs);
  const idle: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await session.timed('kernel_info_request', {}, timeoutMs);
    if (!Number.isNaN(r.idleMs)) idle.push(r.idleMs);
  }
  return summarize(idle);
}

export interface RoundTrips {
  warmup: number;
  /** The first `runs` requests of the warm-up (right after start): both client and kernel are still JIT-cold. */
  coldToIdle: Summary;
  toIdle: Summary;
  toReply: Summary;
  idleSamplesMs: number[];
  replySamplesMs: number[];
  /** Requests whose idle never arrived, or whose reply was not status ok. */
  missingIdle: number;
  notOk: number;
  wallMs: number;
}

export async function roundTrips(session: Session, warmup: number, runs: number, timeoutMs: number): Promise<RoundTrips> {
  const code = session.kernel.code.trivial;
  const cold: number[] = [];
  for (let i = 0; i < warmup; i++) {
    const r = await session.execute(code, timeoutMs);
    session.client.forget(); // the same client for every kernel: it keeps nothing across this loop
    if (i < runs && !Number.isNaN(r.idleMs)) cold.push(r.idleMs);
  }
  const idle: number[] = [];
  const reply: number[] = [];
  let missingIdle = 0;
  let notOk = 0;
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) {
    const r = await session.execute(code, timeoutMs);
    session.client.forget();
    reply.push(r.replyMs);
    if (Number.isNaN(r.idleMs)) missingIdle++;
    else idle.push(r.idleMs);
    if (r.reply.content.status !== 'ok') notOk++;
  }
  return { warmup, coldToIdle: summarize(cold), toIdle: summarize(idle), toReply: summarize(reply), idleSamplesMs: idle, replySamplesMs: reply, missingIdle, notOk, wallMs: performance.now() - t0 };
}

// ---- 3. 20 MB printed in lines ---------------------------------------------------------------------
export interface Flood {
  lines: number;
  expectedBytes: number;
  toIdleMs: number;
  toReplyMs: number;
  idleReceived: boolean;
  replyStatus: string;
  /** stream messages (stdout and stderr) with this request as parent. */
  streamMessages: number;
  stdoutBytes: number;
  stderrBytes: number;
  /** expectedBytes − stdout bytes received (negative would mean extra text). */
  bytesLost: number;
  /** The stdout text received equals, byte for byte and in order, what the cell printed. */
  intact: boolean;
  largestMessageBytes: number;
  stderrSample: string;
}

export async function flood(session: Session, lines: number, timeoutMs: number): Promise<Flood> {
  const expected = floodText(lines);
  const r = await session.execute(session.kernel.code.flood(lines), timeoutMs);
  const mine: Message[] = session.client.iopubLog.filter((m) => m.parent_header.msg_id === r.msgId && m.header.msg_type === 'stream');
  const stdout: string[] = [];
  let stderr = '';
  let largest = 0;
  for (const m of mine) {
    const text = typeof m.content.text === 'string' ? m.content.text : '';
    largest = Math.max(largest, Buffer.byteLength(text));
    if (m.content.name === 'stdout') stdout.push(text);
    else stderr += text;
  }
  const received = stdout.join('');
  const expectedBytes = Buffer.byteLength(expected);
  const stdoutBytes = Buffer.byteLength(received);
  return {
    lines,
    expectedBytes,
    toIdleMs: r.idleMs,
    toReplyMs: r.replyMs,
    idleReceived: !Number.isNaN(r.idleMs),
    replyStatus: String(r.reply.content.status),
    streamMessages: mine.length,
    stdoutBytes,
    stderrBytes: Buffer.byteLength(stderr),
    bytesLost: expectedBytes - stdoutBytes,
    intact: received === expected,
    largestMessageBytes: largest,
    stderrSample: stderr.slice(0, 300),
  };
}

/** The flood run `runs` times on one kernel: the median time, and the worst message count and loss. */
export interface Floods {
  runs: Flood[];
  medianIdleMs: number;
  medianReplyMs: number;
  maxMessages: number;
  maxBytesLost: number;
  allIntact: boolean;
  allIdle: boolean;
}

export async function floods(session: Session, lines: number, runs: number, timeoutMs: number): Promise<Floods> {
  const out: Flood[] = [];
  for (let i = 0; i < runs; i++) out.push(await flood(session, lines, timeoutMs));
  const idle = out.filter((f) => f.idleReceived).map((f) => f.toIdleMs);
  return {
    runs: out,
    medianIdleMs: idle.length === out.length ? median(idle) : Number.NaN,
    medianReplyMs: median(out.map((f) => f.toReplyMs)),
    maxMessages: Math.max(...out.map((f) => f.streamMessages)),
    maxBytesLost: Math.max(...out.map((f) => f.bytesLost)),
    allIntact: out.every((f) => f.intact),
    allIdle: out.every((f) => f.idleReceived),
  };
}

// ---- 4. interrupt of a synchronous loop ------------------------------------------------------------
export interface Interrupts {
  how: string;
  /** From the interrupt (request sent / signal delivered) to the execute_reply of the loop. */
  samplesMs: number[];
  medianMs: number;
  /** interrupt_request → interrupt_reply, for message-mode kernels. */
  interruptReplyMs: number[];
  replies: Array<{ status: string; ename: string }>;
  /** Loop cells answered before any interrupt was sent (not counted; e.g. tslab aborts the cell after an interrupt). */
  answeredEarly: Array<{ status: string; afterMs: number }>;
  /** Why the series stopped early, if it did. */
  failure?: string;
  /** A `1` after the interrupts still ran. */
  aliveAfter: boolean;
}

export async function interrupts(session: Session, runs: number, waitMs: number, giveUpMs: number): Promise<Interrupts> {
  const { kernel, client } = session;
  const how = kernel.interruptMode === 'message' ? 'interrupt_request on control' : 'SIGINT to the kernel process';
  const samplesMs: number[] = [];
  const interruptReplyMs: number[] = [];
  const replies: Interrupts['replies'] = [];
  const answeredEarly: Interrupts['answeredEarly'] = [];
  let failure: string | undefined;
  for (let i = 0; i < runs * 2 && samplesMs.length < runs && !failure; i++) {
    const sent = performance.now();
    let arrived = Number.NaN;
    const replyP = client.request('execute_request', executeContent(kernel.code.busyLoop), { timeoutMs: waitMs + giveUpMs }).then((m) => {
      arrived = performance.now();
      return m;
    });
    replyP.catch(() => undefined);
    // Wait waitMs, unless the cell is answered before (then there is nothing to interrupt).
    await Promise.race([sleep(waitMs), replyP.catch(() => undefined)]);
    if (!Number.isNaN(arrived)) {
      const early = await replyP;
      answeredEarly.push({ status: String(early.content.status), afterMs: arrived - sent });
      await session.idleTime(String(early.parent_header.msg_id), 2000);
      continue;
    }
    const t0 = performance.now();
    if (kernel.interruptMode === 'message') {
      client.request('interrupt_request', {}, { channel: 'control', timeoutMs: giveUpMs }).then(
        () => interruptReplyMs.push(performance.now() - t0),
        () => undefined,
      );
    } else {
      process.kill(session.pid, 'SIGINT');
    }
    let reply: Message;
    try {
      reply = await replyP;
    } catch {
      failure = `no execute_reply within ${giveUpMs} ms after the interrupt (attempt ${i + 1})`;
      break;
    }
    samplesMs.push(arrived - t0);
    replies.push({ status: String(reply.content.status), ename: String(reply.content.ename ?? '') });
    await session.idleTime(String(reply.parent_header.msg_id), 2000);
    await sleep(20);
  }
  if (!failure && samplesMs.length < runs) failure = `only ${samplesMs.length} of ${runs} loop cells were still running when interrupted`;
  let aliveAfter = false;
  if (samplesMs.length > 0 || !failure) {
    try {
      const check = await session.execute(kernel.code.trivial, 5000);
      aliveAfter = check.reply.content.status === 'ok';
    } catch {
      aliveAfter = false;
    }
  }
  return { how, samplesMs, medianMs: median(samplesMs), interruptReplyMs, replies, answeredEarly, failure, aliveAfter };
}

// ---- 5. a 200-line TypeScript cell, end to end ------------------------------------------------------
export interface TypescriptCells {
  lines: number;
  /** The cell as the first request after kernel_info of a freshly started kernel (nothing warmed up). */
  firstFresh: { replyMs: number; idleMs: number };
  /** The cell as the first request of a fresh kernel, FIRST_CELL_PAUSE_MS after its kernel_info (a user's first cell). */
  firstAfterPause: { replyMs: number; idleMs: number };
  /** The first 200-line cell of the benchmark session (after the trivial round trips). */
  firstInSession: { replyMs: number; idleMs: number };
  /** New cells (a changed first-line comment each): transpile, compile and run every time. */
  newCell: { toReply: Summary; toIdle: Summary };
  /** The same cell again. */
  rerun: { toReply: Summary; toIdle: Summary };
  /** Replies not ok, or results other than the cell's value. */
  wrong: number;
}

function cellValue(session: Session, msgId: string): string | undefined {
  const result = session.client.iopubLog.find((m) => m.parent_header.msg_id === msgId && m.header.msg_type === 'execute_result');
  const data = result?.content.data as Record<string, unknown> | undefined;
  return typeof data?.['text/plain'] === 'string' ? data['text/plain'] : undefined;
}

/** A user's first cell comes at least this long after the frontend connected (the kernel warms up meanwhile). */
export const FIRST_CELL_PAUSE_MS = 1000;

export async function typescriptCells(session: Session, cwd: string, runs: number, startTimeoutMs: number, timeoutMs: number): Promise<TypescriptCells> {
  let wrong = 0;
  const run = async (s: Session, variant: number) => {
    const r = await s.execute(typescriptCell(variant), timeoutMs);
    if (r.reply.content.status !== 'ok' || cellValue(s, r.msgId) !== String(CELL_VALUE)) wrong++;
    return r;
  };
  const firstInFreshKernel = async (pauseMs: number): Promise<TypescriptCells['firstFresh']> => {
    const fresh = (await Session.launch(session.kernel, cwd, startTimeoutMs)).session;
    try {
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      const r = await run(fresh, -1);
      return { replyMs: r.replyMs, idleMs: r.idleMs };
    } finally {
      await fresh.kill();
    }
  };
  const firstFresh = await firstInFreshKernel(0);
  const firstAfterPause = await firstInFreshKernel(FIRST_CELL_PAUSE_MS);
  const first = await run(session, 0);
  const reply: number[] = [];
  const idle: number[] = [];
  for (let i = 1; i <= runs; i++) {
    const r = await run(session, i);
    reply.push(r.replyMs);
    if (!Number.isNaN(r.idleMs)) idle.push(r.idleMs);
  }
  const rerunReply: number[] = [];
  const rerunIdle: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await run(session, runs);
    rerunReply.push(r.replyMs);
    if (!Number.isNaN(r.idleMs)) rerunIdle.push(r.idleMs);
  }
  return {
    lines: CELL_LINES,
    firstFresh,
    firstAfterPause,
    firstInSession: { replyMs: first.replyMs, idleMs: first.idleMs },
    newCell: { toReply: summarize(reply), toIdle: summarize(idle) },
    rerun: { toReply: summarize(rerunReply), toIdle: summarize(rerunIdle) },
    wrong,
  };
}

// ---- 6. completion on an object with many properties -------------------------------------------------
export interface Completions {
  properties: number;
  code: string;
  toReply: Summary;
  toIdle: Summary;
  /** Matches in the last reply, and whether they were every `p<i>` with the right cursor_start. */
  matches: number;
  correct: boolean;
  replyBytes: number;
}

export async function completions(session: Session, properties: number, warmup: number, runs: number, timeoutMs: number): Promise<Completions> {
  const define = await session.execute(`const benchBig = Object.fromEntries(Array.from({ length: ${properties} }, (_, i) => ['p' + i, i]));`, timeoutMs);
  if (define.reply.content.status !== 'ok') throw new Error(`defining the ${properties}-property object failed: ${JSON.stringify(define.reply.content).slice(0, 300)}`);
  const code = 'benchBig.';
  const content = { code, cursor_pos: code.length };
  for (let i = 0; i < warmup; i++) await session.timed('complete_request', content, timeoutMs);
  const reply: number[] = [];
  const idle: number[] = [];
  let last: Message | undefined;
  for (let i = 0; i < runs; i++) {
    const r = await session.timed('complete_request', content, timeoutMs);
    reply.push(r.replyMs);
    if (!Number.isNaN(r.idleMs)) idle.push(r.idleMs);
    last = r.reply;
  }
  const matches = Array.isArray(last?.content.matches) ? (last.content.matches as unknown[]) : [];
  const ps = new Set(matches.filter((m): m is string => typeof m === 'string' && /^p\d+$/.test(m)));
  const correct = last?.content.status === 'ok' && last.content.cursor_start === code.length && ps.size === properties && ps.has(`p${properties - 1}`);
  return { properties, code, toReply: summarize(reply), toIdle: summarize(idle), matches: matches.length, correct, replyBytes: Buffer.byteLength(JSON.stringify(last?.content ?? {})) };
}
