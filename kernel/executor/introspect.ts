// Language logic for complete, inspect and is_complete on live objects of the cell context. Cursor
// positions are Unicode code points, as the messaging spec requires. No evaluation: property reads only.
import { inspect } from 'node:util';
import { parseCell, CellSyntaxError } from './cell-rewrite';

const KEYWORDS = ['async', 'await', 'break', 'case', 'catch', 'class', 'const', 'continue', 'debugger', 'default', 'delete', 'do', 'else', 'export', 'extends', 'false', 'finally', 'for', 'function', 'if', 'import', 'in', 'instanceof', 'let', 'new', 'null', 'return', 'static', 'super', 'switch', 'this', 'throw', 'true', 'try', 'typeof', 'undefined', 'var', 'void', 'while', 'yield'];

const CHAIN = /((?:[A-Za-z_$][\w$]*\s*\.\s*)*)([A-Za-z_$][\w$]*)?$/;

/** UTF-16 offset of a code-point cursor. */
export function codeUnitOffset(code: string, cursor: number): number {
  let units = 0;
  let points = 0;
  for (const ch of code) {
    if (points >= cursor) break;
    units += ch.length;
    points += 1;
  }
  return units;
}

function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n += 1;
  return n;
}

function resolve(global: object, path: string[]): { found: boolean; value: unknown } {
  let value: unknown = global;
  for (const name of path) {
    if (value === null || value === undefined) return { found: false, value: undefined };
    try {
      if (!(name in Object(value))) return { found: false, value: undefined };
      value = Reflect.get(Object(value) as object, name);
    } catch {
      return { found: false, value: undefined };
    }
  }
  return { found: true, value };
}

function propertyNames(value: unknown): string[] {
  const names = new Set<string>();
  let obj: unknown = value === null || value === undefined ? undefined : Object(value);
  for (let depth = 0; obj && depth < 20; depth++) {
    for (const k of Object.getOwnPropertyNames(obj)) names.add(k);
    obj = Object.getPrototypeOf(obj);
  }
  return [...names].filter((n) => /^[A-Za-z_$][\w$]*$/.test(n));
}

export interface CompleteReply {
  matches: string[];
  cursor_start: number;
  cursor_end: number;
  metadata: Record<string, unknown>;
  status: 'ok';
}

/** Completes magic names after a `%` that starts a line (the registry lives in magics/). */
export type MagicCompleter = (prefix: string) => string[];

export function complete(global: object, code: string, cursor: number, magics?: MagicCompleter): CompleteReply {
  const before = code.slice(0, codeUnitOffset(code, cursor));
  const magic = /(?:^|\n)[ \t]*(%{1,2})([\w-]*)$/.exec(before);
  if (magic && magics) {
    const matches = magics(magic[2]).map((name) => `${magic[1]}${name}`);
    return { matches, cursor_start: cursor - codePoints(magic[1] + magic[2]), cursor_end: cursor, metadata: {}, status: 'ok' };
  }
  const m = CHAIN.exec(before);
  const prefix = m?.[2] ?? '';
  const path = (m?.[1] ?? '').split('.').map((s) => s.trim()).filter(Boolean);
  let candidates: string[];
  if (path.length > 0) {
    const base = resolve(global, path);
    candidates = base.found ? propertyNames(base.value) : [];
  } else {
    candidates = [...propertyNames(global), ...KEYWORDS];
  }
  const matches = [...new Set(candidates.filter((c) => c.startsWith(prefix)))].sort((a, b) => a.localeCompare(b));
  return { matches, cursor_start: cursor - codePoints(prefix), cursor_end: cursor, metadata: {}, status: 'ok' };
}

function signature(fn: Function): string {
  const src = Function.prototype.toString.call(fn);
  const head = /^[^{=]*?\(([^)]*)\)/.exec(src);
  return `${fn.name || '(anonymous)'}(${head ? head[1].trim() : ''})`;
}

export function inspectAt(global: object, code: string, cursor: number, detailLevel: number) {
  const at = codeUnitOffset(code, cursor);
  const right = /^[\w$]*/.exec(code.slice(at))?.[0] ?? '';
  const m = CHAIN.exec(code.slice(0, at) + right);
  const path = [...(m?.[1] ?? '').split('.').map((s) => s.trim()).filter(Boolean), ...(m?.[2] ? [m[2]] : [])];
  const target = path.length ? resolve(global, path) : { found: false, value: undefined };
  if (!target.found) return { status: 'ok', found: false, data: {}, metadata: {} };
  const value = target.value;
  const type = value === null ? 'null' : typeof value === 'object' ? (value.constructor?.name ?? 'Object') : typeof value;
  const lines = [`${path.join('.')}: ${type}`];
  if (typeof value === 'function') lines.push(`signature: ${signature(value)}`);
  lines.push(inspect(value, { depth: detailLevel > 0 ? 4 : 1, maxArrayLength: detailLevel > 0 ? 100 : 10 }));
  if (detailLevel > 0 && typeof value === 'function') lines.push(Function.prototype.toString.call(value));
  return { status: 'ok', found: true, data: { 'text/plain': lines.join('\n') }, metadata: {} };
}

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
