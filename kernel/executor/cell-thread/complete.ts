// complete_request: matches for the token under a code-point cursor (magics, module names, file paths,
// property keys, identifiers of live objects, declared names and keywords), best first: an object's own members
// before what it inherits, Object's members last.
import { codePoints, locate } from './cursor';
import { CHAIN, CHAIN_WINDOW, ID, ID_CHAR, ID_RIGHT, MEMBER_DOT } from './identifiers';
import { declaredNames, propertyNameGroups, ranked, resolve } from './live-names';
import { builtinNames, CompleteOptions, looksLikePath, packageNames, pathEntries } from './module-names';
import { scan } from './source-scan';

const KEYWORDS = ['async', 'await', 'break', 'case', 'catch', 'class', 'const', 'continue', 'debugger', 'default', 'delete', 'do', 'else', 'enum', 'export', 'extends', 'false', 'finally', 'for', 'function', 'if', 'import', 'in', 'instanceof', 'interface', 'let', 'new', 'null', 'of', 'return', 'static', 'super', 'switch', 'this', 'throw', 'true', 'try', 'type', 'typeof', 'undefined', 'var', 'void', 'while', 'yield'];

export interface CompleteReply {
  matches: string[];
  cursor_start: number;
  cursor_end: number;
  metadata: Record<string, unknown>;
  status: 'ok';
}

/** Completes magic names after a `%` that starts a line, and a magic's options (the registry lives in magics/). */
export type MagicCompleter = (prefix: string, magicName?: string) => string[];

/** A magic line (optionally bound: `const r = %name`) up to an option being typed: `%promql up --st`. */
const MAGIC_OPTION = /^[ \t]*(?:[^%\n]*=[ \t]*)?%{1,2}([A-Za-z_][\w-]*)[ \t](?:.*[ \t])?(-{1,2}[\w-]*)$/;

/** `import … from "`, `import "`, `export … from "`, `require("`, `require.resolve("`, `import("`. */
const MODULE_CONTEXT = /(?:\bfrom|(?:^|[^\p{ID_Continue}$.])import|\b(?:require(?:\s*\.\s*resolve)?|import)\s*\(\s*)\s*$/u;
const KEY_CONTEXT = new RegExp(`((?:${ID}\\s*\\??\\.\\s*)*${ID})\\s*(?:\\?\\.\\s*)?\\[\\s*$`, 'u');

/**
 * When the cursor is in a magic's arguments (`%promql rate(ht|`) or in a cell magic's body, the magic's name and
 * the argument text before the cursor, for the magic's own completer. Options (`--x`) are not arguments.
 */
export function magicArgumentsAt(code: string, cursor: number): { name: string; before: string } | undefined {
  const before = code.slice(0, locate(code, cursor).units);
  const lineStart = before.lastIndexOf('\n') + 1;
  const cell = /^[ \t]*%%([A-Za-z_][\w-]*)/.exec(code);
  if (cell && lineStart > 0) return { name: cell[1], before: before.slice(lineStart) };
  const line = /^[ \t]*(?:[^%\n]*=[ \t]*)?%{1,2}([A-Za-z_][\w-]*)[ \t]+(.*)$/.exec(before.slice(lineStart));
  if (!line || /(?:^|[ \t])-{1,2}[\w-]*$/.test(line[2])) return undefined;
  return { name: line[1], before: line[2] };
}

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
  // matches in groups, best group first (members: propertyNameGroups), each group in IPython's order
  const reply = (groups: Iterable<string>[], token: string, right = ''): CompleteReply => ({
    matches: ranked(groups),
    cursor_start: at.points - codePoints(token),
    cursor_end: at.points + codePoints(right),
    metadata: {},
    status: 'ok',
  });

  const lineStart = before.lastIndexOf('\n') + 1;
  const magic = /^[ \t]*(%{1,2})([\w-]*)$/.exec(before.slice(lineStart));
  if (magic && magics) return reply([magics(magic[2]).map((name) => `${magic[1]}${name}`)], magic[1] + magic[2], /^[\w-]*/.exec(after)?.[0]);
  const option = MAGIC_OPTION.exec(before.slice(lineStart));
  if (option && magics) return reply([magics(option[2], option[1])], option[2], /^[\w-]*/.exec(after)?.[0]);

  const lex = scan(before);
  if (lex.state === 'single' || lex.state === 'double' || lex.state === 'template') {
    const text = before.slice(lex.start + 1);
    // The rest of the string right of the cursor (up to its closing quote or the line's end).
    const rest = (lex.state === 'single' ? /^[^'\n]*/ : lex.state === 'double' ? /^[^"\n]*/ : /^[^`$]*/).exec(after)?.[0] ?? '';
    if (looksLikePath(text) && !lex.afterSubstitution) {
      const token = text.slice(text.lastIndexOf('/') + 1);
      return reply([pathEntries(text, options)], token, /^[^/]*/.exec(rest)?.[0]);
    }
    const head = before.slice(0, lex.start);
    if (lex.state !== 'template' && MODULE_CONTEXT.test(head.slice(-200))) {
      const out = new Set<string>();
      builtinNames(text, out);
      packageNames(text, options, out);
      return reply([out], text, rest);
    }
    const key = lex.state !== 'template' ? KEY_CONTEXT.exec(head.slice(-CHAIN_WINDOW)) : null;
    if (key) {
      const base = resolve(global, key[1].split(/\??\./).map((s) => s.trim()));
      return reply(base.found ? propertyNameGroups(base.value, text, false) : [], text, rest);
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
  if (MEMBER_DOT.test(lead)) {
    // A member of something that is not a plain chain: `f().x`, `[1].x`. Only string literals are known.
    const beforeDot = lead.replace(/\??\.$/, '').trimEnd();
    if (!/["'`]$/.test(beforeDot)) return reply([], prefix, right);
    const base = resolve(global, path, { value: '' });
    return reply(base.found ? propertyNameGroups(base.value, prefix, true) : [], prefix, right);
  }
  if (path.length > 0) {
    const base = resolve(global, path);
    return reply(base.found ? propertyNameGroups(base.value, prefix, true) : [], prefix, right);
  }
  if (prefix === '' && tail !== '' && ID_CHAR.test(tail[tail.length - 1])) return reply([], '', right); // right after a number: `12|`
  // globals, keywords and the cell's own names first; what the global object inherits (Object's members) after
  const [globals, ...inherited] = propertyNameGroups(global, prefix, true);
  const elsewhere = code.slice(0, at.units - prefix.length) + code.slice(at.units + right.length);
  const named = [...globals, ...KEYWORDS.filter((k) => k.startsWith(prefix)), ...declaredNames(elsewhere).filter((name) => name.startsWith(prefix))];
  return reply([named, ...inherited], prefix, right);
}
