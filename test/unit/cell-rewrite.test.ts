// Unit tests of the cell rewrite: declarations persist as globals, re-runs work, the last expression is
// returned, await works at top level, syntax errors point at the cell's line.
import * as vm from 'node:vm';
import { rewriteCell, cellValue, CellSyntaxError } from '../../kernel/executor/cell-thread/cell-rewrite';

function boxedRunner() {
  const context = vm.createContext({ setTimeout, Promise, require: () => ({ join: () => 'joined' }) });
  return (code: string): Promise<{ value: unknown }> => {
    const cell = rewriteCell(code);
    return cellValue(cell, new vm.Script(cell.code, { columnOffset: -cell.prefixLength }).runInContext(context));
  };
}

function runner() {
  const run = boxedRunner();
  return async (code: string): Promise<unknown> => (await run(code)).value;
}

test('the last expression is the value, declarations persist', async () => {
  const run = runner();
  expect(await run('const a = 1; let b = 2; var c = 3; a + b + c')).toBe(6);
  expect(await run('a * 10')).toBe(10);
});

test('re-running a cell that declares const works', async () => {
  const run = runner();
  await run('const x = 1');
  expect(await run('const x = 2; x')).toBe(2);
});

test('destructuring, functions used before their declaration, classes', async () => {
  const run = runner();
  expect(await run('const { p, q: [r, ...rest] } = { p: 1, q: [2, 3, 4] }; p + r + rest.length')).toBe(5);
  expect(await run('const v = twice(4); function twice(n) { return 2 * n }; v')).toBe(8);
  expect(await run('class Box { constructor(v) { this.v = v } }; new Box(3).v')).toBe(3);
  expect(await run('twice(new Box(5).v)')).toBe(10);
});

test('top-level await, also in declarations', async () => {
  const run = runner();
  expect(await run('const w = await new Promise((r) => setTimeout(() => r(7), 5)); w + 1')).toBe(8);
});

test('let without a value is undefined, var without a value keeps the old one', async () => {
  const run = runner();
  await run('var keep = 5; let gone = 1');
  expect(await run('var keep; let gone; [keep, gone]')).toEqual([5, undefined]);
});

test('nested declarations stay local', async () => {
  const run = runner();
  await run('{ const hidden = 1 } function g() { const inner = 2; return inner }');
  await expect(run('hidden')).rejects.toThrow(/hidden is not defined/);
  expect(await run('g()')).toBe(2);
});

test('a trailing semicolon suppresses the value (IPython rule)', async () => {
  const run = runner();
  expect(await run('1 + 1;')).toBeUndefined();
  expect(await run('1 + 1; 2 + 2')).toBe(4);
  expect(await run('2 + 2 // ; in a comment')).toBe(4);
});

test('a cell ending in a Promise shows the Promise; it is not awaited for it (with or without top-level await)', async () => {
  const run = boxedRunner();
  expect((await run('Promise.resolve(5)')).value).toBeInstanceOf(Promise);
  expect((await run('await null; Promise.resolve(5)')).value).toBeInstanceOf(Promise);
});

test('declarations and loops last give no value, even though a script would complete with one', async () => {
  const run = runner();
  expect(await run('const z = 5')).toBeUndefined();
  expect(await run('for (let i = 0; i < 3; i++) { i }')).toBeUndefined();
  expect(await run('import { join } from "x"')).toBeUndefined();
});

test('a statement last gives no value; comments at the end are fine', async () => {
  const run = runner();
  expect(await run('if (true) { 5 }')).toBeUndefined();
  expect(await run('1 + 1 // two')).toBe(2);
});

test('syntax errors carry the cell line and column', () => {
  try {
    rewriteCell('const ok = 1;\nconst = 2;');
    throw new Error('expected a syntax error');
  } catch (e) {
    expect(e).toBeInstanceOf(CellSyntaxError);
    expect((e as CellSyntaxError).line).toBe(2);
    expect((e as CellSyntaxError).column).toBe(7);
  }
});

test('raw V8 lines match the cell; columns do on untouched lines (cell-positions maps the rest)', async () => {
  const run = runner();
  const error = await run('const a1 = 1;\n\nnull.boom').catch((e: Error) => e);
  expect(String((error as Error).stack)).toMatch(/evalmachine.<anonymous>:3:6/);
  const awaiting = await run('await null;\n\nnull.boom').catch((e: Error) => e);
  expect(String((awaiting as Error).stack)).toMatch(/evalmachine.<anonymous>:3:\d+/);
  const inner = await run('const a2 = 1;\nnull.boom;\n2').catch((e: Error) => e);
  expect(String((inner as Error).stack)).toMatch(/evalmachine.<anonymous>:2:6/);
  const first = await run('null.boom; 1').catch((e: Error) => e);
  expect(String((first as Error).stack)).toMatch(/evalmachine.<anonymous>:1:6/);
});

describe('TypeScript cells', () => {
  test('types, interfaces, enums, generics and assertions are accepted and keep line numbers', async () => {
    const run = runner();
    const code = [
      'interface Svc { name: string; replicas?: number }',
      'type Name = Svc["name"];',
      'enum Level { Low, High }',
      'const svc: Svc = { name: "api", replicas: 2 };',
      'function replicas<T extends Svc>(s: T): number { return s.replicas ?? 1 }',
      'class Box<T> { constructor(private readonly v: T) {} get(): T { return this.v } }',
      'const n = new Box<number>(replicas(svc)).get() as number;',
      'n + Level.High',
    ].join('\n');
    expect(await run(code)).toBe(3);
    const error = await run('const typed: number = 1;\n\nnull!.boom').catch((e: Error) => e);
    expect(String((error as Error).stack)).toMatch(/evalmachine.<anonymous>:3:/);
  });

  test('TypeScript syntax errors point at the cell line', () => {
    expect(() => rewriteCell('const ok = 1;\nconst bad: number = ;')).toThrow(CellSyntaxError);
    try {
      rewriteCell('const ok = 1;\nconst bad: number = ;');
    } catch (e) {
      expect((e as CellSyntaxError).line).toBe(2);
    }
  });

  test('imports persist as globals for later cells (default, named, renamed, namespace, side effect)', async () => {
    const context = vm.createContext({ require: (name: string) => (name === 'esm' ? { __esModule: true, default: 'D', named: 'N' } : { cjs: true, join: (...p: string[]) => p.join('/') }) });
    const run = async (code: string) => {
      const cell = rewriteCell(code);
      return (await cellValue(cell, new vm.Script(cell.code).runInContext(context))).value;
    };
    await run('import d, { named as renamed } from "esm";\nimport * as ns from "cjs";\nimport cjsDefault, { join } from "cjs";\nimport "esm";\nimport type { Nothing } from "types";');
    expect(await run('[d, renamed, ns.cjs, cjsDefault.cjs, join("a", "b")]')).toEqual(['D', 'N', true, true, 'a/b']);
  });

  test('export marks nothing special: exported declarations persist, export default is the value', async () => {
    const run = runner();
    expect(await run('export const shared = 4;\nexport function twice(x: number) { return 2 * x }\nexport default twice(shared)')).toBe(8);
    expect(await run('shared + twice(1)')).toBe(6);
  });
});

test('an awaiting cell without a final value has the value undefined (it once left the request unanswered)', async () => {
  const run = boxedRunner();
  expect(await run('await null;')).toEqual({ value: undefined });
  expect(await run('for (const a of [1, 2]) { await a }')).toEqual({ value: undefined });
});

test('declarations without semicolons next to lines that start with ( stay separate statements', async () => {
  const run = runner();
  expect(await run('const s1 = 1\nconst s2 = 2\ns1 + s2')).toBe(3);
  expect(await run('const s3 = [1]\n;(s3 as number[]).push(2)\ns3.length')).toBe(2);
  expect(await run('Math.max(1)\nconst s4 = 4\ns4')).toBe(4);
});
