// The dispatcher: one table msg_type -> handler for shell and control. All plumbing lives here, once:
// status busy/idle around every request, the reply (<type>_reply, same parent), queues (shell and control
// each run one request at a time; control never waits for shell), and stop_on_error aborts.
import type { Message, OutgoingMessage } from './protocol/messages';
import { log } from './log';

export type RequestChannel = 'shell' | 'control';

export interface Reply {
  content: Record<string, unknown>;
  metadata?: Record<string, unknown>;
}

/** A handler does the request's work and returns its reply content, or nothing for messages without reply. */
export type Handler = (message: Message, channel: RequestChannel) => Promise<Reply | void> | Reply | void;

export interface DispatcherOutput {
  reply(channel: RequestChannel, message: OutgoingMessage): void;
  status(state: 'busy' | 'idle', parent: Message): void;
}

class SerialQueue {
  readonly waiting: Array<{ message: Message; run: () => Promise<void> }> = [];
  private active = false;

  push(message: Message, run: () => Promise<void>): void {
    this.waiting.push({ message, run });
    if (!this.active) void this.drain();
  }

  private async drain(): Promise<void> {
    this.active = true;
    while (this.waiting.length > 0) {
      const next = this.waiting.shift() as { run: () => Promise<void> };
      await next.run();
    }
    this.active = false;
  }
}

function replyType(msgType: string): string {
  return msgType.endsWith('_request') ? `${msgType.slice(0, -'_request'.length)}_reply` : `${msgType}_reply`;
}

export class Dispatcher {
  private readonly queues: Record<RequestChannel, SerialQueue> = { shell: new SerialQueue(), control: new SerialQueue() };
  private readonly aborting = new Set<Message>();

  /** A Map, not an object: a msg_type such as "constructor" must not find Object.prototype's members. */
  private readonly handlers: Map<string, Handler>;

  constructor(handlers: Record<string, Handler>, private readonly out: DispatcherOutput) {
    this.handlers = new Map(Object.entries(handlers));
  }

  dispatch(channel: RequestChannel, message: Message): void {
    this.queues[channel].push(message, () => this.handle(channel, message));
  }

  private async handle(channel: RequestChannel, message: Message): Promise<void> {
    const msgType = message.header.msg_type;
    this.out.status('busy', message);
    try {
      if (this.aborting.delete(message)) {
        this.send(channel, message, { content: { status: 'aborted', execution_count: null } });
        return;
      }
      const handler = this.handlers.get(msgType);
      if (!handler) {
        log.warn(`unknown message type "${msgType}" on ${channel}`);
        if (msgType.endsWith('_request')) {
          this.send(channel, message, { content: { status: 'error', ename: 'UnknownMessageType', evalue: `opsbook does not handle ${msgType}`, traceback: [] } });
        }
        return;
      }
      let reply: Reply | void;
      try {
        reply = await handler(message, channel);
      } catch (e) {
        log.error(`handler for ${msgType} failed: ${(e as Error).stack ?? String(e)}`);
        reply = { content: { status: 'error', ename: 'KernelError', evalue: (e as Error).message ?? String(e), traceback: [] } };
      }
      if (!reply) return;
      this.send(channel, message, reply);
      if (msgType === 'execute_request' && reply.content.status === 'error' && message.content.stop_on_error !== false) this.abortQueuedExecutes();
    } finally {
      this.out.status('idle', message);
    }
  }

  /** stop_on_error: every execute_request already queued behind the failed one gets an `aborted` reply. */
  private abortQueuedExecutes(): void {
    for (const queue of Object.values(this.queues)) {
      for (const { message } of queue.waiting) if (message.header.msg_type === 'execute_request') this.aborting.add(message);
    }
  }

  private send(channel: RequestChannel, message: Message, reply: Reply): void {
    this.out.reply(channel, {
      identities: message.identities,
      msg_type: replyType(message.header.msg_type),
      parent_header: message.header,
      content: reply.content,
      metadata: reply.metadata ?? {},
    });
  }
}
