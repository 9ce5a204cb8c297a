// A TypeScript Jupyter client over real ZeroMQ for tests and benchmarks: signs and sends requests on
// shell/control, collects IOPub per parent msg_id, answers stdin, pings the heartbeat. Every message it receives
// is checked against the messaging spec (message-schema.ts): a message that breaks it fails the test that caused
// it (call() throws for its own request's messages; an afterEach hook reports any other).
import * as zmq from 'zeromq';
import { randomUUID } from 'node:crypto';
import type { ConnectionInfo } from '../../kernel/protocol/connection';
import { endpoint } from '../../kernel/protocol/connection';
import { SendQueue } from '../../kernel/protocol/send-queue';
import { Signer, decode, encode, newHeader } from '../../kernel/protocol/wire';
import type { Message } from '../../kernel/protocol/messages';
import { startKernelProcess, KernelProcess, ConnectionOptions } from './kernel-process';
import { messageProblems } from './message-schema';

export interface ExecuteResult {
  reply: Message;
  /** IOPub messages with this request as parent, from busy to idle (status messages excluded). */
  outputs: Message[];
  /** Status messages seen for this request, in order. */
  statuses: string[];
}

/** A received message that breaks the messaging spec. */
export interface SpecViolation {
  /** msg_id of the request it answers or was caused by ('' when it has no parent). */
  parentId: string;
  /** What is wrong, with the message's type, channel, parent request and content. */
  text: string;
}

/** Violations no test has failed for yet, from every client of this test file (reported by the hooks below). */
const unreported = new Set<SpecViolation>();

function reportViolations(): void {
  if (unreported.size === 0) return;
  const texts = [...unreported].map((v) => v.text);
  unreported.clear();
  throw new Error(`the kernel sent ${texts.length} message(s) that break the Jupyter messaging spec:\n${texts.join('\n')}`);
}

// Under jest, each test fails for the messages it caused that break the spec (this module is imported at the top
// of a test file, where hooks may be declared); in the benchmarks (plain node) there are no hooks.
const { afterEach: eachTestEnd, afterAll: fileEnd } = globalThis as { afterEach?: (fn: () => void) => void; afterAll?: (fn: () => void) => void };
const underJest = typeof eachTestEnd === 'function' && typeof fileEnd === 'function';
if (underJest) {
  eachTestEnd(reportViolations);
  fileEnd(reportViolations);
}

function describeViolation(channel: string, m: Message, problems: string[], parentType: string | undefined): string {
  const parent = m.parent_header?.msg_id ? ` in answer to ${parentType ?? m.parent_header.msg_type ?? 'a request'} ${m.parent_header.msg_id}` : '';
  let content = JSON.stringify(m.content) ?? String(m.content);
  if (content.length > 400) content = `${content.slice(0, 397)}...`;
  return `- ${m.header?.msg_type ?? '(no msg_type)'} on ${channel}${parent}:\n    ${problems.join('\n    ')}\n    content: ${content}`;
}

type Waiter = { resolve: (m: Message) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

export type ClientChannel = 'shell' | 'control' | 'stdin';

/** A message received on shell, control or stdin, with the raw frames it came in. */
export interface Received {
  channel: ClientChannel;
  message: Message;
  frames: Buffer[];
}

export class KernelClient {
  readonly session = randomUUID();
  readonly signer: Signer;
  readonly shell = new zmq.Dealer();
  readonly control = new zmq.Dealer();
  readonly stdin = new zmq.Dealer();
  readonly iopub = new zmq.Subscriber();
  /** Every IOPub message received, in order. */
  readonly iopubLog: Message[] = [];
  /** Every message received on shell, control and stdin, in order, with its raw frames. */
  readonly replyLog: Received[] = [];
  /** Received messages that break the messaging spec, in order. */
  readonly violations: SpecViolation[] = [];
  /** zeromq allows one pending send per socket: sends on each socket are queued. */
  private readonly queues = new Map<zmq.Dealer, SendQueue>([this.shell, this.control, this.stdin].map((s) => [s, new SendQueue(s)]));
  private readonly replies = new Map<string, Waiter>();
  private readonly idleWaiters = new Map<string, Waiter>();
  private readonly idleSeen = new Set<string>();
  private readonly iopubListeners = new Set<(m: Message) => void>();
  /** msg_type of each request this client built, by msg_id (to say what a bad message answered). */
  private readonly sentTypes = new Map<string, string>();
  /** Called for each input_request; return the value to answer with (undefined: do not answer). */
  onInput: ((request: Message) => string | undefined) | undefined;
  private closed = false;

  constructor(readonly info: ConnectionInfo) {
    this.signer = new Signer(info.key, info.signature_scheme);
    this.shell.routingId = this.session;
    this.stdin.routingId = this.session;
    for (const s of [this.shell, this.control, this.stdin, this.iopub]) s.linger = 0;
  }

  /** Resolves when each shell/control/stdin socket has completed its first ZMTP handshake with the kernel. */
  private handshakes: Promise<void> = Promise.resolve();

  private handshaken(socket: zmq.Dealer): Promise<void> {
    const events = socket.events; // observe before connecting so the event is not missed
    return (async () => {
      try {
        for await (const ev of events) if (ev.type === 'handshake') break;
      } catch {
        // socket closed before it connected
      }
      // No events.close() here: with zeromq 6.8, closing an observer while its socket stays open leaves the
      // process unable to (re)connect afterwards (a kernel restarted on the same ports, or the next client in the
      // same process, never answers). The observer closes with its socket.
    })();
  }

  async connect(): Promise<void> {
    this.handshakes = Promise.all([this.shell, this.control, this.stdin].map((s) => this.handshaken(s))).then(() => undefined);
    this.shell.connect(endpoint(this.info, 'shell'));
    this.control.connect(endpoint(this.info, 'control'));
    this.stdin.connect(endpoint(this.info, 'stdin'));
    this.iopub.connect(endpoint(this.info, 'iopub'));
    this.iopub.subscribe();
    void this.pump(this.shell, (m, f) => this.settleReply('shell', m, f));
    void this.pump(this.control, (m, f) => this.settleReply('control', m, f));
    void this.pump(this.stdin, (m, f) => {
      this.checkSpec('stdin', m);
      this.replyLog.push({ channel: 'stdin', message: m, frames: f });
      void this.answerInput(m);
    });
    void this.pump(this.iopub, (m) => this.onIopub(m));
  }

  private async pump(socket: zmq.Dealer | zmq.Subscriber, handle: (m: Message, frames: Buffer[]) => void): Promise<void> {
    try {
      for await (const frames of socket) {
        const decoded = decode(this.signer, frames);
        if (decoded.ok) handle(decoded.message, frames);
      }
    } catch {
      // socket closed
    }
  }

  /** Records a message that breaks the messaging spec, for call() and the afterEach hook to report. */
  private checkSpec(channel: ClientChannel | 'iopub', m: Message): void {
    const problems = messageProblems(m);
    if (problems.length === 0) return;
    const parentId = String(m.parent_header?.msg_id ?? '');
    const violation = { parentId, text: describeViolation(channel, m, problems, this.sentTypes.get(parentId)) };
    if (this.violations.length < 100) this.violations.push(violation);
    if (underJest) unreported.add(violation);
  }

  private settleReply(channel: ClientChannel, m: Message, frames: Buffer[]): void {
    this.checkSpec(channel, m);
    this.replyLog.push({ channel, message: m, frames });
    const id = String(m.parent_header.msg_id ?? '');
    const waiter = this.replies.get(id);
    if (!waiter) return;
    this.replies.delete(id);
    clearTimeout(waiter.timer);
    waiter.resolve(m);
  }

  private onIopub(m: Message): void {
    this.checkSpec('iopub', m);
    this.iopubLog.push(m);
    for (const l of this.iopubListeners) l(m);
    if (m.header.msg_type === 'status' && m.content.execution_state === 'idle') {
      const id = String(m.parent_header.msg_id ?? '');
      this.idleSeen.add(id);
      const waiter = this.idleWaiters.get(id);
      if (waiter) {
        this.idleWaiters.delete(id);
        clearTimeout(waiter.timer);
        waiter.resolve(m);
      }
    }
  }

  private async answerInput(m: Message): Promise<void> {
    const value = this.onInput?.(m);
    if (value === undefined) return;
    await this.sendOn(this.stdin, 'input_reply', { value }, m.header);
  }

  /** Drops the messages kept so far (a long benchmark loop would otherwise hold every one of them). */
  forget(): void {
    this.iopubLog.length = 0;
    this.replyLog.length = 0;
    this.violations.length = 0;
    this.sentTypes.clear();
    this.idleSeen.clear();
  }

  onIopubMessage(listener: (m: Message) => void): () => void {
    this.iopubListeners.add(listener);
    return () => this.iopubListeners.delete(listener);
  }

  async sendOn(socket: zmq.Dealer, msgType: string, content: unknown, parent: Partial<Message['header']> = {}): Promise<string> {
    const { msgId, frames } = this.frames(msgType, content, parent);
    await this.sendRaw(socket, frames);
    return msgId;
  }

  /** Builds the signed frames of a message without sending it (for tests that tamper with or resend frames). */
  frames(msgType: string, content: unknown, parent: Partial<Message['header']> = {}, metadata: Record<string, unknown> = {}): { msgId: string; frames: Buffer[] } {
    const header = newHeader(msgType, this.session, 'test', new Date());
    if (this.sentTypes.size < 100_000) this.sentTypes.set(header.msg_id, msgType);
    return { msgId: header.msg_id, frames: encode(this.signer, header, { msg_type: msgType, parent_header: parent, content, metadata }) };
  }

  socketOf(channel: ClientChannel): zmq.Dealer {
    return channel === 'control' ? this.control : channel === 'stdin' ? this.stdin : this.shell;
  }

  /** Sends frames as they are, after any send already under way on that socket. */
  sendRaw(socket: zmq.Dealer | ClientChannel, frames: Buffer[]): Promise<void> {
    const s = typeof socket === 'string' ? this.socketOf(socket) : socket;
    const queue = this.queues.get(s) ?? new SendQueue(s);
    this.queues.set(s, queue);
    return queue.send(frames);
  }

  /** Resolves with the reply whose parent is `msgId` (at once if it already arrived). */
  waitReply(msgId: string, timeoutMs = 20000): Promise<Message> {
    const seen = this.replyLog.find((r) => r.channel !== 'stdin' && r.message.parent_header.msg_id === msgId);
    if (seen) return Promise.resolve(seen.message);
    return this.waitFor(this.replies, msgId, timeoutMs, `reply to ${msgId}`);
  }

  /** Replies (shell/control) received so far whose parent is `msgId`. */
  repliesTo(msgId: string): Received[] {
    return this.replyLog.filter((r) => r.channel !== 'stdin' && r.message.parent_header.msg_id === msgId);
  }

  /** Resolves with the first IOPub message (already received or future) that matches. */
  waitForIopub(match: (m: Message) => boolean, timeoutMs = 20000, what = 'an IOPub message'): Promise<Message> {
    const seen = this.iopubLog.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const off = this.onIopubMessage((m) => {
        if (!match(m)) return;
        clearTimeout(timer);
        off();
        resolve(m);
      });
    });
  }

  /** IOPub messages received so far with `msgId` as parent (status included). */
  iopubFor(msgId: string): Message[] {
    return this.iopubLog.filter((m) => m.parent_header.msg_id === msgId);
  }

  private waitFor(map: Map<string, Waiter>, id: string, timeoutMs: number, what: string): Promise<Message> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        map.delete(id);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      map.set(id, { resolve, reject, timer });
    });
  }

  /** Sends a request and resolves with its reply. */
  async request(msgType: string, content: unknown, options: { channel?: 'shell' | 'control'; timeoutMs?: number; metadata?: Record<string, unknown> } = {}): Promise<Message> {
    const { msgId, frames } = this.frames(msgType, content, {}, options.metadata);
    const reply = this.waitFor(this.replies, msgId, options.timeoutMs ?? 20000, `${msgType} reply`);
    await this.sendRaw(options.channel ?? 'shell', frames);
    return reply;
  }

  /** Resolves when the kernel publishes idle for this request (immediately if it already has). */
  waitIdle(msgId: string, timeoutMs = 20000): Promise<Message | undefined> {
    if (this.idleSeen.has(msgId)) return Promise.resolve(undefined);
    return this.waitFor(this.idleWaiters, msgId, timeoutMs, `idle of ${msgId}`);
  }

  /** Sends a request, waits for its reply and for its idle, and returns both with the outputs between. */
  async call(msgType: string, content: unknown, options: { channel?: 'shell' | 'control'; timeoutMs?: number; metadata?: Record<string, unknown> } = {}): Promise<ExecuteResult> {
    const reply = await this.request(msgType, content, options);
    const id = String(reply.parent_header.msg_id);
    await this.waitIdle(id, options.timeoutMs);
    const mine = this.iopubLog.filter((m) => m.parent_header.msg_id === id);
    const broken = this.violations.filter((v) => v.parentId === id && unreported.delete(v));
    if (broken.length > 0) throw new Error(`the kernel's answer to ${msgType} broke the Jupyter messaging spec:\n${broken.map((v) => v.text).join('\n')}`);
    return {
      reply,
      outputs: mine.filter((m) => m.header.msg_type !== 'status'),
      statuses: mine.filter((m) => m.header.msg_type === 'status').map((m) => String(m.content.execution_state)),
    };
  }

  execute(code: string, options: Record<string, unknown> = {}, timeoutMs?: number): Promise<ExecuteResult> {
    return this.call('execute_request', { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: true, stop_on_error: true, ...options }, { timeoutMs });
  }

  /**
   * Waits until the kernel answers kernel_info (retrying while it starts), shell, control and stdin have
   * connected, and IOPub is connected: a SUB socket misses what is published before its subscription reaches
   * the kernel, so this waits for the kernel's iopub_welcome or, from kernels without one, for IOPub traffic
   * of a kernel_info (as jupyter_client does).
   */
  async ready(timeoutMs = 20000): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    let info: Message | undefined;
    for (;;) {
      try {
        info = await this.request('kernel_info_request', {}, { timeoutMs: 1000 });
        // a ROUTER drops what it sends to a peer that has not connected yet: an input_request, for one
        await Promise.race([this.handshakes, new Promise((_, reject) => setTimeout(() => reject(new Error('stdin/control did not connect')), 1000))]);
        if (this.iopubLog.length > 0) return info;
        await this.waitForIopub(() => true, 200, 'IOPub traffic');
        return info;
      } catch (e) {
        if (Date.now() > deadline) throw e;
      }
    }
  }

  /** One heartbeat round trip; resolves with its latency in ms, rejects after timeoutMs. */
  async ping(timeoutMs = 1000): Promise<number> {
    const hb = new zmq.Request();
    hb.linger = 0;
    hb.receiveTimeout = timeoutMs;
    hb.connect(endpoint(this.info, 'hb'));
    const started = process.hrtime.bigint();
    try {
      await hb.send('ping');
      const [echo] = await hb.receive();
      if (echo.toString() !== 'ping') throw new Error('heartbeat echoed something else');
      return Number(process.hrtime.bigint() - started) / 1e6;
    } finally {
      hb.close();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of [...this.replies.values(), ...this.idleWaiters.values()]) clearTimeout(w.timer);
    for (const s of [this.shell, this.control, this.stdin, this.iopub]) s.close();
  }
}

/** A kernel process plus a connected client. `stop()` shuts it down (or kills it) and closes sockets. */
export interface TestKernel {
  kernel: KernelProcess;
  client: KernelClient;
  stop(): Promise<void>;
}

const START_ATTEMPTS = 3;

export async function startTestKernel(options: ConnectionOptions & { env?: NodeJS.ProcessEnv } = {}): Promise<TestKernel> {
  for (let attempt = 1; ; attempt++) {
    const kernel = await startKernelProcess(options);
    const client = new KernelClient(kernel.info);
    await client.connect();
    try {
      await client.ready();
      return connected(kernel, client);
    } catch (e) {
      kernel.child.kill('SIGKILL');
      client.close();
      // a port picked as free can be taken by another process before the kernel binds it: try fresh ones
      if (attempt < START_ATTEMPTS && /address already in use/i.test(kernel.stderr())) continue;
      throw new Error(`kernel did not answer kernel_info: ${(e as Error).message}\nstderr:\n${kernel.stderr()}`);
    }
  }
}

function connected(kernel: KernelProcess, client: KernelClient): TestKernel {
  return {
    kernel,
    client,
    async stop() {
      if (kernel.child.exitCode === null) {
        try {
          await client.request('shutdown_request', { restart: false }, { channel: 'control', timeoutMs: 3000 });
        } catch {
          // already gone
        }
        const timer = setTimeout(() => kernel.child.kill('SIGKILL'), 5000);
        await kernel.exited;
        clearTimeout(timer);
      }
      client.close();
      kernel.cleanup();
    },
  };
}
