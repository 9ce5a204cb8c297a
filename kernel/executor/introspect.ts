// Language logic for complete, inspect and is_complete on live objects of the cell context. Cursor
// positions are Unicode code points, as the messaging spec requires. No evaluation: property reads only.
import { existsSync, readFileSync, readdirSync, statSync, Dirent } from 'node:fs';
import { builtinModules, isBuiltin } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { inspect, types } from 'node:util';
import { parseCell, CellSyntaxError } from './cell-rewrite';

const KEYWORDS = ['async', 'await', 'break', 'case', 'catch', 'class', 'const', 'continue', 'debugger', 'default', 'delete', 'do', 'else', 'enum', 'export', 'extends', 'false', 'finally', 'for', 'function', 'if', 'import', 'in', 'instanceof', 'interface', 'let', 'new', 'null', 'of', 'return', 'static', 'super', 'switch', 'this', 'throw', 'true', 'try', 'type', 'typeof', 'undefined', 'var', 'void', 'while', 'yield'];

const ID = '[\\p{ID_Start}$_][\\p{ID_Continue}$\\u200C\\u200D]*';
const IDENTIFIER = new RegExp(`^${ID}$`, 'u');
const ID_CHAR = /[\p{ID_Continue}$\u200C\u200D]/u;
/** A member chain `a.b?.c` ending in a (possibly empty) identifier, at the end of the text. */
const CHAIN = new RegExp(`((?:${ID}\\s*\\??\\.\\s*)*)(${ID})?$`, 'u');
/** Text ending in a member access `.` or `?.` (not a spread `...`). */
const MEMBER_DOT = /(?<!\.)\??\.$/;
const ID_RIGHT = /^[\p{ID_Continue}$\u200C\u200D]*/u;
/** How far back a member chain is looked for (keeps the `$`-anchored regex linear on long cells). */
const CHAIN_WINDOW = 1000;
/** Bounds on what a reply carries, whatever the notebook holds. */
const MAX_PATH_ENTRIES = 5000;
const PREVIEW_PROPERTIES = 200;

/** UTF-16 offset of a code-point cursor (clamped to the code). */
export function codeUnitOffset(code: string, cursor: number): number {
  return locate(code, cursor).units;
}

/** The cursor clamped to the code, in UTF-16 units and in code points. */
function locate(code: string, cursor: number): { units: number; points: number } {
  let units = 0;
  let points = 0;
  if (!(cursor > 0)) return { units, points };
  for (const ch of code) {
    if (points >= cursor) break;
    units += ch.length;
    points += 1;
  }
  return { units, points };
}

function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n += 1;
  return n;
}

function attempt<T>(f: () => T, fallback: T): T {
  try {
    return f();
  } catch {
    return fallback;
  }
}

// ---- a small JavaScript scanner: where strings, comments, templates and regex literals are ------------------

type ScanState = 'code' | 'single' | 'double' | 'template' | 'line-comment' | 'block-comment' | 'regex';

interface ScanResult {
  state: ScanState;
  /** Where the string the scan ended in starts: its quote, or the `}` that closed a template's `${…}`. */
  start: number;
  /** The template text the scan ended in follows a `${…}` substitution. */
  afterSubstitution: boolean;
  /** Positions of the `(` not closed yet, innermost last. */
  openParens: number[];
}

const REGEX_AFTER_CHAR = new Set('(,=:[!&|?{};+-*%<>~^'.split(''));
const REGEX_AFTER_WORD = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await']);

function regexCanStart(text: string, prevSig: number): boolean {
  if (prevSig < 0) return true;
  const c = text[prevSig];
  if (REGEX_AFTER_CHAR.has(c)) return true;
  if (!ID_CHAR.test(c)) return false;
  const word = /[\p{ID_Continue}$]+$/u.exec(text.slice(Math.max(0, prevSig - 15), prevSig + 1))?.[0] ?? '';
  return REGEX_AFTER_WORD.has(word);
}

function isSpace(c: string): boolean {
  return c === ' ' || c === '\n' || c === '\t' || c === '\r';
}

/**
 * Walks JavaScript text and reports the state at its end. `visit` sees each character that is code (not inside a
 * string, comment, template text or regex literal); returning true stops the walk there.
 */
function scan(text: string, visit?: (i: number) => boolean): ScanResult {
  let state: ScanState = 'code';
  let start = 0;
  let afterSubstitution = false;
  let prevSig = -1;
  let braces = 0;
  let inClass = false;
  const substitutions: number[] = [];
  const openParens: number[] = [];
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text[i];
    switch (state) {
      case 'code':
        if (c === '/' && text[i + 1] === '/') {
          state = 'line-comment';
          i++;
        } else if (c === '/' && text[i + 1] === '*') {
          state = 'block-comment';
          i++;
        } else if (c === '"' || c === "'") {
          state = c === '"' ? 'double' : 'single';
          start = i;
        } else if (c === '`') {
          state = 'template';
          start = i;
          afterSubstitution = false;
        } else if (c === '/' && regexCanStart(text, prevSig)) {
          state = 'regex';
          inClass = false;
          start = i;
        } else if (c === '}' && substitutions.length > 0 && substitutions[substitutions.length - 1] === braces) {
          substitutions.pop();
          state = 'template';
          start = i;
          afterSubstitution = true;
        } else {
          if (c === '{') braces++;
          else if (c === '}') braces--;
          else if (c === '(') openParens.push(i);
          else if (c === ')') openParens.pop();
          if (visit?.(i)) return { state, start, afterSubstitution, openParens };
          if (!isSpace(c)) prevSig = i;
        }
        break;
      case 'single':
      case 'double':
        if (c === '\\') i++;
        else if (c === '\n') state = 'code';
        else if (c === (state === 'single' ? "'" : '"')) {
          state = 'code';
          prevSig = i;
        }
        break;
      case 'template':
        if (c === '\\') i++;
        else if (c === '`') {
          state = 'code';
          prevSig = i;
        } else if (c === '$' && text[i + 1] === '{') {
          substitutions.push(braces);
          state = 'code';
          i++;
          prevSig = i;
        }
        break;
      case 'line-comment':
        if (c === '\n') state = 'code';
        break;
      case 'block-comment':
        if (c === '*' && text[i + 1] === '/') {
          state = 'code';
          i++;
        }
        break;
      case 'regex':
        if (c === '\\') i++;
        else if (c === '\n') state = 'code';
        else if (inClass) inClass = c !== ']';
        else if (c === '[') inClass = true;
        else if (c === '/') {
          state = 'code';
          prevSig = i;
        }
        break;
    }
  }
  return { state, start, afterSubstitution, openParens };
}

// ---- live objects ----------------------------------------------------------------------------------------

function resolve(global: object, path: string[], base?: { value: unknown }): { found: boolean; value: unknown } {
  let value: unknown = base ? base.value : global;
  for (const name of path) {
    if (value === null || value === undefined) return { found: false, value: undefined };
    try {
      const obj = Object(value) as object;
      if (!(name in obj)) return { found: false, value: undefined };
      value = Reflect.get(obj, name, value);
    } catch {
      return { found: false, value: undefined };
    }
  }
  return { found: true, value };
}

/** Names of the properties of a value and its prototypes that start with prefix (own and inherited, no symbols). */
function propertyNames(value: unknown, prefix: string, identifiersOnly: boolean, out: Set<string>): void {
  let obj: unknown = value === null || value === undefined ? undefined : Object(value);
  for (let depth = 0; obj && depth < 20; depth++) {
    const current = obj;
    const names = attempt(() => Object.getOwnPropertyNames(current), [] as string[]);
    for (const name of names) if (name.startsWith(prefix) && (!identifiersOnly || IDENTIFIER.test(name))) out.add(name);
    obj = attempt(() => Object.getPrototypeOf(current) as unknown, undefined);
  }
}

/** Names a cell declares, found without parsing (the cell being typed is rarely valid yet). */
function declaredNames(code: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`(?:^|[^\\p{ID_Continue}$.])(?:const|let|var|function\\*?|class|enum|interface|type|namespace)\\s+(${ID})`, 'gu');
  for (let m = re.exec(code); m; m = re.exec(code)) out.push(m[1]);
  const imports = new RegExp(`\\bimport\\s+(?:type\\s+)?(${ID})?\\s*,?\\s*(?:\\*\\s*as\\s+(${ID})|\\{([^}]*)\\})?\\s*from\\b`, 'gu');
  for (let m = imports.exec(code); m; m = imports.exec(code)) {
    if (m[1]) out.push(m[1]);
    if (m[2]) out.push(m[2]);
    for (const part of (m[3] ?? '').split(',')) {
      const local = part.trim().split(/\s+as\s+/).pop()?.trim() ?? '';
      if (IDENTIFIER.test(local)) out.push(local);
    }
  }
  return out;
}

/** Case-insensitive order, exact case breaking ties; names starting with `_` last (IPython's order). */
function sorted(names: Iterable<string>): string[] {
  const keyed = [...names].map((n) => ({ n, u: n.startsWith('_') ? 1 : 0, l: n.toLowerCase() }));
  keyed.sort((a, b) => a.u - b.u || (a.l < b.l ? -1 : a.l > b.l ? 1 : a.n < b.n ? -1 : a.n > b.n ? 1 : 0));
  return keyed.map((k) => k.n);
}

// ---- module names and file paths ---------------------------------------------------------------------------

function isDirectory(dir: string, entry: Dirent): boolean {
  if (entry.isDirectory()) return true;
  if (!entry.isSymbolicLink()) return false;
  return attempt(() => statSync(path.join(dir, entry.name), { throwIfNoEntry: false })?.isDirectory() === true, false);
}

function entries(dir: string): Dirent[] {
  return attempt(() => readdirSync(dir, { withFileTypes: true }), [] as Dirent[]);
}

let ownModules: string | null | undefined;

/** The node_modules next to opsbook's own package.json (its dependencies), if there is one. */
export function kernelNodeModules(): string | undefined {
  if (ownModules === undefined) {
    ownModules = null;
    for (let dir = __dirname; ; dir = path.dirname(dir)) {
      const pkg = path.join(dir, 'package.json');
      if (existsSync(pkg)) {
        const name = attempt(() => (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name, undefined);
        if (name === 'opsbook') {
          ownModules = path.join(dir, 'node_modules');
          break;
        }
      }
      if (path.dirname(dir) === dir) break;
    }
  }
  return ownModules ?? undefined;
}

/** The node_modules folders a notebook in cwd resolves from (cwd and its parents), then opsbook's own. */
function moduleFolders(options: CompleteOptions): string[] {
  const folders: string[] = [];
  for (let dir = path.resolve(options.cwd ?? process.cwd()); ; dir = path.dirname(dir)) {
    if (path.basename(dir) !== 'node_modules') folders.push(path.join(dir, 'node_modules'));
    if (path.dirname(dir) === dir) break;
  }
  const own = options.kernelModules === undefined ? kernelNodeModules() : options.kernelModules ?? undefined;
  if (own) folders.push(own);
  return [...new Set(folders)];
}

/** Modules that exist only with the `node:` scheme (not in builtinModules on every Node version). */
const SCHEME_ONLY = ['node:sea', 'node:sqlite', 'node:test', 'node:test/reporters'];

function builtinNames(prefix: string, out: Set<string>): void {
  for (const name of builtinModules) {
    if (name.startsWith('_') && !prefix.startsWith('_')) continue; // Node's internal _stream_*, _http_* aliases
    for (const id of name.startsWith('node:') ? [name] : [name, `node:${name}`]) if (id.startsWith(prefix)) out.add(id);
  }
  if ('node:'.startsWith(prefix) || prefix.startsWith('node:')) for (const id of SCHEME_ONLY) if (id.startsWith(prefix) && isBuiltin(id)) out.add(id);
}

/** Package names (and, after `pkg/`, paths inside a package) that start with prefix. */
function packageNames(prefix: string, options: CompleteOptions, out: Set<string>): void {
  const scoped = prefix.startsWith('@');
  const segments = prefix.split('/');
  const nameSegments = scoped ? 2 : 1;
  for (const folder of moduleFolders(options)) {
    if (segments.length > nameSegments) {
      // Inside a package: `lodash/fp/ma`, `@scope/pkg/lib/x`.
      const pkg = segments.slice(0, nameSegments).join('/');
      const sub = segments.slice(nameSegments, -1).join('/');
      const dir = path.join(folder, pkg, sub);
      const last = segments[segments.length - 1];
      for (const e of entries(dir)) {
        if (!e.name.startsWith(last) || e.name === 'node_modules' || (e.name.startsWith('.') && !last.startsWith('.'))) continue;
        out.add(`${[pkg, sub, e.name].filter(Boolean).join('/')}${isDirectory(dir, e) ? '/' : ''}`);
      }
      continue;
    }
    for (const e of entries(folder)) {
      if (e.name.startsWith('.') || !isDirectory(folder, e)) continue;
      if (e.name.startsWith('@')) {
        const scope = `${e.name}/`;
        if (!(scope.startsWith(prefix) || prefix.startsWith(scope))) continue;
        const scopeDir = path.join(folder, e.name);
        for (const p of entries(scopeDir)) {
          const id = `${scope}${p.name}`;
          if (!p.name.startsWith('.') && id.startsWith(prefix) && isDirectory(scopeDir, p)) out.add(id);
        }
      } else if (e.name.startsWith(prefix)) out.add(e.name);
    }
  }
}

function looksLikePath(text: string): boolean {
  return text.startsWith('./') || text.startsWith('../') || text.startsWith('/') || text.startsWith('~/');
}

/** Entries of the folder a path-like text names, whose name starts with the text's last segment. */
function pathEntries(text: string, options: CompleteOptions): string[] {
  const slash = text.lastIndexOf('/');
  const folder = text.slice(0, slash + 1);
  const last = text.slice(slash + 1);
  const dir = folder.startsWith('~/') ? path.join(options.home ?? os.homedir(), folder.slice(2)) : path.resolve(options.cwd ?? process.cwd(), folder);
  const out: string[] = [];
  for (const e of entries(dir)) {
    if (!e.name.startsWith(last) || (e.name.startsWith('.') && !last.startsWith('.'))) continue;
    out.push(isDirectory(dir, e) ? `${e.name}/` : e.name);
    if (out.length >= MAX_PATH_ENTRIES) break;
  }
  return out;
}

// ---- complete_request --------------------------------------------------------------------------------------

export interface CompleteReply {
  matches: string[];
  cursor_start: number;
  cursor_end: number;
  metadata: Record<string, unknown>;
  status: 'ok';
}

/** Completes magic names after a `%` that starts a line (the registry lives in magics/). */
export type MagicCompleter = (prefix: string) => string[];

export interface CompleteOptions {
  /** Where relative paths and the notebook's node_modules are looked up (default: process.cwd()). */
  cwd?: string;
  /** What `~/` means (default: os.homedir()). */
  home?: string;
  /** opsbook's own node_modules (default: found from this file; null: none). */
  kernelModules?: string | null;
}

/** `import … from "`, `import "`, `export … from "`, `require("`, `require.resolve("`, `import("`. */
const MODULE_CONTEXT = /(?:\bfrom|(?:^|[^\p{ID_Continue}$.])import|\b(?:require(?:\s*\.\s*resolve)?|import)\s*\(\s*)\s*$/u;
const KEY_CONTEXT = new RegExp(`((?:${ID}\\s*\\??\\.\\s*)*${ID})\\s*(?:\\?\\.\\s*)?\\[\\s*$`, 'u');

/**
 * Completion at a code-point cursor: magic names after a `%` at line start; module names inside the string of an
 * import or require; file names inside a string that starts like a path; property keys inside `obj["…`; else
 * identifiers: properties of the member chain before the cursor, or globals, names the cell declares and keywords.
 * The matches replace [cursor_start, cursor_end): the token under the cursor, including its part right of it.
 */
export function complete(global: object, code: string, cursor: number, magics?: MagicCompleter, options: CompleteOptions = {}): CompleteReply {
  const at = locate(code, cursor);
  const before = code.slice(0, at.units);
  const after = code.slice(at.units, at.units + 1000);
  const reply = (matches: Iterable<string>, token: string, right = ''): CompleteReply => ({
    matches: sorted(new Set(matches)),
    cursor_start: at.points - codePoints(token),
    cursor_end: at.points + codePoints(right),
    metadata: {},
    status: 'ok',
  });

  const lineStart = before.lastIndexOf('\n') + 1;
  const magic = /^[ \t]*(%{1,2})([\w-]*)$/.exec(before.slice(lineStart));
  if (magic && magics) return reply(magics(magic[2]).map((name) => `${magic[1]}${name}`), magic[1] + magic[2], /^[\w-]*/.exec(after)?.[0]);

  const lex = scan(before);
  if (lex.state === 'single' || lex.state === 'double' || lex.state === 'template') {
    const text = before.slice(lex.start + 1);
    // The rest of the string right of the cursor (up to its closing quote or the line's end).
    const rest = (lex.state === 'single' ? /^[^'\n]*/ : lex.state === 'double' ? /^[^"\n]*/ : /^[^`$]*/).exec(after)?.[0] ?? '';
    if (looksLikePath(text) && !lex.afterSubstitution) {
      const token = text.slice(text.lastIndexOf('/') + 1);
      return reply(pathEntries(text, options), token, /^[^/]*/.exec(rest)?.[0]);
    }
    const head = before.slice(0, lex.start);
    if (lex.state !== 'template' && MODULE_CONTEXT.test(head.slice(-200))) {
      const out = new Set<string>();
      builtinNames(text, out);
      packageNames(text, options, out);
      return reply(out, text, rest);
    }
    const key = lex.state !== 'template' ? KEY_CONTEXT.exec(head.slice(-CHAIN_WINDOW)) : null;
    if (key) {
      const base = resolve(global, key[1].split(/\??\./).map((s) => s.trim()));
      const out = new Set<string>();
      if (base.found) propertyNames(base.value, text, false, out);
      return reply(out, text, rest);
    }
    return reply([], text, rest);
  }
  if (lex.state !== 'code') return reply([], '');

  const tail = before.slice(-CHAIN_WINDOW);
  const m = CHAIN.exec(tail);
  const chain = m?.[1] ?? '';
  const prefix = m?.[2] ?? '';
  const right = ID_RIGHT.exec(after)?.[0] ?? '';
  const path = chain.split(/\??\./).map((s) => s.trim()).filter(Boolean);
  const lead = tail.slice(0, m?.index ?? tail.length).trimEnd();
  const out = new Set<string>();
  if (MEMBER_DOT.test(lead)) {
    // A member of something that is not a plain chain: `f().x`, `[1].x`. Only string literals are known.
    const beforeDot = lead.replace(/\??\.$/, '').trimEnd();
    if (!/["'`]$/.test(beforeDot)) return reply([], prefix, right);
    const base = resolve(global, path, { value: '' });
    if (base.found) propertyNames(base.value, prefix, true, out);
    return reply(out, prefix, right);
  }
  if (path.length > 0) {
    const base = resolve(global, path);
    if (base.found) propertyNames(base.value, prefix, true, out);
    return reply(out, prefix, right);
  }
  if (prefix === '' && tail !== '' && ID_CHAR.test(tail[tail.length - 1])) return reply([], '', right); // right after a number: `12|`
  propertyNames(global, prefix, true, out);
  for (const k of KEYWORDS) if (k.startsWith(prefix)) out.add(k);
  const elsewhere = code.slice(0, at.units - prefix.length) + code.slice(at.units + right.length);
  for (const name of declaredNames(elsewhere)) if (name.startsWith(prefix)) out.add(name);
  return reply(out, prefix, right);
}

// ---- inspect_request ---------------------------------------------------------------------------------------

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
 * inspect_request: type, signature (for functions and classes), JSDoc found in the request's code, and a value
 * summary of the member chain under the cursor, or of the function whose call the cursor is in. detail_level 1
 * adds deeper values and the source of functions. Never throws, whatever the value is.
 */
export function inspectAt(global: object, code: string, cursor: number, detailLevel: number): InspectReply {
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
    return { status: 'ok', found: true, data: { 'text/plain': describe(resolved.value, target.path, code, detailLevel) }, metadata: {} };
  } catch {
    return notFound;
  }
}

function describe(value: unknown, path: string[], code: string, detailLevel: number): string {
  const name = path.join('.');
  const fn = typeof value === 'function' && !types.isProxy(value) ? (value as Function) : undefined;
  const info = fn ? describeFunction(fn) : undefined;
  const lines = [`${name}: ${typeLabel(value, info)}`];
  if (info) lines.push(`Signature: ${signatureOf(path[path.length - 1], info)}`);
  const doc = typeof value === 'function' ? jsdocIn(code, path[path.length - 1]) : undefined;
  if (doc) lines.push(`Docstring:\n${doc}`);
  if (!info) lines.push(`Value: ${preview(value, detailLevel)}`);
  else if (detailLevel > 0 && info.source) lines.push(`Source:\n${info.source}`);
  return lines.join('\n');
}

// ---- is_complete_request -----------------------------------------------------------------------------------

export function isComplete(code: string): { status: 'complete' | 'incomplete' | 'invalid'; indent?: string } {
  if (code.trim() === '') return { status: 'complete' };
  try {
    parseCell(code);
    return { status: 'complete' };
  } catch (e) {
    if (!(e instanceof CellSyntaxError)) return { status: 'invalid' };
    const lines = code.split('\n');
    const atEnd = e.line === lines.length && e.column - 1 >= lines[lines.length - 1].length;
    const unterminated = /Unterminated (template|comment)/.test(e.message);
    if (atEnd || unterminated) {
      const lastIndent = /^\s*/.exec(lines[lines.length - 1])?.[0] ?? '';
      const opens = /[{([]\s*$/.test(lines[lines.length - 1]);
      return { status: 'incomplete', indent: opens ? `${lastIndent}  ` : lastIndent };
    }
    return { status: 'invalid' };
  }
}
