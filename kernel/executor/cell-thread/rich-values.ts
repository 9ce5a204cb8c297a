// The rich helpers cells call (html, markdown, svg, png, json): each returns a value that displays as a fixed
// bundle with a short text/plain fallback, and rejects input it cannot show with a clear TypeError.
import { inspect, types } from 'node:util';
import type { MimeBundle } from '../../protocol/messages';
import { JUPYTER_DISPLAY, safeInspect } from './display';

/** A value that displays as a fixed bundle (the result of html(), markdown(), svg(), png() and json()). */
export class RichValue {
  readonly #bundle: MimeBundle;
  constructor(bundle: MimeBundle) {
    this.#bundle = bundle;
  }
  [JUPYTER_DISPLAY](): MimeBundle {
    return { ...this.#bundle };
  }
  /** console.log(html(...)) prints the short text fallback. */
  [inspect.custom](): string {
    return String(this.#bundle['text/plain']);
  }
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') {
    const name = (Object.getPrototypeOf(v) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
    return typeof name === 'string' && name !== 'Object' ? `a ${name}` : 'an object';
  }
  return typeof v;
}

function shorten(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function requireString(helper: string, v: unknown): string {
  if (typeof v !== 'string') throw new TypeError(`${helper}() expects a string, got ${kindOf(v)}`);
  return v;
}

/** HTML, shown as is (it is the cell author's own markup). Text fallback: the text without tags. */
export function html(source: string): RichValue {
  const markup = requireString('html', source);
  const text = markup
    .replace(/<(script|style)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return new RichValue({ 'text/html': markup, 'text/plain': text === '' ? '[HTML]' : shorten(text, 200) });
}

/** Markdown, rendered by the frontend. Text fallback: the markdown source. */
export function markdown(source: string): RichValue {
  const md = requireString('markdown', source);
  return new RichValue({ 'text/markdown': md, 'text/plain': md.trim() === '' ? '[Markdown]' : shorten(md, 500) });
}

/** SVG markup as an image. Text fallback: "[SVG image W×H]". */
export function svg(source: string): RichValue {
  const markup = requireString('svg', source);
  const tag = /<svg\b[^>]*>/i.exec(markup);
  if (!tag) throw new TypeError(`svg() expects SVG markup (an <svg> element), got ${JSON.stringify(shorten(markup, 40))}`);
  const attr = (name: string) => new RegExp(`\\s${name}\\s*=\\s*["']([^"']*)["']`, 'i').exec(tag[0])?.[1];
  const [width, height] = [attr('width'), attr('height')];
  const size = width && height ? ` ${width}×${height}` : '';
  return new RichValue({ 'image/svg+xml': markup, 'text/plain': `[SVG image${size}]` });
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function whatTheBytesLookLike(bytes: Buffer): string {
  const head = bytes.subarray(0, 16).toString('latin1');
  if (bytes.length === 0) return 'the data is empty';
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'it looks like a JPEG: use display({ "image/jpeg": data.toString("base64") })';
  if (head.startsWith('GIF8')) return 'it looks like a GIF: use display({ "image/gif": data.toString("base64") })';
  if (head.startsWith('RIFF') && head.slice(8, 12) === 'WEBP') return 'it looks like a WebP image, which notebooks do not show; convert it to PNG';
  if (/^\s*(<\?xml|<svg)/i.test(head)) return 'it looks like SVG text: use svg(data.toString())';
  const hex = [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  return `it starts with ${hex}${bytes.length < 8 ? ` (only ${bytes.length} bytes)` : ''}`;
}

/** PNG bytes (a Buffer, a Uint8Array, or a base64 string, optionally a data: URL) as an image. */
export function png(data: Buffer | Uint8Array | string): RichValue {
  let bytes: Buffer;
  if (typeof data === 'string') {
    const base64 = data.replace(/^data:image\/png;base64,/i, '').replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(base64) || base64.length === 0) {
      throw new TypeError('png() got a string that is not base64 PNG data; to show a file use png(require("fs").readFileSync(path))');
    }
    bytes = Buffer.from(base64, 'base64');
  } else if (types.isUint8Array(data)) {
    bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  } else {
    throw new TypeError(`png() expects a Buffer, a Uint8Array or a base64 string, got ${kindOf(data)}`);
  }
  if (bytes.length < PNG_SIGNATURE.length || !bytes.subarray(0, PNG_SIGNATURE.length).equals(PNG_SIGNATURE)) {
    throw new TypeError(`png() expects PNG data, but the data does not start with the PNG signature (89 50 4e 47 0d 0a 1a 0a): ${whatTheBytesLookLike(bytes)}${typeof data === 'string' ? ' (a string is read as base64; to show a file use png(require("fs").readFileSync(path)))' : ''}`);
  }
  // IHDR is the first chunk: width and height are its first two big-endian 32-bit fields.
  const size = bytes.length >= 24 && bytes.subarray(12, 16).toString('latin1') === 'IHDR' ? ` ${bytes.readUInt32BE(16)}×${bytes.readUInt32BE(20)}` : '';
  return new RichValue({ 'image/png': bytes.toString('base64'), 'text/plain': `[PNG image${size}, ${bytes.length} bytes]` });
}

/** A JSON value, shown by the frontend's JSON viewer (a snapshot taken now). Text fallback: util.inspect. */
export function json(value: unknown): RichValue {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (e) {
    throw new TypeError(`json() expects a value JSON can encode: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  }
  if (text === undefined) throw new TypeError(`json() expects a value JSON can encode, got ${kindOf(value)}`);
  return new RichValue({ 'application/json': JSON.parse(text) as unknown, 'text/plain': safeInspect(value) });
}
