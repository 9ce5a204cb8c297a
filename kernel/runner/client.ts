// The runner's Jupyter client over ZeroMQ: DEALER sockets for shell, control and stdin, a SUB socket for IOPub,
// every message signed and verified with kernel/protocol/wire. It only sends requests and hands each verified message to
// its listeners; what the messages mean is the run loop's business.
import { randomUUID } from 'node:crypto';
import * as zmq from 'zeromq';
import { ConnectionInfo, endpoint } from '../protocol/connection';
import type { Message } from '../protocol/messages';
import { SendQueue } from '../protocol/send-queue';
import { Signer, decode, encode, newHeader } from '../protocol/wire';

export type ClientChannel = 'shell' | 'control' | 'stdin' | 'iopub';
const SEND_TIMEOUT_MS = 10_000;

export type MessageListener = (channel: ClientChannel, message: Message) => void;

export class RunnerClient {
  readonly session = randomUUID();
  private readonly signer: Signer;
  private readonly sockets: { shell: zmq.Dealer; control: zmq.Dealer; stdin: zmq.Dealer; iopub: zmq.Subscriber };
  /** zeromq allows one pending send per socket: sends on each socket are queued. */
  private readonly queues: Record<'shell' | 'control', SendQueue>;
  private readonly listeners = new Set<MessageListener>();
  private closed = false;

  constructor(private readonly info: ConnectionInfo) {
    this.signer = new Signer(info.key, info.signature_scheme);
    this.sockets = { shell: new zmq.Dealer(), control: new zmq.Dealer(), stdin: new zmq.Dealer(), iopub: new zmq.Subscriber() };
    // shell and stdin share one identity: the kernel sends input_request to the identity that sent the request
    this.sockets.shell.routingId = this.session;
    this.sockets.stdin.routingId = this.session;
    for (const s of Object.values(this.sockets)) s.linger = 0;
    // a send that cannot be queued (a kernel that is gone) fails instead of waiting forever
    for (const s of [this.sockets.shell, this.sockets.control, this.sockets.stdin]) s.sendTimeout = SEND_TIMEOUT_MS;
    this.queues = { shell: new SendQueue(this.sockets.shell), control: new SendQueue(this.sockets.control) };
  }

  connect(): void {
    for (const channel of ['shell', 'control', 'stdin', 'iopub'] as const) {
      const socket = this.sockets[channel];
      socket.connect(endpoint(this.info, channel));
      void this.pump(channel, socket);
    }
    this.sockets.iopub.subscribe();
  }

  onMessage(listener: MessageListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async pump(channel: ClientChannel, socket: zmq.Dealer | zmq.Subscriber): Promise<void> {
    try {
      for await (const frames of socket) {
        const decoded = decode(this.signer, frames);
        if (!decoded.ok) continue; // a bad signature is not from our kernel
        for (const listener of this.listeners) listener(channel, decoded.message);
      }
    } catch {
      // the socket was closed
    }
  }

  /**
   * Signs and queues a request. The msg_id comes back at once, before anything is sent, so a listener can
   * recognise the reply however soon it arrives; `sent` settles once ZeroMQ has taken the frames.
   */
  request(channel: 'shell' | 'control', msgType: string, content: Record<string, unknown>, metadata: Record<string, unknown> = {}): { msgId: string; sent: Promise<void> } {
    const header = newHeader(msgType, this.session, 'opsbook-run', new Date());
    if (this.closed) return { msgId: header.msg_id, sent: Promise.reject(new Error('the connection to the kernel is closed')) };
    const frames = encode(this.signer, header, { msg_type: msgType, parent_header: {}, content, metadata });
    return { msgId: header.msg_id, sent: this.queues[channel].send(frames) };
  }

  /** Sends a request and resolves with its msg_id once ZeroMQ has taken it. */
  async send(channel: 'shell' | 'control', msgType: string, content: Record<string, unknown>, metadata: Record<string, unknown> = {}): Promise<string> {
    const { msgId, sent } = this.request(channel, msgType, content, metadata);
    await sent;
    return msgId;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    for (const s of Object.values(this.sockets)) s.close();
  }
}
