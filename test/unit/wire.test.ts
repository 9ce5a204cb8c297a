// Unit tests of kernel/protocol/wire: known-answer signatures from jupyter_client, round trips, replay rejection,
// malformed frames.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Signer, decode, encode, newHeader, DELIMITER } from '../../kernel/protocol/wire';

interface Vector {
  scheme: string;
  key: string;
  frames: string[];
  parts: string[];
}
const vectors = JSON.parse(readFileSync(path.join(__dirname, 'fixtures', 'wire-vectors.json'), 'utf8')) as Vector[];
const buf = (s: string) => Buffer.from(s, 'utf8');

describe('known answers from jupyter_client', () => {
  test.each(vectors.map((v) => [v.scheme, v.key || '(empty key)', v] as const))('%s with key %s', (_scheme, _key, v) => {
    const signer = new Signer(v.key, v.scheme);
    expect(signer.sign(v.parts.map(buf))).toBe(v.frames[2]);
    const decoded = decode(signer, v.frames.map(buf));
    if (!decoded.ok) throw new Error(decoded.error);
    expect(decoded.message.identities.map((b) => b.toString())).toEqual(['client-id']);
    expect(decoded.message.header.msg_type).toBe('execute_request');
    expect(decoded.message.content).toEqual({ code: "console.log('héllo 🌍')", silent: false });
    expect(decoded.message.metadata).toEqual({ cell: 'ünïcode ✓' });
  });
});

describe('encode and decode', () => {
  const signer = () => new Signer('key', 'hmac-sha256');
  const header = newHeader('kernel_info_reply', 'sess', 'opsbook', new Date('2026-01-01T00:00:00Z'));

  test('round trip keeps identities, parts and buffers', () => {
    const frames = encode(signer(), header, { identities: [buf('a'), buf('b')], msg_type: 'x', parent_header: { msg_id: 'p' }, content: { n: 1 }, buffers: [Buffer.from([1, 2, 3])] });
    const decoded = decode(signer(), frames);
    if (!decoded.ok) throw new Error(decoded.error);
    expect(decoded.message.identities.map(String)).toEqual(['a', 'b']);
    expect(decoded.message.header).toEqual(header);
    expect(decoded.message.parent_header).toEqual({ msg_id: 'p' });
    expect(decoded.message.content).toEqual({ n: 1 });
    expect(decoded.message.buffers).toEqual([Buffer.from([1, 2, 3])]);
  });

  test('our signature is what jupyter_client computes over the same parts', () => {
    const v = vectors[0];
    const frames = encode(new Signer(v.key, v.scheme), JSON.parse(v.parts[0]), { msg_type: 'execute_request', parent_header: {}, metadata: JSON.parse(v.parts[2]), content: JSON.parse(v.parts[3]) });
    const ours = decode(new Signer(v.key, v.scheme), frames);
    expect(ours.ok).toBe(true);
  });

  test('an empty key sends an empty signature and accepts unsigned messages', () => {
    const unsigned = new Signer('');
    const frames = encode(unsigned, header, { msg_type: 'x', parent_header: {}, content: {} });
    expect(frames[1].length).toBe(0);
    expect(decode(new Signer(''), frames).ok).toBe(true);
  });

  test('a replayed message is rejected, a fresh one is not', () => {
    const s = signer();
    const frames = encode(s, header, { msg_type: 'x', parent_header: {}, content: {} });
    const receiver = signer();
    expect(decode(receiver, frames).ok).toBe(true);
    expect(decode(receiver, frames)).toEqual({ ok: false, error: 'replayed' });
    const other = encode(s, newHeader('x', 'sess', 'u', new Date()), { msg_type: 'x', parent_header: {}, content: {} });
    expect(decode(receiver, other).ok).toBe(true);
  });

  test('the replay window is bounded', () => {
    const receiver = new Signer('key', 'hmac-sha256', 2);
    const first = encode(signer(), newHeader('x', 's', 'u', new Date()), { msg_type: 'x', parent_header: {}, content: {} });
    expect(decode(receiver, first).ok).toBe(true);
    for (let i = 0; i < 2; i++) decode(receiver, encode(signer(), newHeader('x', 's', 'u', new Date()), { msg_type: 'x', parent_header: {}, content: {} }));
    expect(decode(receiver, first).ok).toBe(true);
  });

  test('unknown signature schemes are refused at setup', () => {
    expect(() => new Signer('k', 'hmac-rot13')).toThrow(/unsupported signature_scheme/);
  });
});

describe('malformed frames', () => {
  const s = new Signer('key');
  const good = () => encode(new Signer('key'), newHeader('x', 's', 'u', new Date()), { msg_type: 'x', parent_header: {}, content: {} });

  test('no delimiter', () => {
    expect(decode(s, [buf('a'), buf('b')])).toMatchObject({ ok: false, error: 'no-delimiter' });
  });
  test('too few frames after the delimiter', () => {
    expect(decode(s, [DELIMITER, buf('sig'), buf('{}')])).toMatchObject({ ok: false, error: 'too-few-frames' });
  });
  test('a flipped bit in the signature', () => {
    const frames = good();
    frames[1] = Buffer.from(frames[1]);
    frames[1][3] ^= 1;
    expect(decode(s, frames)).toMatchObject({ ok: false, error: 'bad-signature' });
  });
  test('a signature of another length', () => {
    const frames = good();
    frames[1] = frames[1].subarray(0, 10);
    expect(decode(s, frames)).toMatchObject({ ok: false, error: 'bad-signature' });
  });
  test('a changed content part', () => {
    const frames = good();
    frames[5] = buf('{"code":"evil"}');
    expect(decode(s, frames)).toMatchObject({ ok: false, error: 'bad-signature' });
  });
  test('validly signed but not JSON, or not objects, or a header without msg_type', () => {
    const signer = new Signer('');
    const make = (parts: string[]) => [DELIMITER, buf(''), ...parts.map(buf)];
    expect(decode(signer, make(['{', '{}', '{}', '{}']))).toMatchObject({ ok: false, error: 'bad-json' });
    expect(decode(signer, make(['[]', '{}', '{}', '{}']))).toMatchObject({ ok: false, error: 'bad-json' });
    expect(decode(signer, make(['{"msg_id":"1"}', '{}', '{}', '{}']))).toMatchObject({ ok: false, error: 'bad-header' });
    expect(decode(signer, make(['{"msg_id":"1","msg_type":"x"}', 'null', '{}', '{}']))).toMatchObject({ ok: false, error: 'bad-json' });
  });
});

describe('hostile headers', () => {
  test('a reply echoes the request header bytes, even one too deep to serialise', () => {
    const signer = new Signer('');
    const deep = `{"msg_id":"1","msg_type":"kernel_info_request","x":${'['.repeat(20000)}${']'.repeat(20000)}}`;
    const decoded = decode(signer, [DELIMITER, Buffer.alloc(0), buf(deep), buf('{}'), buf('{}'), buf('{}')]);
    if (!decoded.ok) throw new Error(decoded.error);
    const frames = encode(signer, newHeader('kernel_info_reply', 's', 'u', new Date()), { msg_type: 'kernel_info_reply', parent_header: decoded.message.header, content: {} });
    expect(frames[3].toString()).toBe(deep);
  });
});
