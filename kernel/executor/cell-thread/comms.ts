// Comms in both directions: code opens comms to the frontend and registers targets the frontend can open.
// Outgoing comm messages are IOPub messages of the request that is current when they are sent.
import { randomUUID } from 'node:crypto';

export type CommHandler = (data: unknown, message: Record<string, unknown>) => void;

export interface Comm {
  readonly id: string;
  readonly targetName: string;
  send(data: unknown, metadata?: Record<string, unknown>): void;
  close(data?: unknown): void;
  onMsg(handler: CommHandler): void;
  onClose(handler: CommHandler): void;
}

type Emit = (msgType: 'comm_open' | 'comm_msg' | 'comm_close', content: Record<string, unknown>) => void;
type TargetHandler = (comm: Comm, data: unknown, message: Record<string, unknown>) => void;

class OpenComm implements Comm {
  private readonly msgHandlers: CommHandler[] = [];
  private readonly closeHandlers: CommHandler[] = [];
  closed = false;

  constructor(readonly id: string, readonly targetName: string, private readonly emit: Emit, private readonly forget: (id: string) => void) {}

  send(data: unknown, metadata?: Record<string, unknown>): void {
    if (this.closed) throw new Error(`comm ${this.id} (${this.targetName}) is closed`);
    void metadata;
    this.emit('comm_msg', { comm_id: this.id, data: data ?? {} });
  }

  close(data?: unknown): void {
    if (this.closed) return;
    this.closed = true;
    this.forget(this.id);
    this.emit('comm_close', { comm_id: this.id, data: data ?? {} });
  }

  onMsg(handler: CommHandler): void {
    this.msgHandlers.push(handler);
  }

  onClose(handler: CommHandler): void {
    this.closeHandlers.push(handler);
  }

  deliver(kind: 'msg' | 'close', data: unknown, message: Record<string, unknown>): void {
    if (kind === 'close') this.closed = true;
    for (const h of kind === 'msg' ? this.msgHandlers : this.closeHandlers) h(data, message);
  }
}

export class CommManager {
  private readonly comms = new Map<string, OpenComm>();
  private readonly targets = new Map<string, TargetHandler>();

  constructor(private readonly emit: Emit) {}

  /** The API cells see as `comms`. */
  api() {
    return {
      registerTarget: (name: string, handler: TargetHandler) => void this.targets.set(name, handler),
      unregisterTarget: (name: string) => void this.targets.delete(name),
      open: (targetName: string, data?: unknown, metadata?: Record<string, unknown>) => this.open(targetName, data, metadata),
    };
  }

  open(targetName: string, data?: unknown, metadata?: Record<string, unknown>): Comm {
    const comm = this.create(randomUUID(), targetName);
    this.emit('comm_open', { comm_id: comm.id, target_name: targetName, data: data ?? {}, metadata: metadata ?? {} });
    return comm;
  }

  info(targetName?: string): Record<string, { target_name: string }> {
    const out: Record<string, { target_name: string }> = {};
    for (const c of this.comms.values()) if (!targetName || c.targetName === targetName) out[c.id] = { target_name: c.targetName };
    return out;
  }

  /** Handles comm_open / comm_msg / comm_close from the frontend. Handler errors propagate to the caller. */
  receive(msgType: string, content: Record<string, unknown>): void {
    const id = String(content.comm_id ?? '');
    if (msgType === 'comm_open') {
      const target = String(content.target_name ?? '');
      const handler = this.targets.get(target);
      if (!handler) {
        this.emit('comm_close', { comm_id: id, data: {} });
        throw new Error(`no comm target named "${target}" is registered`);
      }
      handler(this.create(id, target), content.data, content);
      return;
    }
    const comm = this.comms.get(id);
    if (!comm) throw new Error(`${msgType} for unknown comm ${id}`);
    if (msgType === 'comm_close') {
      this.comms.delete(id);
      comm.deliver('close', content.data, content);
    } else comm.deliver('msg', content.data, content);
  }

  private create(id: string, targetName: string): OpenComm {
    const comm = new OpenComm(id, targetName, this.emit, (cid) => this.comms.delete(cid));
    this.comms.set(id, comm);
    return comm;
  }
}
