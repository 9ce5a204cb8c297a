// The Jupyter wire format, pure: frames <-> message objects, HMAC signing, constant-time verification and
// replay rejection. No sockets and no clock except what the caller passes in: the transport and the clients give it bytes and take bytes.
import { createHmac, timingSafeEqual, randomUUID } from 'node:crypto';
import type { Header, Message, OutgoingMessage } from './messages';
import { PROTOCOL_VERSION } from './messages';

export const DELIMITER = Buffer.from('<IDS|MSG>');

/** Why a frame set was refused. Expected on a public port, so it is data, not an exception. */
export type DecodeError =
  | 'no-delimiter'
  | 'too-few-frames'
  | 'bad-signature'
  | 'replayed'
  | 'bad-json'
  | 'bad-header';

export type DecodeResult = { ok: true; message: Message } | { ok: false; error: DecodeError; detail?: string };

const SCHEMES: Record<string, string> = { 'hmac-sha256': 'sha256', 'hmac-sha1': 'sha1', 'hmac-md5': 'md5', 'hmac-sha512': 'sha512' };

/** Signs and verifies messages for one connection. An empty key means unsigned both ways. */
export class Signer {
  private readonly algorithm: string;
  private readonly key: Buffer;
  private readonly seen = new Set<string>();
  private readonly seenOrder: string[] = [];

  constructor(key: string, scheme = 'hmac-sha256', private readonly replayWindow = 65536) {
    const algorithm = SCHEMES[scheme];
    if (!algorithm) throw new Error(`unsupported signature_scheme "${scheme}" (supported: ${Object.keys(SCHEMES).join(', ')})`);
    this.algorithm = algorithm;
    this.key = Buffer.from(key, 'utf8');
  }

  get enabled(): boolean {
    return this.key.length > 0;
  }

  sign(parts: Buffer[]): string {
    if (!this.enabled) return '';
    const hmac = createHmac(this.algorithm, this.key);
    for (const p of parts) hmac.update(p);
    return hmac.digest('hex');
  }

  /** Constant-time comparison of a received signature with the expected one. */
  verify(signature: Buffer, parts: Buffer[]): boolean {
    if (!this.enabled) return true;
    const expected = Buffer.from(this.sign(parts), 'ascii');
    return signature.length === expected.length && timingSafeEqual(signature, expected);
  }

  /** Records a signature; false when it was already seen (a replayed message). */
  remember(signature: string): boolean {
    if (!this.enabled) return true;
    if (this.seen.has(signature)) return false;
    this.seen.add(signature);
    this.seenOrder.push(signature);
    if (this.seenOrder.length > this.replayWindow) this.seen.delete(this.seenOrder.shift() as string);
    return true;
  }
}

/**
 * The bytes each decoded header arrived in. A reply's parent_header is its request's header: echoing those
 * bytes keeps it exactly as the client sent it, never re-serialises a hostile (deeply nested) header, and
 * saves a JSON.stringify per output message.
 */
const headerBytes = new WeakMap<object, Buffer>();

export function newHeader(msgType: string, session: string, username: string, now: Date): Header {
  return { msg_id: randomUUID(), session, username, date: now.toISOString(), msg_type: msgType, version: PROTOCOL_VERSION };
}

/** Encodes a message into ZeroMQ frames: identities, delimiter, signature, four JSON parts, buffers. */
export function encode(signer: Signer, header: Header, out: OutgoingMessage): Buffer[] {
  const parts = [
    Buffer.from(JSON.stringify(header)),
    headerBytes.get(out.parent_header) ?? Buffer.from(JSON.stringify(out.parent_header ?? {})),
    Buffer.from(JSON.stringify(out.metadata ?? {})),
    Buffer.from(JSON.stringify(out.content ?? {})),
  ];
  return [...(out.identities ?? []), DELIMITER, Buffer.from(signer.sign(parts)), ...parts, ...(out.buffers ?? [])];
}

function parseObject(frame: Buffer): Record<string, unknown> | undefined {
  const value: unknown = JSON.parse(frame.toString('utf8'));
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function isHeader(h: Record<string, unknown>): boolean {
  return typeof h.msg_id === 'string' && typeof h.msg_type === 'string' && h.msg_type.length > 0;
}

/** Decodes and verifies frames. Signature is checked before any JSON is parsed. */
export function decode(signer: Signer, frames: Buffer[]): DecodeResult {
  const at = frames.findIndex((f) => f.equals(DELIMITER));
  if (at < 0) return { ok: false, error: 'no-delimiter' };
  if (frames.length < at + 6) return { ok: false, error: 'too-few-frames', detail: `${frames.length - at - 1} frames after delimiter` };
  const signature = frames[at + 1];
  const parts = frames.slice(at + 2, at + 6);
  if (!signer.verify(signature, parts)) return { ok: false, error: 'bad-signature' };
  if (!signer.remember(signature.toString('ascii'))) return { ok: false, error: 'replayed' };
  let objects: (Record<string, unknown> | undefined)[];
  try {
    objects = parts.map(parseObject);
  } catch (e) {
    return { ok: false, error: 'bad-json', detail: (e as Error).message };
  }
  const [header, parent, metadata, content] = objects;
  if (!header || !parent || !metadata || !content) return { ok: false, error: 'bad-json', detail: 'a part is not a JSON object' };
  if (!isHeader(header)) return { ok: false, error: 'bad-header' };
  headerBytes.set(header, parts[0]);
  return {
    ok: true,
    message: {
      identities: frames.slice(0, at),
      header: header as unknown as Header,
      parent_header: parent as Partial<Header>,
      metadata,
      content,
      buffers: frames.slice(at + 6),
    },
  };
}
