// Unit tests of traceback positions: a frame in a cell points at the TypeScript line and column the user typed,
// through sucrase's type stripping, the declaration rewrite and the async wrapper.
import * as vm from 'node:vm';
import { rewriteCell, cellValue, CellSyntaxError } from '../../kernel/executor/cell-thread/cell-rewrite';
import { rememberCell } from '../../kernel/executor/cell-thread/ran-cells';
import { toErrorContent } from '../../kernel/executor/cell-thread/errors';

const context = vm.createContext({ Promise, Error, TypeError });
let count = 0;

/** Runs a cell as the worker does and returns the traceback of what it threw. */
async function traceback(code: string): Promise<string[]> {
  const cell = rewriteCell(code);
  const filename = `<cell ${++count}>`;
  rememberCell(filename, cell.positions);
  try {
    await cellValue(cell, new vm.Script(cell.code, { filename, columnOffset: -cell.prefixLength }).runInContext(context));
  } catch (e) {
    return toErrorContent(e).traceback.map((line) => line.replace(/<cell \d+>/g, '<cell>'));
  }
  throw new Error('the cell did not throw');
}

/** 1-based column of the n-th occurrence of `text` in `line`. */
function col(line: string, text: string, n = 1): number {
  let at = -1;
  for (let i = 0; i < n; i++) at = line.indexOf(text, at + 1);
  if (at < 0) throw new Error(`${text} not in ${line}`);
  return at + 1;
}

test('a type annotation before the error does not shift its column', async () => {
  const line = 'const o: any = null; o.x';
  expect(await traceback(line)).toContain(`    at <cell>:1:${col(line, 'x')}`);
});

test('destructuring declarations and annotations on an earlier line', async () => {
  const line2 = 'const [a, b]: number[] = [1, 2]; o2.x';
  expect(await traceback(`const o2: any = null;\n${line2}`)).toContain(`    at <cell>:2:${col(line2, 'x')}`);
});

test('inside the initializer of a rewritten declaration', async () => {
  const line = 'const bad: string = (null as any).length';
  expect(await traceback(line)).toContain(`    at <cell>:1:${col(line, 'length')}`);
});

test('the last line of a cell with top-level await (after the wrapper inserted `return { value: (`)', async () => {
  const line2 = 'const z: number = 1; (null as any).boom';
  expect(await traceback(`await 0;\n${line2}`)).toContain(`    at <cell>:2:${col(line2, 'boom')}`);
});

test('frames inside functions and after an await keep TypeScript columns', async () => {
  const line1 = 'async function g(): Promise<void> { await 1; throw new Error("boom") }';
  const line2 = 'const z2: number = 1; await g()';
  const frames = await traceback(`${line1}\n${line2}`);
  expect(frames).toContain(`    at g (<cell>:1:${col(line1, 'new')})`);
  // "at async <cell>" in the kernel's own context; vm contexts of a test may drop the word
  expect(frames.some((f) => new RegExp(`^    at (async )?<cell>:2:${col(line2, 'await')}$`).test(f))).toBe(true);
});

test('a function defined in an earlier cell is mapped with that cell', async () => {
  const line = 'function thrower(x: number = 1): never { throw new TypeError("t" + x) }';
  const cell = rewriteCell(line);
  rememberCell('<cell 900>', cell.positions);
  new vm.Script(cell.code, { filename: '<cell 900>' }).runInContext(context);
  const frames = await traceback('const y: number = 2;\nthrower(y)');
  expect(frames).toContain(`    at thrower (<cell 900>:1:${col(line, 'new')})`.replace('<cell 900>', '<cell>'));
  expect(frames).toContain('    at <cell>:2:1');
});

test('syntax errors found in the transpiled JavaScript point at the TypeScript column', () => {
  try {
    rewriteCell('let q: number = 1;\nconst r: number = q +* 2');
    throw new Error('expected a syntax error');
  } catch (e) {
    expect(e).toBeInstanceOf(CellSyntaxError);
    expect([(e as CellSyntaxError).line, (e as CellSyntaxError).column]).toEqual([2, col('const r: number = q +* 2', '*')]);
  }
});
