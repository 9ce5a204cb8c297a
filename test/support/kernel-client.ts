// A TypeScript Jupyter client over real ZeroMQ for tests and benchmarks: signs and sends requests on
// shell/control, collects IOPub per parent msg_id, answers stdin, pings the heartbeat.
import * as zmq from 'zeromq';
import { randomUUID } from 'node:crypto';
import type { ConnectionInfo } from '../../kernel/connection';
import { endpoint } from '../../kernel/connection';
import { Signer, decode, encode, newHeader } from '../../kernel/wire';
import type { Message } from '../../kernel/messages';
import { startKernelProcess, KernelProcess, ConnectionOptions } from './kernel-process';

export interface ExecuteResult {
  reply: Message;
  /** IOPub messages with this request as parent, from busy to idle (status messages excluded). */
  outputs: Message[];
  /** Status messages seen for this request, in order. */
  statuses: string[];
}

type Waiter = { resolve: (m: Message) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

export class KernelClient {
  readonly session = randomUUID();
  readonly signer: Signer;
  readonly shell = new zmq.Dealer();
  readonly control = new zmq.Dealer();
  readonly stdin = new zmq.Dealer();
  readonly iopub = new zmq.Subscriber();
  /** Every IOPub message received, in order. */
  readonly iopubLog: Message[] = [];
  private readonly replies = new Map<string, Waiter>();
  private readonly idleWaiters = new Map<string, Waiter>();
  private readonly idleSeen = new Set<string>();
  private readonly iopubListeners = new Set<(m: Message) => void>();
  /** Called for each input_request; return the value to answer with (undefined: do not answer). */
  onInput: ((request: Message) => string | undefined) | undefined;
  private closed = false;

  constructor(readonly info: ConnectionInfo) {
    this.signer = new Signer(info.key, info.signature_scheme);
    this.shell.routingId = this.session;
    this.stdin.routingId = this.session;
    for (const s of [this.shell, this.control, this.stdin, this.iopub]) s.linger = 0;
  }

  async connect(): Promise<void> {
    this.shell.connect(endpoint(this.info, 'shell'));
    this.control.connect(endpoint(this.info, 'control'));
    this.stdin.connect(endpoint(this.info, 'stdin'));
    this.iopub.connect(endpoint(this.info, 'iopub'));
    this.iopub.subscribe();
    void this.pump(this.shell, (m) => this.settleReply(m));
    void this.pump(this.control, (m) => this.settleReply(m));
    void this.pump(this.stdin, (m) => void this.answerInput(m));
    void this.pump(this.iopub, (m) => this.onIopub(m));
  }

  private async pump(socket: zmq.Dealer | zmq.Subscriber, handle: (m: Message) => void): Promise<void> {
    try {
      for await (const frames of socket) {
        const decoded = decode(this.signer, frames);
        if (decoded.ok) handle(decoded.message);
      }
    } catch {
      // socket closed
    }
  }

  private settleReply(m: Message): void {
    const id = String(m.parent_header.msg_id ?? '');
    const waiter = this.replies.get(id);
    if (!waiter) return;
    this.replies.delete(id);
    clearTimeout(waiter.timer);
    waiter.resolve(m);
  }

  private onIopub(m: Message): void {
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

  onIopubMessage(listener: (m: Message) => void): () => void {
    this.iopubListeners.add(listener);
    return () => this.iopubListeners.delete(listener);
  }

  async sendOn(socket: zmq.Dealer, msgType: string, content: unknown, parent: Partial<Message['header']> = {}): Promise<string> {
    const header = newHeader(msgType, this.session, 'test', new Date());
    await socket.send(encode(this.signer, header, { msg_type: msgType, parent_header: parent, content }));
    return header.msg_id;
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
  async request(msgType: string, content: unknown, options: { channel?: 'shell' | 'control'; timeoutMs?: number } = {}): Promise<Message> {
    const socket = options.channel === 'control' ? this.control : this.shell;
    const header = newHeader(msgType, this.session, 'test', new Date());
    const reply = this.waitFor(this.replies, header.msg_id, options.timeoutMs ?? 20000, `${msgType} reply`);
    await socket.send(encode(this.signer, header, { msg_type: msgType, parent_header: {}, content }));
    return reply;
  }

  /** Resolves when the kernel publishes idle for this request (immediately if it already has). */
  waitIdle(msgId: string, timeoutMs = 20000): Promise<Message | undefined> {
    if (this.idleSeen.has(msgId)) return Promise.resolve(undefined);
    return this.waitFor(this.idleWaiters, msgId, timeoutMs, `idle of ${msgId}`);
  }

  /** Sends a request, waits for its reply and for its idle, and returns both with the outputs between. */
  async call(msgType: string, content: unknown, options: { channel?: 'shell' | 'control'; timeoutMs?: number } = {}): Promise<ExecuteResult> {
    const reply = await this.request(msgType, content, options);
    const id = String(reply.parent_header.msg_id);
    await this.waitIdle(id, options.timeoutMs);
    const mine = this.iopubLog.filter((m) => m.parent_header.msg_id === id);
    return {
      reply,
      outputs: mine.filter((m) => m.header.msg_type !== 'status'),
      statuses: mine.filter((m) => m.header.msg_type === 'status').map((m) => String(m.content.execution_state)),
    };
  }

  execute(code: string, options: Record<string, unknown> = {}, timeoutMs?: number): Promise<ExecuteResult> {
    return this.call('execute_request', { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: true, stop_on_error: true, ...options }, { timeoutMs });
  }

  /** Waits until the kernel answers kernel_info (retrying while it starts). */
  async ready(timeoutMs = 20000): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await this.request('kernel_info_request', {}, { timeoutMs: 1000 });
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

export async function startTestKernel(options: ConnectionOptions & { env?: NodeJS.ProcessEnv } = {}): Promise<TestKernel> {
  const kernel = await startKernelProcess(options);
  const client = new KernelClient(kernel.info);
  await client.connect();
  try {
    await client.ready();
  } catch (e) {
    kernel.child.kill('SIGKILL');
    client.close();
    throw new Error(`kernel did not answer kernel_info: ${(e as Error).message}\nstderr:\n${kernel.stderr()}`);
  }
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
    },
  };
}
