// Owns the five ZeroMQ sockets bound from the connection file. It moves raw frames only: decoding and
// signing are the wire's job, meaning is the dispatcher's. The heartbeat is answered here, on the
// protocol thread, so it stays live whatever a cell is doing.
import * as zmq from 'zeromq';
import { ConnectionInfo, endpoint } from './protocol/connection';
import { SendQueue } from './protocol/send-queue';
import { log } from './log';

export type InboundChannel = 'shell' | 'control' | 'stdin';

export class Transport {
  private readonly shell = new zmq.Router();
  private readonly control = new zmq.Router();
  private readonly stdin = new zmq.Router();
  private readonly iopub = new zmq.XPublisher();
  private readonly hb = new zmq.Reply();
  private readonly queues: Record<InboundChannel | 'iopub', SendQueue>;

  constructor(private readonly info: ConnectionInfo) {
    for (const s of [this.shell, this.control, this.stdin]) s.linger = 1000;
    this.iopub.linger = 1000;
    this.iopub.verbosity = 'allSubs'; // deliver every subscription so each subscriber gets its welcome
    this.queues = {
      shell: new SendQueue(this.shell),
      control: new SendQueue(this.control),
      stdin: new SendQueue(this.stdin),
      iopub: new SendQueue(this.iopub),
    };
  }

  /** Binds every socket on the connection file's addresses. Port 0 in the file is not supported. */
  async bind(): Promise<void> {
    await Promise.all([
      this.shell.bind(endpoint(this.info, 'shell')),
      this.control.bind(endpoint(this.info, 'control')),
      this.stdin.bind(endpoint(this.info, 'stdin')),
      this.iopub.bind(endpoint(this.info, 'iopub')),
      this.hb.bind(endpoint(this.info, 'hb')),
    ]);
  }

  /** Starts the receive loops. `onFrames` gets each inbound multipart message of shell/control/stdin. */
  start(onFrames: (channel: InboundChannel, frames: Buffer[]) => void, onSubscribe: (topic: Buffer) => void): void {
    const pump = async (channel: InboundChannel, socket: zmq.Router) => {
      try {
        for await (const frames of socket) {
          try {
            onFrames(channel, frames);
          } catch (e) {
            // one bad message must never end a channel
            log.error(`${channel}: a message could not be handled: ${(e as Error).stack ?? String(e)}`);
          }
        }
      } catch (e) {
        if (!socket.closed) log.error(`${channel} receive loop ended: ${(e as Error).message}`);
      }
    };
    void pump('shell', this.shell);
    void pump('control', this.control);
    void pump('stdin', this.stdin);
    void (async () => {
      try {
        for await (const [frame] of this.iopub) {
          if (frame && frame.length > 0 && frame[0] === 1) onSubscribe(frame.subarray(1));
        }
      } catch (e) {
        if (!this.iopub.closed) log.error(`iopub subscription loop ended: ${(e as Error).message}`);
      }
    })();
    void (async () => {
      try {
        for await (const frames of this.hb) await this.hb.send(frames);
      } catch (e) {
        if (!this.hb.closed) log.error(`heartbeat ended: ${(e as Error).message}`);
      }
    })();
  }

  /** Queues frames on a channel's socket; resolves once sent. A failed send is logged, never thrown. */
  send(channel: InboundChannel | 'iopub', frames: Buffer[]): Promise<void> {
    return this.queues[channel].send(frames).catch((e: Error) => {
      if (!this[channel].closed) log.warn(`send on ${channel} failed: ${e.message}`);
    });
  }

  /** Waits for queued sends, then closes every socket. */
  async close(): Promise<void> {
    await Promise.all(Object.values(this.queues).map((q) => q.drain()));
    for (const s of [this.shell, this.control, this.stdin, this.iopub, this.hb]) s.close();
  }
}
