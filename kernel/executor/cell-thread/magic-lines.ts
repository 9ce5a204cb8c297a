// Turns magic lines into awaited calls before a cell is transpiled, one line for one line (line numbers stay):
//   %name args            ->  await <runner>({ name, text: `args` })
//   const r = %name args  ->  const r = await <runner>({ ..., bound: true })
//   %name?                ->  the magic's help
//   !command              ->  the %sh magic (shell), streamed (a line starting with `!`; `const x = !y` stays
//                             JavaScript negation: capture output with `const out = %sh command`)
//   %%name args (line 1)  ->  the whole cell is one call, the lines below are its body
// The argument text and a cell magic's body become template literals, so `${expr}` interpolates TypeScript
// values (an undefined name is a ReferenceError naming it), `$${` writes a literal `${`, and PromQL's `{...}`
// and Grafana's `{{label}}` pass through untouched. Lines inside strings, templates and comments are left alone.
import { scan } from './source-scan';

/** The global (a symbol, so it never shows in completion) the rewritten lines call; see magic-runner.ts. */
export const MAGIC_RUNNER = 'opsbook.magic';
const RUNNER = `globalThis[Symbol.for(${JSON.stringify(MAGIC_RUNNER)})]`;

/** Leading indent, an optional binding (`const r =`, `export let x: T =`, `a.b =`), then `%` or `!`. */
const LINE = /^([ \t]*)((?:export[ \t]+)?(?:const|let|var)[ \t]+[^=]*?=[ \t]*|[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*[ \t]*=[ \t]*)?(%(?!%)|!)(.*)$/;
/** After `%`: the name, an optional `?`, then the arguments. */
const MAGIC = /^([A-Za-z_][\w-]*)(\?)?(?:[ \t]+(.*)|[ \t]*)$/;
const CELL_MAGIC = /^[ \t]*%%([A-Za-z_][\w-]*)(\?)?(?:[ \t]+(.*)|[ \t]*)$/;
/** `!` starts a shell command unless it reads as JavaScript negation: `!(x)`, `!!x`, `!= `, `! x`. */
const SHELL_START = /^[^\s=(!]/;

/** Source of a template literal whose value is `text`, with `${...}` kept as substitutions and `$${` as `${`. */
export function templateLiteral(text: string): string {
  const escaped = text.replace(/\\/g, '\\\\').replace(/`/g, '\\`').replace(/\$\$\{/g, '\\${');
  return `\`${escaped}\``;
}

interface Call {
  name: string;
  text: string;
  body?: string;
  cell?: boolean;
  help?: boolean;
  bound?: boolean;
}

function callSource(call: Call): string {
  const fields = [`name: ${JSON.stringify(call.name)}`, `text: ${templateLiteral(call.text)}`];
  // the body starts on the line below the call, as it did below `%%name`: line numbers stay the cell's
  if (call.body !== undefined) fields.push(`body: ${templateLiteral(`\n${call.body}`)}.slice(1)`);
  if (call.cell) fields.push('cell: true');
  if (call.help) fields.push('help: true');
  if (call.bound) fields.push('bound: true');
  return `await ${RUNNER}({ ${fields.join(', ')} })`;
}

/** The call a single line stands for, or undefined when it is not a magic line. */
function lineCall(line: string): string | undefined {
  const m = LINE.exec(line);
  if (!m) return undefined;
  const [, indent, binding = '', sigil, rest] = m;
  const bound = binding !== '';
  if (sigil === '!') {
    if (bound || !SHELL_START.test(rest)) return undefined;
    return `${indent}${callSource({ name: 'sh', text: rest })}`;
  }
  const magic = MAGIC.exec(rest);
  if (!magic) return undefined;
  const [, name, help, text = ''] = magic;
  return `${indent}${binding}${callSource({ name, text, help: help === '?', bound })}`;
}

/** Whether a cell contains anything this rewrite would change (cheap test first: most cells have no magic). */
function mayHaveMagic(code: string): boolean {
  return /^[ \t]*%|^[^\n]*=[ \t]*[%!]|^[ \t]*!/m.test(code);
}

/** The cell with its magic lines turned into awaited calls; a cell without magic comes back unchanged. */
export function expandMagicLines(code: string): string {
  if (!mayHaveMagic(code)) return code;
  const lines = code.split('\n');
  const cell = CELL_MAGIC.exec(lines[0]);
  if (cell) {
    const [, name, help, text = ''] = cell;
    return callSource({ name, text, body: lines.slice(1).join('\n'), cell: true, help: help === '?' });
  }
  let offset = 0;
  let changed = false;
  const out = lines.map((line, index) => {
    const start = offset;
    offset += line.length + 1;
    if (!/[%!]/.test(line)) return line;
    const call = lineCall(line);
    // a line inside a string, template or comment is text, not a magic
    if (call === undefined || scan(code.slice(0, start)).state !== 'code') return line;
    changed = true;
    // A magic line is a whole statement: `;` keeps a next line that starts with ( or [ from continuing it.
    // Not on the cell's last statement, where `;` would suppress the value (IPython's rule).
    const last = lines.slice(index + 1).every((rest) => /^\s*(\/\/.*)?$/.test(rest));
    return last ? call : `${call};`;
  });
  return changed ? out.join('\n') : code;
}
