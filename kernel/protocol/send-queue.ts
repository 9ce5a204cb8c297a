// Sends on one ZeroMQ socket, one at a time and in order: zeromq allows a single pending send per socket, and
// both ends (the kernel's transport, every client) queue several. An idle socket sends at once (no extra turn of
// the event loop on the hot path); a failed send rejects its own promise and never stops the ones queued after it.
import type * as zmq from 'zeromq';

export class SendQueue {
  /** Settles after the last queued send has settled; never rejects. */
  private tail: Promise<void> = Promise.resolve();
  private inFlight = 0;

  constructor(private readonly socket: zmq.Writable) {}

  /** Queues `frames`; resolves once ZeroMQ has taken them, rejects if this send fails. */
  send(frames: Buffer[]): Promise<void> {
    const sent = this.inFlight === 0 ? this.attempt(frames) : this.tail.then(() => this.attempt(frames));
    this.inFlight += 1;
    this.tail = sent.then(
      () => undefined,
      () => undefined,
    ).finally(() => {
      this.inFlight -= 1;
    });
    return sent;
  }

  private attempt(frames: Buffer[]): Promise<void> {
    try {
      return this.socket.send(frames);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Resolves once every send queued so far has settled. */
  drain(): Promise<void> {
    return this.tail;
  }
}
