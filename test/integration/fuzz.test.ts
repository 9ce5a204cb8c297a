// Seeded fuzz of shell/control/stdin with 10,000+ malformed or mutated messages over raw ZeroMQ (the kernel must survive, answer exactly the well-formed requests, and still work), plus pinned cases it found.
import * as zmq from 'zeromq';
import { rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startTestKernel, TestKernel } from '../support/kernel-client';
import { endpoint } from '../../kernel/protocol/connection';
import type { ConnectionInfo } from '../../kernel/protocol/connection';
import { Signer, decode } from '../../kernel/protocol/wire';
import type { Message } from '../../kernel/protocol/messages';

/** FUZZ_SEED=<n> reproduces a run; FUZZ_COUNT=<n> changes the number of messages (at least 10,000 by default). */
const SEED = Number(process.env.FUZZ_SEED ?? 0x0b5b00c);
const COUNT = Math.max(1, Number(process.env.FUZZ_COUNT ?? 10_000));
const BATCH = 500;
const DELIMITER = Buffer.from('<IDS|MSG>');

jest.setTimeout(120_000);

// ---- seeded randomness -------------------------------------------------------------------------------

class Rng {
  constructor(private state: number) {}
  /** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = Math.imul(this.state ^ (this.state >>> 15), 1 | this.state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += '0123456789abcdef'[this.int(16)];
    return s;
  }
  text(n: number, alphabet = 'abcdefghijklmnopqrstuvwxyz_0123456789 {}[]()"\'\\,:;.-+*/=<>?\n\t\u00e9\u4e2d\ud83d\ude00'): string {
    const chars = [...alphabet];
    let s = '';
    for (let i = 0; i < n; i++) s += chars[this.int(chars.length)];
    return s;
  }
}

// ---- building frames ------------------------------------------------------------------------------

type Channel = 'shell' | 'control' | 'stdin';

interface Fuzzed {
  label: string;
  channel: Channel;
  frames: Buffer[];
  /** Set when the kernel must answer this message with exactly one reply (a well-formed, signed *_request on shell/control). */
  expectReply?: string;
  /** The msg_type of the request, when it is one. */
  msgType?: string;
  /** Set when the kernel may answer with one reply or drop the message (e.g. nesting deeper than it wants to handle). */
  mayReply?: string;
  /** Signed with the right key (what matters when a batch has to be replayed by hand). */
  signed?: boolean;
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v));

function header(rng: Rng, msgType: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { msg_id: `fuzz-${rng.hex(8)}-${rng.hex(12)}`, session: 'fuzz-session', username: 'fuzz', date: new Date().toISOString(), msg_type: msgType, version: '5.5', ...extra };
}

function signedFrames(signer: Signer, parts: Buffer[], identities: Buffer[] = [], buffers: Buffer[] = []): Buffer[] {
  return [...identities, DELIMITER, Buffer.from(signer.sign(parts)), ...parts, ...buffers];
}

function wellFormed(signer: Signer, h: Record<string, unknown>, content: unknown, options: { parent?: unknown; metadata?: unknown; identities?: Buffer[]; buffers?: Buffer[] } = {}): Buffer[] {
  return signedFrames(signer, [json(h), json(options.parent ?? {}), json(options.metadata ?? {}), json(content)], options.identities, options.buffers);
}

/** Contents of the right msg_type with wrong field types (and a few right ones), as a confused or hostile client sends. */
const WRONG_CONTENT: Array<[string, unknown]> = [
  ['execute_request', { code: 42 }],
  ['execute_request', { code: null, silent: 'yes', store_history: 'no', allow_stdin: 1, stop_on_error: null }],
  ['execute_request', { code: '1 + 1', user_expressions: [1] }],
  ['execute_request', { code: '"x".repeat(3)', user_expressions: { a: 42, b: null, c: '1 + 1', d: '(' } }],
  ['execute_request', { code: ['console.log(1)'] }],
  ['execute_request', { code: { toString: 'x' } }],
  ['execute_request', { code: '((' }],
  ['execute_request', { code: 'throw new Error("fuzz")' }],
  ['execute_request', { code: 'console.log("fuzz"); undefined' }],
  ['execute_request', { code: 'await null; [1, 2, 3]', silent: true }],
  ['execute_request', { code: 'display({ a: 1 }); clearOutput()', store_history: false }],
  ['execute_request', {}],
  ['complete_request', { code: 'Math.', cursor_pos: 'x' }],
  ['complete_request', { code: null, cursor_pos: -5 }],
  ['complete_request', { code: 'JSON.pa', cursor_pos: 1e308 }],
  ['complete_request', { code: '\ud83d\ude00.', cursor_pos: 1 }],
  ['complete_request', { code: 42 }],
  ['inspect_request', { code: 'Math.max', cursor_pos: [], detail_level: 'x' }],
  ['inspect_request', { code: { a: 1 }, cursor_pos: 3, detail_level: 7 }],
  ['inspect_request', { code: 'globalThis.process.env', cursor_pos: 22, detail_level: 1 }],
  ['is_complete_request', { code: {} }],
  ['is_complete_request', { code: 'function f() {' }],
  ['is_complete_request', { code: '`'.repeat(3) }],
  ['history_request', { hist_access_type: 'search', pattern: 42, n: -1 }],
  ['history_request', { hist_access_type: 'range', start: 'a', stop: null, session: 'x' }],
  ['history_request', { hist_access_type: 'tail', n: 'abc' }],
  ['history_request', { hist_access_type: 'search', pattern: '[(', unique: 'yes' }],
  ['history_request', { hist_access_type: 'nope' }],
  ['history_request', []],
  ['comm_info_request', { target_name: 42 }],
  ['comm_info_request', { target_name: null }],
  ['kernel_info_request', { unexpected: [1, { b: 2 }] }],
  ['connect_request', {}],
  ['interrupt_request', { now: 'please' }],
  ['comm_open', { comm_id: 42, target_name: null, data: 'x' }],
  ['comm_open', { comm_id: 'fuzz-comm', target_name: 'no-such-target', data: {} }],
  ['comm_msg', { comm_id: 'nope', data: [1, 2] }],
  ['comm_msg', {}],
  ['comm_close', { comm_id: null }],
  ['input_reply', { value: 42 }],
  ['debug_request', { command: 'initialize', seq: 'x' }],
  ['usage_request', {}],
];

/** msg_types that exist on every plain object's prototype chain: a lookup table must not find handlers there. */
const PROTOTYPE_NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', 'propertyIsEnumerable', 'toLocaleString', '__defineGetter__', '__lookupSetter__'];

function deeplyNested(depth: number): string {
  return `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

interface Generator {
  signer: Signer;
  rng: Rng;
  /** Earlier well-formed messages, for replays. */
  sent: Fuzzed[];
}

/** One fuzzed message; the weights keep well-formed requests (which cost the kernel real work) to about a fifth. */
function fuzzOne(g: Generator): Fuzzed {
  const { rng, signer } = g;
  const channel: Channel = rng.pick(['shell', 'shell', 'control', 'stdin'] as const);
  /** A signed message with a well-formed header: it needs a reply when it is a *_request on shell/control with object content. */
  const asRequest = (label: string, msgType: string, frames: Buffer[], msgId: string, content: unknown = {}): Fuzzed => {
    const objectContent = content !== null && typeof content === 'object' && !Array.isArray(content);
    const f: Fuzzed = { label, channel, frames, msgType, signed: true, expectReply: channel !== 'stdin' && msgType.endsWith('_request') && objectContent ? msgId : undefined };
    g.sent.push(f);
    return f;
  };
  const valid = () => {
    const [msgType, content] = rng.pick(WRONG_CONTENT);
    const h = header(rng, msgType);
    return { h, msgType, content, frames: wellFormed(signer, h, content) };
  };
  const roll = rng.int(1000);

  if (roll < 100) {
    // random frame counts of random bytes
    const n = rng.range(1, 10);
    return { label: 'random frames', channel, frames: Array.from({ length: n }, () => rng.bytes(rng.range(0, 300))) };
  }
  if (roll < 160) {
    // random frames around a delimiter
    const frames = Array.from({ length: rng.range(0, 9) }, () => rng.bytes(rng.range(0, 120)));
    frames.splice(rng.int(frames.length + 1), 0, DELIMITER);
    return { label: 'random frames with a delimiter', channel, frames };
  }
  if (roll < 220) {
    const { frames } = valid();
    return { label: 'missing delimiter', channel, frames: frames.filter((f) => !f.equals(DELIMITER)) };
  }
  if (roll < 290) {
    const { frames } = valid();
    return { label: 'too few frames', channel, frames: frames.slice(0, rng.range(1, 5)) };
  }
  if (roll < 350) {
    const { frames } = valid();
    const i = rng.range(2, frames.length - 1);
    frames[i] = frames[i].subarray(0, rng.int(frames[i].length));
    return { label: 'truncated frame', channel, frames };
  }
  if (roll < 430) {
    const { frames } = valid();
    const sig = Buffer.from(frames[1]);
    const bit = rng.int(sig.length * 8);
    sig[bit >> 3] ^= 1 << (bit & 7);
    frames[1] = sig;
    return { label: 'bit-flipped signature', channel, frames };
  }
  if (roll < 480) {
    const { frames } = valid();
    const i = rng.range(2, 5);
    const part = Buffer.from(frames[i]);
    if (part.length > 0) {
      const bit = rng.int(part.length * 8);
      part[bit >> 3] ^= 1 << (bit & 7);
    }
    frames[i] = part;
    return { label: 'bit-flipped part (signature no longer matches)', channel, frames };
  }
  if (roll < 520) {
    const { frames } = valid();
    frames[1] = rng.pick([Buffer.alloc(0), frames[1].subarray(0, 63), Buffer.concat([frames[1], Buffer.from('00')]), Buffer.from(frames[1].toString().toUpperCase()), rng.bytes(64)]);
    return { label: 'signature of the wrong length or case', channel, frames };
  }
  if (roll < 590) {
    // valid signature over parts that are not JSON
    const parts: Buffer[] = [json(header(rng, 'kernel_info_request')), json({}), json({}), json({})];
    const i = rng.int(4);
    parts[i] = rng.pick<() => Buffer>([
      () => rng.bytes(rng.range(0, 200)),
      () => Buffer.from('{'),
      () => Buffer.from(JSON.stringify(header(rng, 'kernel_info_request')).slice(0, -3)),
      () => Buffer.from([0xff, 0xfe, 0x7b, 0x7d]),
      () => Buffer.alloc(0),
      () => Buffer.from('{"a":1}{"b":2}'),
      () => Buffer.from('{"a": NaN}'),
    ])();
    return { label: 'valid signature, invalid JSON', channel, frames: signedFrames(signer, parts) };
  }
  if (roll < 650) {
    const parts: Buffer[] = [json(header(rng, 'kernel_info_request')), json({}), json({}), json({})];
    parts[rng.int(4)] = Buffer.from(rng.pick(['[]', '[1,2]', '42', '-0.5', 'null', 'true', '"a string"', '1e999']));
    return { label: 'valid signature, a part that is not an object', channel, frames: signedFrames(signer, parts) };
  }
  if (roll < 710) {
    const h = header(rng, 'kernel_info_request');
    const variant = rng.int(6);
    if (variant === 0) delete h.msg_type;
    if (variant === 1) h.msg_type = 42;
    if (variant === 2) h.msg_type = '';
    if (variant === 3) delete h.msg_id;
    if (variant === 4) h.msg_id = { id: 1 };
    if (variant === 5) h.msg_type = null;
    return { label: 'valid signature, bad header', channel, frames: wellFormed(signer, h, {}) };
  }
  if (roll < 715) {
    // huge frames: unsigned garbage, or a signed request carrying a huge string
    const size = rng.range(1, 4) * 1024 * 1024 + rng.int(1000);
    if (rng.chance(0.5)) return { label: 'huge unsigned frame', channel, frames: [DELIMITER, Buffer.from(rng.hex(64)), Buffer.alloc(size, rng.text(1)), json({}), json({}), json({})] };
    if (rng.chance(0.5)) {
      const h = header(rng, `fuzz_${rng.hex(4)}_request`);
      return asRequest('huge signed unknown request', String(h.msg_type), wellFormed(signer, h, { blob: 'z'.repeat(size) }), String(h.msg_id));
    }
    const h = header(rng, 'execute_request');
    return asRequest('huge signed execute', 'execute_request', wellFormed(signer, h, { code: `"${'q'.repeat(size)}".length`, silent: false, store_history: false }), String(h.msg_id));
  }
  if (roll < 790) {
    // unknown msg types with valid signatures
    const msgType = rng.pick([
      () => `${rng.text(rng.range(1, 20), 'abcdefghijklmnopqrstuvwxyz_')}_request`,
      () => rng.text(rng.range(1, 30)),
      () => rng.pick(PROTOTYPE_NAMES),
      () => `${rng.pick(PROTOTYPE_NAMES)}_request`,
      () => rng.pick(['execute_reply', 'status', 'stream', 'input_request', 'shutdown', 'kernel_info_reply', 'abort_request', 'apply_request']),
    ])();
    const h = header(rng, msgType);
    return asRequest(`unknown msg_type ${JSON.stringify(msgType.slice(0, 40))}`, msgType, wellFormed(signer, h, { x: rng.text(5) }), String(h.msg_id));
  }
  if (roll < 920) {
    // valid messages with wrong content types (and replays of earlier valid ones)
    if (rng.chance(0.1) && g.sent.length > 0) {
      const earlier = rng.pick(g.sent);
      return { label: `replay of an earlier ${earlier.label}`, channel: earlier.channel, frames: earlier.frames, signed: true };
    }
    const { h, msgType, content, frames } = valid();
    return asRequest(`wrong content: ${msgType}`, msgType, frames, String(h.msg_id), content);
  }
  if (roll < 950) {
    // odd but well-formed: extra identity frames, trailing buffers, odd parent/metadata objects
    const [msgType, content] = rng.pick(WRONG_CONTENT);
    const h = header(rng, msgType);
    const identities = Array.from({ length: rng.range(0, 3) }, () => Buffer.concat([Buffer.from('id'), rng.bytes(rng.range(0, 12))]));
    const buffers = Array.from({ length: rng.range(0, 3) }, () => rng.bytes(rng.range(0, 64)));
    // JSON.parse, not literals: `{ __proto__: ... }` in JavaScript sets the prototype instead of making a key.
    const parent = JSON.parse(rng.pick(['{}', '{"msg_id":42}', '{"msg_id":{"toString":1}}', '{"__proto__":{"polluted":true}}', '{"msg_type":["x"]}']));
    const metadata = JSON.parse(rng.pick(['{}', '{"deletedCells":[1]}', '{"__proto__":null}', '{"constructor":{"prototype":{"polluted":true}}}']));
    return asRequest(`odd envelope: ${msgType}`, msgType, wellFormed(signer, h, content, { parent, metadata, identities, buffers }), String(h.msg_id), content);
  }
  if (roll < 975) {
    // stdin traffic nobody asked for, including parents that are not strings
    const h = header(rng, rng.pick(['input_reply', 'input_reply', 'input_request', 'execute_request']));
    const parent = rng.pick<unknown>([{}, { msg_id: 'no-such-request' }, { msg_id: 42 }, { msg_id: ['a'] }, { msg_id: { toString: 1 } }, { msg_id: { valueOf: 'x', toString: [] } }]);
    return { label: `stray stdin ${String(h.msg_type)} with parent ${JSON.stringify(parent)}`, channel: 'stdin', signed: true, frames: wellFormed(signer, h, { value: rng.text(4) }, { parent }) };
  }
  if (roll < 980) {
    // deeply nested JSON in a signed message (parsers are iterative; serializers and structured clone often are not)
    const depth = rng.pick([1000, 5000, 20_000, 100_000]);
    const where = rng.int(3);
    const h = header(rng, 'kernel_info_request');
    const hText = where === 0 ? `${JSON.stringify(h).slice(0, -1)},"nested":${deeplyNested(depth)}}` : JSON.stringify(h);
    const parentText = where === 1 ? `{"nested":${deeplyNested(depth)}}` : '{}';
    const contentText = where === 2 ? `{"nested":${deeplyNested(depth)}}` : '{}';
    const frames = signedFrames(signer, [Buffer.from(hText), Buffer.from(parentText), Buffer.from('{}'), Buffer.from(contentText)]);
    const f = asRequest(`nested ${depth} deep in ${['header', 'parent_header', 'content'][where]}`, 'kernel_info_request', frames, String(h.msg_id));
    // Answering or refusing such a message are both fine; crashing or wedging is not.
    return { ...f, expectReply: undefined, mayReply: f.expectReply };
  }
  // plain well-formed requests, so the queues stay busy while garbage arrives
  const msgType = rng.pick(['kernel_info_request', 'is_complete_request', 'complete_request', 'comm_info_request', 'history_request']);
  const h = header(rng, msgType);
  const content = { code: 'Math.ma', cursor_pos: 7, hist_access_type: 'tail', n: 3, output: false, raw: true };
  return asRequest(`well-formed ${msgType}`, msgType, wellFormed(signer, h, content), String(h.msg_id));
}

// ---- raw sockets -----------------------------------------------------------------------------------

interface RawPeer {
  sockets: Record<Channel, zmq.Dealer>;
  /** parent msg_id -> replies received */
  replies: Map<string, Message[]>;
  /** Frames received that do not decode with the connection key. */
  undecodable: Buffer[][];
  close(): void;
}

function rawPeer(info: ConnectionInfo): RawPeer {
  const verifier = new Signer(info.key, info.signature_scheme);
  const sockets = { shell: new zmq.Dealer(), control: new zmq.Dealer(), stdin: new zmq.Dealer() };
  const replies = new Map<string, Message[]>();
  const undecodable: Buffer[][] = [];
  for (const [name, s] of Object.entries(sockets) as [Channel, zmq.Dealer][]) {
    s.linger = 0;
    s.sendTimeout = 5000;
    s.sendHighWaterMark = 10_000;
    s.receiveHighWaterMark = 100_000;
    s.connect(endpoint(info, name));
    void (async () => {
      try {
        for await (const frames of s) {
          const d = decode(verifier, frames);
          if (!d.ok) {
            undecodable.push(frames);
            continue;
          }
          const id = String(d.message.parent_header.msg_id);
          replies.set(id, [...(replies.get(id) ?? []), d.message]);
        }
      } catch {
        // closed
      }
    })();
  }
  return { sockets, replies, undecodable, close: () => Object.values(sockets).forEach((s) => s.close()) };
}

function signedBy(info: ConnectionInfo, h: Record<string, unknown>, content: unknown, parent: unknown = {}): Buffer[] {
  return wellFormed(new Signer(info.key, info.signature_scheme), h, content, { parent });
}

// ---- kernel lifecycle ------------------------------------------------------------------------------

const started: TestKernel[] = [];

async function kernel(): Promise<TestKernel> {
  const k = await startTestKernel();
  started.push(k);
  return k;
}

afterEach(async () => {
  for (const k of started.splice(0)) {
    const connectionFile = k.kernel.child.spawnargs[k.kernel.child.spawnargs.length - 1];
    // A wedged kernel cannot answer shutdown_request (on control): give it a moment, then end it by pid.
    const responsive = () => k.client.request('kernel_info_request', {}, { channel: 'control', timeoutMs: 1500 }).then(() => true, () => false);
    if (alive(k) && !(await responsive())) {
      k.kernel.child.kill('SIGKILL');
      await k.kernel.exited;
    }
    if (alive(k)) await k.stop();
    else k.client.close();
    const dir = path.dirname(connectionFile);
    if (dir.startsWith(path.join(os.tmpdir(), 'opsbook-test-'))) rmSync(dir, { recursive: true, force: true });
  }
});

function alive(k: TestKernel): boolean {
  return k.kernel.child.exitCode === null && k.kernel.child.signalCode === null;
}

function stderrTail(k: TestKernel): string {
  return k.kernel.stderr().split('\n').filter((l) => !/dropped a message|unknown message type|ignored .* on stdin/.test(l)).slice(-40).join('\n');
}

/** The kernel does everything a frontend needs: heartbeat, kernel_info on shell and control, execute, stdin. */
async function expectHealthy(k: TestKernel): Promise<void> {
  const c = k.client;
  const outcome = async (what: () => Promise<unknown>): Promise<string> => {
    try {
      const v = await what();
      return v === true || v === undefined ? 'ok' : `unexpected: ${JSON.stringify(v).slice(0, 300)}`;
    } catch (e) {
      return `failed: ${(e as Error).message}`;
    }
  };
  const checks: Record<string, string> = {};
  checks.process = alive(k) ? 'ok' : `exited (code ${k.kernel.child.exitCode}, signal ${k.kernel.child.signalCode})`;
  checks.heartbeat = await outcome(async () => (await c.ping(3000)) >= 0);
  for (const channel of ['shell', 'control'] as const) {
    checks[`kernel_info on ${channel}`] = await outcome(async () => {
      const info = await c.request('kernel_info_request', {}, { channel, timeoutMs: 5000 });
      return info.header.msg_type === 'kernel_info_reply' && info.content.status === 'ok' && info.content.implementation === 'opsbook' || info.content;
    });
  }
  checks.execute = await outcome(async () => {
    const r = await c.execute('const fuzzSurvivor = 6; fuzzSurvivor * 7', {}, 5000);
    const data = r.outputs.find((m) => m.header.msg_type === 'execute_result')?.content.data as Record<string, unknown> | undefined;
    return (r.reply.content.status === 'ok' && data?.['text/plain'] === '42' && r.statuses.join() === 'busy,idle') || { reply: r.reply.content, data, statuses: r.statuses };
  });
  checks['input() over stdin'] = await outcome(async () => {
    c.onInput = (req) => (req.content.prompt === 'fuzz? ' ? 'still listening' : undefined);
    const r = await c.execute('await input("fuzz? ")', {}, 5000);
    const data = r.outputs.find((m) => m.header.msg_type === 'execute_result')?.content.data as Record<string, unknown> | undefined;
    return (r.reply.content.status === 'ok' && data?.['text/plain'] === "'still listening'") || { reply: r.reply.content, data };
  });
  checks['process after'] = alive(k) ? 'ok' : 'exited';
  const healthy = Object.fromEntries(Object.keys(checks).map((name) => [name, 'ok']));
  if (JSON.stringify(checks) !== JSON.stringify(healthy)) {
    throw new Error(`the kernel is not healthy:\n${Object.entries(checks).map(([n, v]) => `  ${n}: ${v}`).join('\n')}\n--- kernel stderr ---\n${stderrTail(k)}`);
  }
}

// ---- the fuzz --------------------------------------------------------------------------------------

test(`${COUNT} malformed or mutated messages on shell, control and stdin (seed ${SEED})`, async () => {
  const t0 = Date.now();
  const k = await kernel();
  const peer = rawPeer(k.client.info);
  const g: Generator = { signer: new Signer(k.client.info.key, k.client.info.signature_scheme), rng: new Rng(SEED), sent: [] };
  const expected = new Map<string, { what: string; replyType: string }>();
  const optional = new Set<string>();
  const labels = new Map<string, number>();
  const channels: Record<Channel, number> = { shell: 0, control: 0, stdin: 0 };
  try {
    for (let i = 0; i < COUNT; i += BATCH) {
      const batch: string[] = [];
      for (let j = i; j < Math.min(COUNT, i + BATCH); j++) {
        const m = fuzzOne(g);
        const key = m.label.replace(/ ".*"$| with parent .*$|: .*$/, '');
        labels.set(key, (labels.get(key) ?? 0) + 1);
        channels[m.channel] += 1;
        if (m.signed) batch.push(`#${j} ${m.channel} ${m.label}`);
        if (m.expectReply) expected.set(m.expectReply, { what: `#${j} ${m.channel} ${m.label}`, replyType: String(m.msgType).replace(/_request$/, '_reply') });
        if (m.mayReply) optional.add(m.mayReply);
        try {
          await peer.sockets[m.channel].send(m.frames);
        } catch (e) {
          throw new Error(`could not send message #${j} (${m.label}): ${(e as Error).message}; kernel alive: ${alive(k)}\n${stderrTail(k)}`);
        }
      }
      // After every batch the kernel must be alive and its heartbeat live: a failure names the batch to replay.
      const beat = await k.client.ping(5000).then(() => 'ok', (e: Error) => e.message);
      if (!alive(k) || beat !== 'ok') {
        throw new Error(`kernel ${alive(k) ? `stopped answering its heartbeat (${beat})` : `exited (code ${k.kernel.child.exitCode}, signal ${k.kernel.child.signalCode})`} during messages #${i}..#${i + BATCH - 1} (seed ${SEED}); the correctly signed messages of that batch:\n${batch.join('\n')}\n--- kernel stderr ---\n${stderrTail(k)}`);
      }
    }

    // Every well-formed *_request got exactly one signed reply; nothing else was answered.
    const deadline = Date.now() + 30_000;
    const missing = () => [...expected.keys()].filter((id) => !peer.replies.has(id));
    while (missing().length > 0 && Date.now() < deadline && alive(k)) await new Promise((r) => setTimeout(r, 100));
    const unanswered = missing().map((id) => expected.get(id)?.what);
    const unexpected = [...peer.replies.entries()].filter(([id]) => !expected.has(id) && !optional.has(id)).map(([id, ms]) => `${ms[0].header.msg_type} to ${id}`);
    const duplicated = [...peer.replies.entries()].filter(([, ms]) => ms.length > 1).map(([id, ms]) => `${ms.length} replies to ${expected.get(id)?.what ?? id}`);
    // Each reply has the request's reply type and a status the spec allows (is_complete has its own statuses).
    const malformed = [...peer.replies.entries()]
      .filter(([id]) => expected.has(id))
      .filter(([id, [reply]]) => reply.header.msg_type !== expected.get(id)?.replyType
        || !['ok', 'error', 'aborted', ...(reply.header.msg_type === 'is_complete_reply' ? ['complete', 'incomplete', 'invalid', 'unknown'] : [])].includes(String(reply.content.status)))
      .map(([id, [reply]]) => `${expected.get(id)?.what} -> ${reply.header.msg_type} ${JSON.stringify(reply.content).slice(0, 200)}`);
    expect({ unanswered: unanswered.slice(0, 20), unansweredCount: unanswered.length, unexpected: unexpected.slice(0, 20), duplicated: duplicated.slice(0, 20), malformed: malformed.slice(0, 20), undecodable: peer.undecodable.length }).toEqual({
      unanswered: [], unansweredCount: 0, unexpected: [], duplicated: [], malformed: [], undecodable: 0,
    });

    await expectHealthy(k);
    // The generator still covers every kind of message it is meant to (a guard against a fuzz that silently narrows).
    if (COUNT >= 10_000) {
      const kinds = ['random frames', 'random frames with a delimiter', 'missing delimiter', 'too few frames', 'truncated frame', 'bit-flipped signature', 'bit-flipped part',
        'signature of the wrong length', 'valid signature, invalid JSON', 'valid signature, a part that is not an object', 'valid signature, bad header', 'huge unsigned',
        'huge signed', 'unknown msg_type', 'wrong content', 'replay of', 'odd envelope', 'stray stdin', 'nested'];
      expect(kinds.filter((kind) => ![...labels.keys()].some((l) => l.startsWith(kind)))).toEqual([]);
      expect(Object.values(channels).every((n) => n > 1000)).toBe(true);
      expect(expected.size).toBeGreaterThan(1000);
    }
  } finally {
    peer.close();
  }
  expect(Date.now() - t0).toBeLessThan(90_000);
});

// ---- pinned cases (each found by the fuzz above; deterministic, one kernel each) ----------------------

test('a signed header with a field nested 100,000 deep does not bring the kernel down', async () => {
  const k = await kernel();
  const peer = rawPeer(k.client.info);
  try {
    const signer = new Signer(k.client.info.key, k.client.info.signature_scheme);
    const h = header(new Rng(1), 'kernel_info_request');
    const parts = [`${JSON.stringify(h).slice(0, -1)},"nested":${deeplyNested(100_000)}}`, '{}', '{}', '{}'].map((s) => Buffer.from(s));
    await peer.sockets.shell.send(signedFrames(signer, parts));
    await new Promise((r) => setTimeout(r, 1000));
    if (!alive(k)) throw new Error(`kernel exited (code ${k.kernel.child.exitCode})\n${stderrTail(k)}`);
    await expectHealthy(k);
  } finally {
    peer.close();
  }
});

test('an input_reply whose parent msg_id is an object does not end the stdin channel', async () => {
  const k = await kernel();
  const peer = rawPeer(k.client.info);
  try {
    for (const parent of [{ msg_id: { toString: 1 } }, { msg_id: { valueOf: 'x', toString: [] } }, { msg_id: ['a', 'b'] }]) {
      await peer.sockets.stdin.send(signedBy(k.client.info, header(new Rng(2), 'input_reply'), { value: 'x' }, parent));
    }
    await new Promise((r) => setTimeout(r, 300));
    await expectHealthy(k); // includes an input() round trip over stdin
  } finally {
    peer.close();
  }
});

test('a control request that reuses the msg_id of a running execute does not wedge shell', async () => {
  const k = await kernel();
  const peer = rawPeer(k.client.info);
  try {
    const h = header(new Rng(3), 'execute_request');
    await peer.sockets.shell.send(signedBy(k.client.info, h, { code: 'await new Promise((r) => setTimeout(r, 300)); "slow"', silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true }));
    await new Promise((r) => setTimeout(r, 100));
    await peer.sockets.control.send(signedBy(k.client.info, { ...h, msg_type: 'complete_request' }, { code: 'Mat', cursor_pos: 3 }));
    // a fresh kernel's first cell: on a loaded machine its thread may take seconds to start
    const deadline = Date.now() + 30_000;
    const types = () => (peer.replies.get(String(h.msg_id)) ?? []).map((m) => m.header.msg_type).sort();
    while (!types().includes('execute_reply') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 200));
    // The execute must be answered (shell goes on); the duplicate on control may be answered or refused, once at most.
    expect(types().filter((t) => t === 'execute_reply')).toEqual(['execute_reply']);
    expect(types().filter((t) => t === 'complete_reply').length).toBeLessThanOrEqual(1);
    await expectHealthy(k);
  } finally {
    peer.close();
  }
});

test('msg_types named like Object.prototype members are unknown types: no reply, no crash', async () => {
  const k = await kernel();
  const peer = rawPeer(k.client.info);
  try {
    const rng = new Rng(4);
    for (const name of PROTOTYPE_NAMES) await peer.sockets.shell.send(signedBy(k.client.info, header(rng, name), { a: 1 }));
    // A plain unknown type, as the reference: the dispatcher answers only *_request types it does not know.
    await peer.sockets.shell.send(signedBy(k.client.info, header(rng, 'no_such_message'), { a: 1 }));
    const marker = header(rng, 'kernel_info_request');
    await peer.sockets.shell.send(signedBy(k.client.info, marker, {}));
    const deadline = Date.now() + 5000;
    while (!peer.replies.has(String(marker.msg_id)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(peer.replies.has(String(marker.msg_id))).toBe(true); // shell is serial: everything before it was handled
    const answered = [...peer.replies.values()].flat().map((m) => m.header.msg_type).filter((t) => t !== 'kernel_info_reply');
    expect(answered).toEqual([]);
    await expectHealthy(k);
  } finally {
    peer.close();
  }
});

test('a history search with a pathological glob neither blocks the heartbeat nor control', async () => {
  const k = await kernel();
  const c = k.client;
  await c.execute(`"${'a'.repeat(40)}"`);
  const started = Date.now();
  const search = c.request('history_request', { hist_access_type: 'search', pattern: `${'*a'.repeat(20)}*b`, output: false, raw: true }, { timeoutMs: 5000 }).then(
    (m) => m,
    (e: Error) => e,
  );
  const beat = await c.ping(2000).then(() => 'ok', (e: Error) => `heartbeat: ${e.message}`);
  const control = await c.request('kernel_info_request', {}, { channel: 'control', timeoutMs: 2000 }).then(() => 'ok', (e: Error) => `control: ${e.message}`);
  const reply = await search;
  expect({ beat, control }).toEqual({ beat: 'ok', control: 'ok' });
  expect(reply).not.toBeInstanceOf(Error);
  expect((reply as Message).content).toMatchObject({ status: 'ok', history: [] });
  expect(Date.now() - started).toBeLessThan(5000);
});
