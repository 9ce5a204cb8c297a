// Turns values into mime bundles: Deno's Symbol.for("Jupyter.display") convention first, a
// _repr_mimebundle_-style method next, an HTML table for arrays of plain objects, util.inspect text
// otherwise. A display handle's update formats the same way (a ready mime bundle goes as it is). The helpers
// cells call (html, markdown...) are in rich-values.ts, error content in errors.ts.
import { inspect, types } from 'node:util';
import type { Bundle } from '../thread-messages';
import type { MimeBundle } from '../../protocol/messages';
import { escapeHtml } from '../../io/html';

export const JUPYTER_DISPLAY = Symbol.for('Jupyter.display');

/** At most this many rows of an array of objects become table rows; a note counts the rest. */
export const TABLE_MAX_ROWS = 1000;
/** At most this many columns (keys) become table columns; a note counts the rest. */
export const TABLE_MAX_COLUMNS = 200;

type WithDisplay = { [JUPYTER_DISPLAY]: () => unknown };
type WithReprBundle = { _repr_mimebundle_: () => unknown };

export function isObject(v: unknown): v is Record<string | symbol, unknown> {
  return (typeof v === 'object' || typeof v === 'function') && v !== null;
}

/** An object literal (or Object.create(null)), from this realm or another vm context. */
function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto === null || proto === Object.prototype) return true;
  return Object.getPrototypeOf(proto) === null && typeof (proto as { constructor?: unknown }).constructor === 'function'
    && (proto as { constructor: { name: string } }).constructor.name === 'Object';
}

/**
 * Node's async hooks (on for AsyncLocalStorage, which routes a cell's output) add enumerable symbol properties
 * to promises and other async resources, one of them the running cell's Io: util.inspect would print them
 * (`Promise { <pending>, [Symbol(async_id_symbol)]: 12, [Symbol(kResourceStore)]: CellIo {...} }`). Before
 * inspecting, they are made non-enumerable (still readable by Node) on the objects inspect will visit.
 */
const ASYNC_INTERNALS = new Set(['async_id_symbol', 'trigger_async_id_symbol', 'kResourceStore']);

function hideAsyncInternals(root: unknown): void {
  const seen = new Set<object>();
  let budget = 10000;
  const visit = (v: unknown, depth: number): void => {
    if (typeof v !== 'object' || v === null || seen.has(v) || budget-- <= 0 || types.isProxy(v)) return;
    seen.add(v);
    for (const sym of Object.getOwnPropertySymbols(v)) {
      if (!ASYNC_INTERNALS.has(sym.description ?? '')) continue;
      const d = Object.getOwnPropertyDescriptor(v, sym);
      if (d?.enumerable && d.configurable) Object.defineProperty(v, sym, { ...d, enumerable: false });
    }
    if (depth >= 5) return;
    if (ArrayBuffer.isView(v)) return;
    if (types.isMap(v) || types.isSet(v)) {
      let n = 0;
      for (const entry of (v as Map<unknown, unknown>).entries()) {
        if (n++ >= 200) break;
        visit(entry[0], depth + 1);
        visit(entry[1], depth + 1);
      }
    }
    // own data properties only (getters are not run, as inspect does not run them); arrays and objects capped
    const keys = Array.isArray(v) ? Array.from({ length: Math.min(v.length, 200) }, (_, i) => String(i)) : Object.getOwnPropertyNames(v).slice(0, 1000);
    for (const key of keys) visit(Object.getOwnPropertyDescriptor(v, key)?.value, depth + 1);
  };
  try {
    visit(root, 0);
  } catch {
    // best effort: inspect shows the value anyway
  }
}

export function inspectText(value: unknown): string {
  if (typeof value === 'string') return inspect(value);
  hideAsyncInternals(value);
  return inspect(value, { depth: 4, maxArrayLength: 200, breakLength: 100 });
}

/** inspectText that cannot throw (a throwing [inspect.custom], a revoked Proxy...). */
export function safeInspect(value: unknown): string {
  try {
    return inspectText(value);
  } catch {
    try {
      return Object.prototype.toString.call(value);
    } catch {
      return '[a value that cannot be shown]';
    }
  }
}


// ---- custom bundles ------------------------------------------------------------------------------

function jsonClone(v: unknown): unknown {
  try {
    const text = JSON.stringify(v);
    return text === undefined ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

const isJsonMime = (mime: string) => /^application\/(.+\+)?json$/.test(mime);

/** A MIME type as a bundle key (the messaging spec's pattern: `type/subtype`). */
const MIME_TYPE = /^[\w\-+.]+\/[\w\-+.]+$/;

/**
 * One entry of a mime bundle made safe to send: a string stays, a JSON mime type keeps a JSON-clonable value,
 * bytes become base64; undefined for anything a frontend cannot take (nbformat wants a string for the others).
 */
function cleanEntry(mime: string, v: unknown): unknown {
  if (typeof v === 'string') return v;
  if (isJsonMime(mime)) return jsonClone(v);
  if (types.isUint8Array(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
  return undefined;
}

/**
 * What a display method returned, made safe to send: entries cleaned as above, the rest dropped. An
 * IPython-style [data, metadata] pair is accepted.
 */
function cleanBundle(raw: unknown): Bundle | undefined {
  let data: unknown = raw;
  let metadata: unknown = {};
  if (Array.isArray(raw) && raw.length === 2) [data, metadata] = raw as [unknown, unknown];
  if (!isObject(data) || Array.isArray(data)) return undefined;
  const out: MimeBundle = {};
  for (const mime of Object.keys(data)) {
    const cleaned = cleanEntry(mime, data[mime]);
    if (cleaned !== undefined) out[mime] = cleaned;
  }
  if (Object.keys(out).length === 0) return undefined;
  return { data: out, metadata: cleanMetadata(metadata) };
}

/** Output metadata as sent: a JSON copy of a plain object, else empty. */
export function cleanMetadata(metadata: unknown): Record<string, unknown> {
  const meta = jsonClone(metadata);
  return isPlainObject(meta) ? meta : {};
}

/**
 * A value that already is a mime bundle: a plain object whose keys are all MIME types, each with a value valid
 * for its type (`{ "text/plain": "2" }`, `{ "text/html": "<b>x</b>" }`); its entries cleaned, or undefined.
 */
function readyBundle(value: unknown): MimeBundle | undefined {
  if (!isPlainObject(value) || (isObject(value) && typeof value[JUPYTER_DISPLAY] === 'function')) return undefined;
  const mimes = Object.keys(value);
  if (mimes.length === 0 || !mimes.every((mime) => MIME_TYPE.test(mime))) return undefined;
  const out: MimeBundle = {};
  for (const mime of mimes) {
    const cleaned = cleanEntry(mime, value[mime]);
    if (cleaned === undefined) return undefined;
    out[mime] = cleaned;
  }
  return out;
}

function customBundle(value: unknown): Bundle | undefined {
  if (!isObject(value)) return undefined;
  try {
    const raw = typeof value[JUPYTER_DISPLAY] === 'function' ? (value as WithDisplay)[JUPYTER_DISPLAY]()
      : typeof value._repr_mimebundle_ === 'function' ? (value as WithReprBundle)._repr_mimebundle_() : undefined;
    return raw === undefined ? undefined : cleanBundle(raw);
  } catch {
    return undefined; // a display method that throws: plain text
  }
}

// ---- tables --------------------------------------------------------------------------------------

function cellText(row: Record<string, unknown>, key: string): string {
  if (!Object.prototype.hasOwnProperty.call(row, key)) return '';
  const v = row[key];
  if (typeof v === 'string') return v.length > 10000 ? `${v.slice(0, 10000)}…` : v;
  hideAsyncInternals(v);
  return inspect(v, { compact: true, breakLength: Infinity, depth: 2, maxArrayLength: 20, maxStringLength: 200 });
}

/** An array whose elements are all non-null plain objects, as an HTML table; undefined for anything else. */
export function tableHtml(value: unknown): string | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const arr: unknown[] = value;
  for (let i = 0; i < arr.length; i++) if (!isPlainObject(arr[i])) return undefined;
  const rows = (arr.slice(0, TABLE_MAX_ROWS)) as Record<string, unknown>[];
  const seen = new Set<string>();
  for (const row of rows) for (const key of Object.keys(row)) seen.add(key);
  if (seen.size === 0) return undefined;
  const columns = [...seen].slice(0, TABLE_MAX_COLUMNS);
  const head = `<thead><tr><th></th>${columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr></thead>`;
  const body = rows
    .map((row, i) => `<tr><th>${i}</th>${columns.map((c) => `<td>${escapeHtml(cellText(row, c))}</td>`).join('')}</tr>`)
    .join('\n');
  const notes: string[] = [];
  if (arr.length > rows.length) notes.push(`… ${arr.length - rows.length} more rows`);
  if (seen.size > columns.length) notes.push(`… ${seen.size - columns.length} more columns`);
  const foot = notes.length > 0 ? `\n<p><em>${escapeHtml(notes.join(', '))}</em></p>` : '';
  return `<table>\n${head}\n<tbody>\n${body}\n</tbody>\n</table>${foot}`;
}

/** The bundle a value displays as. A display method that throws falls back to text; toBundle never throws. */
export function toBundle(value: unknown): Bundle {
  const custom = customBundle(value);
  if (custom) {
    if (typeof custom.data['text/plain'] !== 'string') custom.data['text/plain'] = safeInspect(value);
    return custom;
  }
  let table: string | undefined;
  try {
    table = tableHtml(value);
  } catch {
    table = undefined; // a getter that throws, a Proxy...: plain text
  }
  const text = safeInspect(value);
  return { data: table === undefined ? { 'text/plain': text } : { 'text/plain': text, 'text/html': table }, metadata: {} };
}

/**
 * The bundle a display handle's update(value) sends: a ready mime bundle as it is (what update took from the
 * start, and what the magics pass), anything else exactly as display(value) formats it. Never raw values: a
 * bundle's data must be an object of mime type → string, or nbformat (nbconvert, papermill) rejects the notebook.
 */
export function toUpdateBundle(value: unknown): Bundle {
  const ready = readyBundle(value);
  return ready ? { data: ready, metadata: {} } : toBundle(value);
}

