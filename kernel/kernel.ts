// A running kernel: wires the data path together, one direction at a time:
// transport frames -> wire.decode -> dispatcher -> handlers -> executor -> (iopub/stdin/replies) -> wire.encode -> transport.
import { randomUUID } from 'node:crypto';
import type { ConnectionInfo } from './protocol/connection';
import { Transport, InboundChannel } from './transport';
import { Signer, decode, encode, newHeader } from './protocol/wire';
import type { Message, OutgoingMessage } from './protocol/messages';
import { Dispatcher } from './dispatcher';
import { createHandlers, KernelState } from './handlers';
import { ExecutorClient } from './executor/client';
import { History } from './history';
import { kernelMetrics } from './metrics';
import { endChildren } from './children';
import { log } from './log';

/** Bounds on what is held for the first IOPub subscriber. */
const HELD_MAX_MESSAGES = 1000;
const HELD_MAX_BYTES = 8 * 1024 * 1024;
/** How many requests' parent headers are kept for output that arrives after their reply. */
const PARENTS_KEPT = 4096;

export class Kernel {
  private readonly signer: Signer;
  private readonly transport: Transport;
  private readonly session = randomUUID();
  private readonly parents = new Map<string, Message>();
  private requests = 0;
  private readonly inputs = new Map<string, string>();
  private readonly executor: ExecutorClient;
  private readonly dispatcher: Dispatcher;
  private readonly state: KernelState = { executionCount: 0 };
  /** Input history, persisted in the user's data folder (kernel/history.ts); this kernel is the next session. */
  private readonly history = History.forKernel();
  /** Cells, magics, builds and deploys counted for /metrics (only when OPSBOOK_METRICS_PORT is set). */
  private readonly metrics = kernelMetrics();
  private shuttingDown = false;
  /**
   * IOPub messages published before the first subscriber arrived. A kernel this fast can answer a frontend's
   * first request before the frontend's SUB socket has subscribed (ZeroMQ's slow joiner), and a frontend that
   * waits for `idle` (jupyter console) would then wait forever. Held until the first subscription, bounded.
   */
  private held: { frames: Buffer[][]; bytes: number } | undefined = { frames: [], bytes: 0 };
  /**
   * Outgoing messages of the current turn, encoded and sent in order once it ends (a microtask). A request's
   * handler thus posts its work to the executor thread before the protocol thread spends time signing `busy`
   * and `execute_input`: the cell runs while they are sent. One outbox for every channel keeps their order.
   */
  private outbox: Array<() => void> = [];

  constructor(info: ConnectionInfo) {
    this.signer = new Signer(info.key, info.signature_scheme);
    this.transport = new Transport(info);
    this.executor = new ExecutorClient({
      iopub: (id, msgType, content, metadata) => this.publishFor(id, msgType, content, metadata),
      inputRequest: (id, inputId, prompt, password) => this.requestInput(id, inputId, prompt, password),
      metric: (event) => this.metrics.event(event),
      restarted: (ids, reason) => {
        for (const id of ids) this.publishFor(id, 'stream', { name: 'stderr', text: `[opsbook] ${reason}\n` });
      },
    });
    const handlers = createHandlers({
      executor: this.executor,
      history: this.history,
      state: this.state,
      publish: (parent, msgType, content) => this.publish(parent.header, msgType, content),
      track: (parent) => this.track(parent),
      shutdown: (restart) => void this.shutdown(restart),
      countCell: (status) => this.metrics.cell(status),
    });
    this.dispatcher = new Dispatcher(handlers, {
      reply: (channel, out) => this.send(channel, out),
      status: (state, parent) => this.publish(parent.header, 'status', { execution_state: state }),
    });
  }

  async start(): Promise<void> {
    await this.transport.bind();
    this.transport.start(
      (channel, frames) => this.receive(channel, frames),
      (topic) => this.subscribed(topic),
    );
    this.publish({}, 'status', { execution_state: 'starting' });
    process.on('SIGINT', () => void this.executor.interrupt());
    process.on('SIGTERM', () => void this.shutdown(false));
    this.exitWithParent();
    await this.executor.whenReady();
  }

  /**
   * Like ipykernel's parent poller: a kernel whose launcher died shuts down, never lingers. Two signs: the parent
   * it started with is no longer its parent (it was re-parented), or the launcher named by JPY_PARENT_PID (which
   * jupyter_client sets) no longer exists; the second also covers a launcher that died before this kernel got here.
   */
  private exitWithParent(): void {
    const parent = process.ppid;
    const launcher = Number(process.env.JPY_PARENT_PID);
    const watchLauncher = Number.isInteger(launcher) && launcher > 1;
    if (parent <= 1 && !watchLauncher) return; // started by init: nothing to watch
    const gone = (): string | undefined => {
      if (parent > 1 && process.ppid !== parent) return `the process that started this kernel (pid ${parent}) is gone`;
      if (watchLauncher && !processExists(launcher)) return `the launcher (JPY_PARENT_PID ${launcher}) is gone`;
      return undefined;
    };
    const timer = setInterval(() => {
      const why = gone();
      if (why === undefined) return;
      log.warn(`${why}; shutting down`);
      clearInterval(timer);
      void this.shutdown(false);
    }, 1000);
    timer.unref();
  }

  private receive(channel: InboundChannel, frames: Buffer[]): void {
    const decoded = decode(this.signer, frames);
    if (!decoded.ok) {
      log.warn(`dropped a message on ${channel}: ${decoded.error}${decoded.detail ? ` (${decoded.detail})` : ''}`);
      return;
    }
    const message = decoded.message;
    this.executor.requestReceived();
    if (channel === 'stdin') this.receiveInput(message);
    else this.dispatcher.dispatch(channel, message);
  }

  /** Names a request for the executor. Our own counter, not msg_id: a client may reuse a msg_id. */
  private track(message: Message): string {
    const id = `r${++this.requests}`;
    this.parents.set(id, message);
    if (this.parents.size > PARENTS_KEPT) this.parents.delete(this.parents.keys().next().value as string);
    return id;
  }

  private send(channel: InboundChannel | 'iopub', out: OutgoingMessage): void {
    this.later(() => {
      const header = newHeader(out.msg_type, this.session, 'opsbook', new Date());
      const frames = encode(this.signer, header, out);
      if (channel === 'iopub' && this.held) this.hold(frames);
      else void this.transport.send(channel, frames);
    });
  }

  /** Queues an outgoing message's encoding and sending for the end of this turn (see `outbox`). */
  private later(sendOne: () => void): void {
    if (this.outbox.length === 0) queueMicrotask(() => this.flushOutbox());
    this.outbox.push(sendOne);
  }

  private flushOutbox(): void {
    const outbox = this.outbox;
    this.outbox = [];
    for (const sendOne of outbox) {
      try {
        sendOne();
      } catch (e) {
        log.error(`an outgoing message could not be sent: ${(e as Error).stack ?? String(e)}`);
      }
    }
  }

  private hold(frames: Buffer[]): void {
    const held = this.held as { frames: Buffer[][]; bytes: number };
    held.frames.push(frames);
    held.bytes += frames.reduce((n, f) => n + f.length, 0);
    if (held.frames.length > HELD_MAX_MESSAGES || held.bytes > HELD_MAX_BYTES) this.release();
  }

  /** Sends what was held, in order, and publishes directly from now on. */
  private release(): void {
    const held = this.held;
    this.held = undefined;
    for (const frames of held?.frames ?? []) void this.transport.send('iopub', frames);
  }

  /** A subscriber arrived (XPUB): welcome it (JEP 65), then deliver what was published before anyone listened. */
  private subscribed(topic: Buffer): void {
    const header = newHeader('iopub_welcome', this.session, 'opsbook', new Date());
    void this.transport.send('iopub', encode(this.signer, header, { msg_type: 'iopub_welcome', parent_header: {}, content: { subscription: topic.toString('utf8') } }));
    this.release();
  }

  private publish(parent: Message['parent_header'], msgType: string, content: Record<string, unknown>, metadata?: Record<string, unknown>): void {
    this.send('iopub', { msg_type: msgType, parent_header: parent, content, metadata });
  }

  private publishFor(requestId: string, msgType: string, content: Record<string, unknown>, metadata?: Record<string, unknown>): void {
    this.publish(this.parents.get(requestId)?.header ?? {}, msgType, content, metadata);
  }

  private requestInput(requestId: string, inputId: string, prompt: string, password: boolean): void {
    const parent = this.parents.get(requestId);
    if (!parent) {
      this.executor.answerInput(inputId, undefined, 'the request that asked for input is gone');
      return;
    }
    this.later(() => {
      const header = newHeader('input_request', this.session, 'opsbook', new Date());
      this.inputs.set(header.msg_id, inputId);
      const frames = encode(this.signer, header, { identities: parent.identities, msg_type: 'input_request', parent_header: parent.header, content: { prompt, password } });
      void this.transport.send('stdin', frames);
    });
  }

  /**
   * An input_reply answers the input_request named by its parent header. Classic Notebook 6 sends its replies
   * with an empty parent header: such a reply answers the oldest waiting request (what ipykernel does with any
   * reply), since a frontend has one input box at a time.
   */
  private receiveInput(message: Message): void {
    const named = message.parent_header.msg_id;
    const parentId = typeof named === 'string' && named !== '' ? named : (this.inputs.keys().next().value as string | undefined);
    const inputId = parentId === undefined ? undefined : this.inputs.get(parentId);
    if (message.header.msg_type !== 'input_reply' || parentId === undefined || !inputId) {
      log.warn(`ignored ${message.header.msg_type} on stdin: no input request is waiting for it`);
      return;
    }
    this.inputs.delete(parentId);
    this.executor.answerInput(inputId, typeof message.content.value === 'string' ? message.content.value : '');
  }

  async shutdown(restart: boolean): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    log.info(`shutting down${restart ? ' for restart' : ''}`);
    // children first, while the executor's thread (their parent) is still there to reap them: a child that
    // outlives it stays a zombie until init collects it
    await endChildren().catch(() => undefined);
    await this.executor.stop().catch(() => undefined);
    await this.transport.close();
    await this.metrics.close();
    await this.history.flush();
    process.exit(0);
  }
}

/** Whether a process with this pid exists (signal 0 checks without sending; EPERM: it exists, not ours). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
