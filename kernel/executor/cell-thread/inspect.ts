// inspect_request: type, signature, JSDoc and a value summary of the member chain under a code-point
// cursor, or of the function whose call the cursor is in. No evaluation: property reads only.
import { inspect, types } from 'node:util';
import { attempt } from './attempt';
import { locate } from './cursor';
import { CHAIN, CHAIN_WINDOW, ID, ID_CHAR, ID_RIGHT, MEMBER_DOT } from './identifiers';
import { resolve } from './live-names';
import { isSpace, scan } from './source-scan';

/** Bound on what a reply carries, whatever the notebook holds. */
const PREVIEW_PROPERTIES = 200;

/** A type, not an interface: the worker posts it as a plain Record<string, unknown>. */
export type InspectReply = {
  status: 'ok';
  found: boolean;
  data: Record<string, string>;
  metadata: Record<string, unknown>;
};

interface FunctionInfo {
  /** `function`, `async arrow function`, `class`, `native function`… */
  kind: string;
  /** Parameter list as written (defaults and rest included); undefined when the source does not show it. */
  params: string[] | undefined;
  source: string;
  isClass: boolean;
}

/** The text between the first top-level `(` and its `)`, and where the `)` is. */
function parenthesized(src: string): { inner: string; close: number } | undefined {
  let depth = 0;
  let open = -1;
  let close = -1;
  scan(src, (i) => {
    const c = src[i];
    if (open < 0 && depth === 0 && c === '(') {
      open = i;
      depth = 1;
    } else if (open < 0 && depth === 0 && (c === '{' || c === '=')) return true; // a body or an arrow before any `(`
    else if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      depth--;
      if (open >= 0 && depth === 0) {
        close = i;
        return true;
      }
    }
    return false;
  });
  return open >= 0 && close > open ? { inner: src.slice(open + 1, close), close } : undefined;
}

/** Splits a parameter list at its top-level commas, whitespace collapsed and long defaults shortened. */
function splitParams(inner: string): string[] {
  const cuts: number[] = [];
  let depth = 0;
  scan(inner, (i) => {
    const c = inner[i];
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 0) cuts.push(i);
    return false;
  });
  const parts: string[] = [];
  let from = 0;
  for (const cut of [...cuts, inner.length]) {
    const part = inner.slice(from, cut).replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, '').replace(/\s+/g, ' ').trim();
    if (part) parts.push(part.length > 80 ? `${part.slice(0, 77)}…` : part);
    from = cut + 1;
  }
  return parts;
}

/** Parameters of the `constructor(…)` of a class's source; undefined when the class declares none. */
function constructorParams(src: string): string[] | undefined {
  let depth = 0;
  let inBody = false;
  let found = -1;
  let prevSig = '';
  scan(src, (i) => {
    const c = src[i];
    const prev = prevSig; // a member starts after `{`, `}`, `;` or the end of a field (never first in the source)
    if (!isSpace(c)) prevSig = c;
    if (c === '{') {
      if (!inBody && depth === 0) inBody = true;
      depth++;
    } else if (c === '(' || c === '[') depth++;
    else if (c === '}' || c === ')' || c === ']') {
      depth--;
      return inBody && depth === 0;
    } else if (inBody && depth === 1 && c === 'c' && !ID_CHAR.test(src[i - 1] ?? '') && /^constructor\s*\(/.test(src.slice(i, i + 40)) && prev !== '' && !/(?:[.=(,:?!+\-*/%<>&|^~[]|\bstatic)\s*$/.test(src.slice(Math.max(0, i - 20), i))) {
      found = i;
      return true;
    }
    return false;
  });
  if (found < 0) return undefined;
  const p = parenthesized(src.slice(found));
  return p ? splitParams(p.inner) : [];
}

function functionSource(fn: Function): string {
  return attempt(() => Function.prototype.toString.call(fn), '');
}

function describeFunction(fn: Function): FunctionInfo {
  const source = functionSource(fn);
  const native = /\{\s*\[native code\]\s*\}\s*$/.test(source);
  if (/^class\b/.test(source)) {
    // A class without a constructor takes its parent's parameters.
    let params: string[] | undefined;
    let current: unknown = fn;
    for (let depth = 0; depth < 20 && typeof current === 'function' && !types.isProxy(current); depth++) {
      const src = functionSource(current);
      if (!/^class\b/.test(src)) {
        // `class A extends OldStyle {}`: the parameters of a plain (or native) constructor function.
        params = /\{\s*\[native code\]\s*\}\s*$/.test(src) ? undefined : splitParams(parenthesized(src)?.inner ?? '');
        break;
      }
      params = constructorParams(src);
      if (params) break;
      const parent: unknown = attempt(() => Object.getPrototypeOf(current) as unknown, undefined);
      // The end of the chain is Function.prototype (of whichever realm): the one function without a `prototype`.
      if (typeof parent !== 'function' || !Object.prototype.hasOwnProperty.call(parent, 'prototype')) {
        params = [];
        break;
      }
      current = parent;
    }
    return { kind: 'class', params, source, isClass: true };
  }
  const asyncFn = types.isAsyncFunction(fn);
  const generator = types.isGeneratorFunction(fn);
  const name = attempt(() => String(Object.getOwnPropertyDescriptor(fn, 'name')?.value ?? ''), '');
  if (native) return { kind: name.startsWith('bound ') ? 'bound function' : 'native function', params: undefined, source, isClass: false };
  const single = new RegExp(`^(?:async\\s+)?(${ID})\\s*=>`, 'u').exec(source);
  const p = single ? undefined : parenthesized(source);
  const params = single ? [single[1]] : p ? splitParams(p.inner) : undefined;
  const arrow = single !== null || (p !== undefined && /^\s*=>/.test(source.slice(p.close + 1)));
  const method = !arrow && !/^(?:async\s+)?function\b/.test(source);
  const kind = [asyncFn ? 'async' : '', generator ? 'generator' : '', arrow ? 'arrow function' : method ? 'method' : 'function'].filter(Boolean).join(' ');
  return { kind, params, source, isClass: false };
}

function signatureOf(name: string, info: FunctionInfo): string {
  const params = info.params ? info.params.join(', ') : '…';
  if (info.isClass) return `new ${name}(${params})`;
  return `${info.kind.startsWith('async') ? 'async ' : ''}${name}(${params})`;
}

function constructorName(value: object): string | undefined {
  const proto = attempt(() => Object.getPrototypeOf(value) as unknown, undefined);
  if (proto === null) return undefined;
  if (typeof proto !== 'object' && typeof proto !== 'function') return 'Object';
  const ctor: unknown = attempt(() => Object.getOwnPropertyDescriptor(proto, 'constructor')?.value, undefined);
  const name: unknown = typeof ctor === 'function' ? attempt(() => Object.getOwnPropertyDescriptor(ctor, 'name')?.value, undefined) : undefined;
  return typeof name === 'string' && name !== '' ? name : 'Object';
}

/** A type label that reads no property through user code (Proxy traps, getters). */
function typeLabel(value: unknown, info: FunctionInfo | undefined): string {
  if (value === null) return 'null';
  if (typeof value !== 'object' && typeof value !== 'function') return typeof value;
  if (types.isProxy(value)) return typeof value === 'function' ? 'Proxy (function)' : 'Proxy';
  if (info) return info.kind;
  const name = constructorName(value);
  if (name === undefined) return 'Object (null prototype)';
  return name;
}

/** util.inspect that never throws, with big plain objects cut to their first properties. */
function preview(value: unknown, detailLevel: number): string {
  const options = {
    depth: detailLevel > 0 ? 4 : 1,
    maxArrayLength: detailLevel > 0 ? 100 : 10,
    maxStringLength: detailLevel > 0 ? 10_000 : 200,
    breakLength: 100,
    getters: false,
    showProxy: false,
  };
  let shown = value;
  let note = '';
  if (typeof value === 'object' && value !== null && !types.isProxy(value) && !Array.isArray(value) && !ArrayBuffer.isView(value) && !types.isMap(value) && !types.isSet(value)) {
    const keys = attempt(() => Reflect.ownKeys(value), [] as (string | symbol)[]);
    if (keys.length > PREVIEW_PROPERTIES) {
      const cut: Record<string | symbol, unknown> = Object.create(null) as Record<string | symbol, unknown>;
      for (const k of keys.slice(0, PREVIEW_PROPERTIES)) {
        const d = attempt(() => Reflect.getOwnPropertyDescriptor(value, k), undefined);
        if (d) Object.defineProperty(cut, k, { ...d, configurable: true });
      }
      shown = cut;
      note = `(first ${PREVIEW_PROPERTIES} of ${keys.length} own properties)\n`;
    }
  }
  let text: string;
  try {
    text = inspect(shown, options);
  } catch {
    text = attempt(() => inspect(shown, { ...options, customInspect: false }), '[value that cannot be shown]');
  }
  const max = detailLevel > 0 ? 100_000 : 10_000;
  return note + (text.length > max ? `${text.slice(0, max)}…` : text);
}

/** A JSDoc comment right before the declaration of `name` in the code sent with the request, if any. */
function jsdocIn(code: string, name: string): string | undefined {
  const n = name.replace(/\$/g, '\\$');
  const declaration = new RegExp(
    `(?:^|[\\n;{}])[ \\t]*((?:export\\s+)?(?:default\\s+)?(?:declare\\s+)?(?:(?:async\\s+)?function\\s*\\*?\\s*${n}\\s*[(<]|class\\s+${n}\\b|(?:const|let|var)\\s+${n}\\b|(?:(?:static|async|public|private|protected|readonly)\\s+)*${n}\\s*[(:=]))`,
    'u',
  );
  const m = declaration.exec(code);
  if (!m) return undefined;
  const head = code.slice(0, m.index + m[0].length - m[1].length).trimEnd();
  if (!head.endsWith('*/')) return undefined;
  const open = head.lastIndexOf('/**');
  if (open < 0) return undefined;
  const body = head.slice(open + 3, -2);
  const lines = body.split('\n').map((l) => l.replace(/^\s*\*? ?/, '').trimEnd());
  const text = lines.join('\n').trim();
  return text === '' ? undefined : text;
}

/** The member chain under the cursor (extended over the identifier right of it). */
function chainAt(text: string): { path: string[]; memberOfUnknown: boolean } {
  const tail = text.slice(-CHAIN_WINDOW);
  const m = CHAIN.exec(tail);
  const path = [...(m?.[1] ?? '').split(/\??\./).map((s) => s.trim()).filter(Boolean), ...(m?.[2] ? [m[2]] : [])];
  const lead = tail.slice(0, m?.index ?? tail.length).trimEnd();
  return { path, memberOfUnknown: MEMBER_DOT.test(lead) };
}

/**
 * inspect_request: type, signature (for functions and classes), JSDoc (from the request's code or the cells
 * that ran, `earlierCells` newest first) and a value summary of the member chain under the cursor, or of the
 * function whose call the cursor is in. detail_level 1 adds deeper values and the source of functions. Never
 * throws, whatever the value is.
 */
export function inspectAt(global: object, code: string, cursor: number, detailLevel: number, earlierCells: () => Iterable<string> = () => []): InspectReply {
  const notFound: InspectReply = { status: 'ok', found: false, data: {}, metadata: {} };
  try {
    const at = locate(code, cursor).units;
    const before = code.slice(0, at);
    const lex = scan(before);
    if (lex.state !== 'code') return notFound;
    const right = ID_RIGHT.exec(code.slice(at, at + 1000))?.[0] ?? '';
    let target = chainAt(before + right);
    let resolved = target.path.length > 0 && !target.memberOfUnknown ? resolve(global, target.path) : { found: false, value: undefined };
    // Not on a name (or on one that is not defined): the function whose call the cursor is in, `f(a, |`.
    for (let k = lex.openParens.length - 1; !resolved.found && k >= 0 && k >= lex.openParens.length - 3; k--) {
      target = chainAt(before.slice(0, lex.openParens[k]).trimEnd());
      if (target.path.length > 0 && !target.memberOfUnknown) resolved = resolve(global, target.path);
    }
    if (!resolved.found) return notFound;
    return { status: 'ok', found: true, data: { 'text/plain': describe(resolved.value, target.path, code, detailLevel, earlierCells) }, metadata: {} };
  } catch {
    return notFound;
  }
}

/** JSDoc of `name` from the request's code, else from the newest cell that ran and documents it. */
function jsdocOf(name: string, code: string, earlierCells: () => Iterable<string>): string | undefined {
  const here = jsdocIn(code, name);
  if (here) return here;
  for (const source of earlierCells()) {
    const doc = jsdocIn(source, name);
    if (doc) return doc;
  }
  return undefined;
}

function describe(value: unknown, path: string[], code: string, detailLevel: number, earlierCells: () => Iterable<string>): string {
  const name = path.join('.');
  const fn = typeof value === 'function' && !types.isProxy(value) ? (value as Function) : undefined;
  const info = fn ? describeFunction(fn) : undefined;
  const lines = [`${name}: ${typeLabel(value, info)}`];
  if (info) lines.push(`Signature: ${signatureOf(path[path.length - 1], info)}`);
  const doc = typeof value === 'function' ? jsdocOf(path[path.length - 1], code, earlierCells) : undefined;
  if (doc) lines.push(`Docstring:\n${doc}`);
  if (!info) lines.push(`Value: ${preview(value, detailLevel)}`);
  else if (detailLevel > 0 && info.source) lines.push(`Source:\n${info.source}`);
  return lines.join('\n');
}
