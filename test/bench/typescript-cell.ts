// The 200-line TypeScript benchmark cell, and its transpile + compile + run cost in this process (rewriteCell + vm).
import { performance } from 'node:perf_hooks';
import * as vm from 'node:vm';
import { rewriteCell } from '../../kernel/executor/cell-thread/cell-rewrite';
import { Summary, summarize } from './stats';

/** 11 lines: interface, generic type, enum, typed array of objects, a function with a default, a generic class. */
function block(i: number): string[] {
  return [
    `interface Item${i} { id: number; name: string; tags?: string[] }`,
    `type Pair${i}<T> = [T, T];`,
    `enum Level${i} { Low = 1, High = 2 }`,
    `const items${i}: Item${i}[] = Array.from({ length: 20 }, (_, k) => ({ id: k, name: \`item-\${k}\` }));`,
    `function total${i}(list: Item${i}[], scale: number = 1): number {`,
    '  let sum = 0;',
    '  for (const it of list) sum += it.id * scale;',
    '  return sum;',
    '}',
    `class Box${i}<T> { constructor(public value: T) {} map<U>(f: (v: T) => U): Box${i}<U> { return new Box${i}(f(this.value)); } }`,
    `const pair${i}: Pair${i}<number> = [total${i}(items${i}), new Box${i}(Level${i}.High as number).map((v) => v * 2).value];`,
  ];
}

export const CELL_LINES = 200;
const BLOCKS = 18; // 18 × 11 = 198 lines, plus the first and the last

/**
 * A 200-line TypeScript cell (types, interfaces, enums, generics, classes, loops) ending in an expression. `variant`
 * changes only its first line, a comment: a new variant is a new cell for every cache (rewrite, V8), same work.
 */
export function typescriptCell(variant: number): string {
  const lines = [`// opsbook benchmark cell, variant ${variant}`];
  for (let i = 0; i < BLOCKS; i++) lines.push(...block(i));
  lines.push(`pair0[0] + pair${BLOCKS - 1}[1]`);
  if (lines.length !== CELL_LINES) throw new Error(`benchmark cell has ${lines.length} lines, not ${CELL_LINES}`);
  return lines.join('\n');
}

/** What the cell evaluates to (each total is 0 + 1 + … + 19 = 190, each pair's second item 4). */
export const CELL_VALUE = 194;

export interface InProcessCells {
  lines: number;
  /** The first cell this process rewrites: includes the JIT warm-up of sucrase and acorn. */
  firstMs: number;
  /** New cells (new variants): rewriteCell + new vm.Script + run to the settled value. */
  newCell: Summary;
  /** rewriteCell alone for the same new cells (sucrase + acorn + the edits). */
  rewrite: Summary;
  /** The same cell again (the rewrite is cached; compile and run are not). */
  rerun: Summary;
}

/** Times the cell's rewrite, compile and run in a fresh vm context of this process. */
export async function inProcessCells(runs: number): Promise<InProcessCells> {
  const context = vm.createContext({});
  const run = async (code: string): Promise<{ totalMs: number; rewriteMs: number }> => {
    const t0 = performance.now();
    const cell = rewriteCell(code);
    const t1 = performance.now();
    const script = new vm.Script(cell.code, { filename: '<bench cell>', columnOffset: -cell.prefixLength });
    const value = await (script.runInContext(context) as Promise<unknown>);
    const totalMs = performance.now() - t0;
    if (value !== CELL_VALUE) throw new Error(`the benchmark cell returned ${String(value)}, not ${CELL_VALUE}`);
    return { totalMs, rewriteMs: t1 - t0 };
  };
  const firstMs = (await run(typescriptCell(0))).totalMs;
  const total: number[] = [];
  const rewrite: number[] = [];
  for (let i = 1; i <= runs; i++) {
    const r = await run(typescriptCell(i));
    total.push(r.totalMs);
    rewrite.push(r.rewriteMs);
  }
  const rerun: number[] = [];
  for (let i = 0; i < runs; i++) rerun.push((await run(typescriptCell(runs))).totalMs);
  return { lines: CELL_LINES, firstMs, newCell: summarize(total), rewrite: summarize(rewrite), rerun: summarize(rerun) };
}
