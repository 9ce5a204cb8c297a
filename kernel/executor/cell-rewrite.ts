// Turns a cell's JavaScript into one async function whose top-level declarations become properties of the
// context's global object (so state persists and a cell that declares `const x` can be re-run) and whose
// last expression is returned (it becomes execute_result) unless it ends with `;`. Line numbers are kept: only line 1 shifts.
import * as acorn from 'acorn';

export interface RewrittenCell {
  code: string;
  /** Columns added in front of line 1, for vm's columnOffset. */
  prefixLength: number;
}

export class CellSyntaxError extends SyntaxError {
  constructor(message: string, readonly line: number, readonly column: number) {
    super(message);
    this.name = 'SyntaxError';
  }
}

type Node = acorn.Node & Record<string, unknown>;
interface Edit {
  start: number;
  end: number;
  text: string;
}

export function parseCell(code: string): acorn.Program {
  try {
    return acorn.parse(code, { ecmaVersion: 'latest', sourceType: 'script', allowAwaitOutsideFunction: true, allowHashBang: true, locations: true });
  } catch (e) {
    const err = e as SyntaxError & { loc?: { line: number; column: number } };
    throw new CellSyntaxError(err.message.replace(/ \(\d+:\d+\)$/, ''), err.loc?.line ?? 1, (err.loc?.column ?? 0) + 1);
  }
}

function declaredNames(pattern: Node, out: string[]): void {
  switch (pattern.type) {
    case 'Identifier':
      out.push(pattern.name as string);
      break;
    case 'ObjectPattern':
      for (const p of pattern.properties as Node[]) declaredNames((p.type === 'RestElement' ? p.argument : p.value) as Node, out);
      break;
    case 'ArrayPattern':
      for (const el of pattern.elements as (Node | null)[]) if (el) declaredNames(el, out);
      break;
    case 'RestElement':
      declaredNames(pattern.argument as Node, out);
      break;
    case 'AssignmentPattern':
      declaredNames(pattern.left as Node, out);
      break;
  }
}

/** Re-run cells are common (and parsing is the bulk of a small cell's cost): remember recent rewrites. */
const recent = new Map<string, RewrittenCell>();
const RECENT_KEPT = 256;

export function rewriteCell(code: string): RewrittenCell {
  const known = recent.get(code);
  if (known) return known;
  const rewritten = rewrite(code);
  recent.set(code, rewritten);
  if (recent.size > RECENT_KEPT) recent.delete(recent.keys().next().value as string);
  return rewritten;
}

function rewrite(code: string): RewrittenCell {
  const program = parseCell(code);
  const body = program.body as unknown as Node[];
  const edits: Edit[] = [];
  const hoisted: string[] = [];
  for (const stmt of body) {
    if (stmt.type === 'VariableDeclaration') {
      const kind = stmt.kind as string;
      const parts = (stmt.declarations as Node[]).map((d) => {
        const id = d.id as Node;
        const idText = code.slice(id.start, id.end);
        if (d.init) return `(${idText} = ${code.slice((d.init as Node).start, (d.init as Node).end)})`;
        if (kind === 'var') return `(${idText} = globalThis.${idText})`;
        return `(${idText} = undefined)`;
      });
      const terminated = code[stmt.end - 1] === ';';
      edits.push({ start: stmt.start, end: stmt.end, text: `${parts.join(', ')}${terminated ? ';' : ''}` });
    } else if (stmt.type === 'FunctionDeclaration') {
      const name = (stmt.id as Node).name as string;
      hoisted.push(`globalThis.${name} = ${name};`);
    } else if (stmt.type === 'ClassDeclaration') {
      const name = (stmt.id as Node).name as string;
      edits.push({ start: stmt.start, end: stmt.start, text: `${name} = ` });
      edits.push({ start: stmt.end, end: stmt.end, text: ';' });
    }
  }
  const last = body[body.length - 1];
  // IPython's rule: a trailing `;` on the last expression suppresses its value.
  if (last && last.type === 'ExpressionStatement' && code[last.end - 1] !== ';') {
    const expr = last.expression as Node;
    edits.push({ start: last.start, end: expr.start, text: 'return (' });
    edits.push({ start: expr.end, end: expr.end, text: ')' });
  }
  let out = code;
  for (const e of edits.sort((a, b) => b.start - a.start || b.end - a.end)) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  const prefix = `(async () => { ${hoisted.join(' ')}`;
  return { code: `${prefix}${out}\n})()`, prefixLength: prefix.length };
}

/** Names a cell declares at top level (used by completion before the cell has run). */
export function topLevelNames(program: acorn.Program): string[] {
  const names: string[] = [];
  for (const stmt of program.body as unknown as Node[]) {
    if (stmt.type === 'VariableDeclaration') for (const d of stmt.declarations as Node[]) declaredNames(d.id as Node, names);
    else if ((stmt.type === 'FunctionDeclaration' || stmt.type === 'ClassDeclaration') && stmt.id) names.push((stmt.id as Node).name as string);
  }
  return names;
}
