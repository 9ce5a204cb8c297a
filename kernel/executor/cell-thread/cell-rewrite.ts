// Turns a TypeScript cell into JavaScript for the cell thread: types are stripped by sucrase (which keeps line
// numbers), then top-level declarations and imports become properties of the global object (so state
// persists and a cell that declares `const x` can be re-run) and exports lose their keyword. The last
// expression is the cell's value (execute_result) unless it ends with `;`. A cell with top-level await is
// wrapped in an async function (only line 1's columns shift); any other cell stays a plain script.
import * as acorn from 'acorn';
import { transform } from 'sucrase';
import { CellEdits, originalPosition } from './cell-positions';
import { expandMagicLines } from './magic-lines';
import { papermillParameters } from './papermill';

export interface RewrittenCell {
  code: string;
  /** Columns added in front of line 1, for vm's columnOffset. */
  prefixLength: number;
  /**
   * A cell with top-level await runs as an async function whose promise resolves to `{ value }` (boxed, so a
   * Promise the cell ends with is shown, not awaited); any other cell is a plain script whose completion value
   * is the value, with no wrapper to compile and every column exact.
   */
  async: boolean;
  /** How to map a position in `code` back to the cell's TypeScript (see cell-positions.ts). */
  positions: CellEdits;
}

/** The cell's value, boxed (a Promise value must not be flattened), from what its script evaluated to. */
export async function cellValue(cell: RewrittenCell, evaluated: unknown): Promise<{ value: unknown }> {
  // an awaiting cell that does not end in a value (`await x;`, a loop) returns nothing from its wrapper
  return cell.async ? ((await (evaluated as Promise<{ value: unknown } | undefined>)) ?? { value: undefined }) : { value: evaluated };
}

const FUNCTION_TYPES = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression']);

/** Whether `await` (or `for await`) appears outside any function: only then does a cell need the async wrapper. */
function hasTopLevelAwait(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(hasTopLevelAwait);
  if (node === null || typeof node !== 'object') return false;
  const n = node as Node;
  if (typeof n.type !== 'string') return false;
  if (n.type === 'AwaitExpression' || (n.type === 'ForOfStatement' && n.await === true)) return true;
  if (FUNCTION_TYPES.has(n.type)) return false;
  for (const key of Object.keys(n)) {
    if (key === 'loc') continue;
    const child = n[key];
    if (typeof child === 'object' && child !== null && hasTopLevelAwait(child)) return true;
  }
  return false;
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

/** TypeScript to JavaScript, types removed, imports kept (a later cell may use them), line numbers unchanged. */
export function transpileCell(code: string): string {
  try {
    return transform(code, { transforms: ['typescript'], keepUnusedImports: true, disableESTransforms: true }).code;
  } catch (e) {
    const err = e as SyntaxError & { loc?: { line: number; column: number } };
    throw new CellSyntaxError(err.message.replace(/ \(\d+:\d+\)$/, ''), err.loc?.line ?? 1, err.loc?.column ?? 1);
  }
}

export interface ParsedCell {
  /** The TypeScript that was transpiled: the cell with papermill's parameters and magic lines expanded. */
  source: string;
  /** The cell as JavaScript. */
  js: string;
  program: acorn.Program;
}

/** Transpiles and parses a cell (as a module, so import/export and top-level await are syntax). */
export function parseCell(cellText: string): ParsedCell {
  const source = expandMagicLines(papermillParameters(cellText) ?? cellText);
  const js = transpileCell(source);
  try {
    return { source, js, program: acorn.parse(js, { ecmaVersion: 'latest', sourceType: 'module', allowHashBang: true, locations: true }) };
  } catch (e) {
    const err = e as SyntaxError & { loc?: { line: number; column: number } };
    // acorn saw the JavaScript sucrase made; its position is mapped back to the TypeScript typed
    const at = originalPosition({ source, js, edits: [] }, err.loc?.line ?? 1, (err.loc?.column ?? 0) + 1);
    throw new CellSyntaxError(err.message.replace(/ \(\d+:\d+\)$/, ''), at.line, at.column);
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

/** `import x from "m"` gets the default export of an ES module and the whole of a CommonJS one. */
const DEFAULT_INTEROP = '((m) => (m && m.__esModule ? m.default : m))';

function importAssignment(js: string, stmt: Node): string {
  const source = js.slice((stmt.source as Node).start, (stmt.source as Node).end);
  const required = `require(${source})`;
  const specifiers = stmt.specifiers as Node[];
  if (specifiers.length === 0) return `${required};`;
  const parts: string[] = [];
  const named: string[] = [];
  for (const spec of specifiers) {
    const local = (spec.local as Node).name as string;
    if (spec.type === 'ImportDefaultSpecifier') parts.push(`(${local} = ${DEFAULT_INTEROP}(${required}))`);
    else if (spec.type === 'ImportNamespaceSpecifier') parts.push(`(${local} = ${required})`);
    else {
      const imported = spec.imported as Node;
      const name = imported.type === 'Literal' ? JSON.stringify(imported.value) : (imported.name as string);
      named.push(name === local ? local : `${name}: ${local}`);
    }
  }
  if (named.length > 0) parts.push(`({ ${named.join(', ')} } = ${required})`);
  return `${parts.join(', ')};`;
}

function rewrite(code: string): RewrittenCell {
  const { source, js, program } = parseCell(code);
  const body = program.body as unknown as Node[];
  const edits: Edit[] = [];
  const hoisted: string[] = [];
  const persist = (stmt: Node): void => {
    if (stmt.type === 'VariableDeclaration') {
      // `const a = 1, { b } = o;` becomes `(a = 1), ({ b } = o);`: small edits, so columns inside stay mappable
      const kind = stmt.kind as string;
      const declarations = stmt.declarations as Node[];
      // A leading `;` and a closing one keep a neighbour without semicolon from calling the parentheses.
      edits.push({ start: stmt.start, end: declarations[0].start, text: '' });
      declarations.forEach((d, i) => {
        edits.push({ start: d.start, end: d.start, text: i === 0 ? ';(' : '(' });
        const id = d.id as Node;
        const missing = kind === 'var' ? ` = globalThis.${js.slice(id.start, id.end)}` : ' = undefined';
        const last = i === declarations.length - 1 && js[stmt.end - 1] !== ';';
        edits.push({ start: d.end, end: d.end, text: `${d.init ? ')' : `${missing})`}${last ? ';' : ''}` });
      });
    } else if (stmt.type === 'FunctionDeclaration' && stmt.id) {
      const name = (stmt.id as Node).name as string;
      hoisted.push(`globalThis.${name} = ${name};`);
    } else if (stmt.type === 'ClassDeclaration' && stmt.id) {
      const name = (stmt.id as Node).name as string;
      edits.push({ start: stmt.start, end: stmt.start, text: `${name} = ` });
      edits.push({ start: stmt.end, end: stmt.end, text: ';' });
    } else if (stmt.type === 'ImportDeclaration') {
      edits.push({ start: stmt.start, end: stmt.end, text: `;${importAssignment(js, stmt)}` });
    }
  };
  for (const stmt of body) {
    if (stmt.type === 'ExportNamedDeclaration' || stmt.type === 'ExportDefaultDeclaration') {
      // A cell is not a module anyone imports: `export` only marks what the notebook keeps, which it keeps anyway.
      const declaration = stmt.declaration as Node | null;
      if (!declaration) edits.push({ start: stmt.start, end: stmt.end, text: '' });
      else {
        edits.push({ start: stmt.start, end: declaration.start, text: '' });
        persist(declaration);
      }
    } else if (stmt.type === 'ExportAllDeclaration') {
      edits.push({ start: stmt.start, end: stmt.end, text: '' });
    } else persist(stmt);
  }
  const last = body[body.length - 1];
  const lastExpression = last?.type === 'ExpressionStatement' ? (last.expression as Node)
    : last?.type === 'ExportDefaultDeclaration' && !/Declaration$/.test((last.declaration as Node).type) ? (last.declaration as Node) : undefined;
  // IPython's rule: a trailing `;` on the last expression suppresses its value.
  const valued = last !== undefined && lastExpression !== undefined && js[last.end - 1] !== ';';
  const async = hasTopLevelAwait(program.body);
  if (valued && async) {
    edits.push({ start: lastExpression.start, end: lastExpression.start, text: 'return { value: (' });
    edits.push({ start: lastExpression.end, end: lastExpression.end, text: ') }' });
  }
  edits.sort((a, b) => a.start - b.start || a.end - b.end);
  let out = '';
  let at = 0;
  for (const e of edits) {
    out += js.slice(at, e.start) + e.text;
    at = e.end;
  }
  out += js.slice(at);
  const positions: CellEdits = { source, js, edits };
  if (!async) {
    // A script's completion value is its last expression statement's value; rewritten declarations are
    // expression statements too, so a cell that does not end in a value ends in `void 0`.
    return { code: valued ? out : `${out}\n;void 0`, prefixLength: 0, async, positions };
  }
  const prefix = `(async () => { ${hoisted.join(' ')}`;
  return { code: `${prefix}${out}\n})()`, prefixLength: prefix.length, async, positions };
}
