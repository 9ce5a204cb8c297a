// Unit tests of the magic-line rewrite: which lines are magics, how they become awaited calls (line for line),
// interpolation with ${...} and the $${ escape, bindings, cell magics, and lines that must stay code.
import * as vm from 'node:vm';
import { expandMagicLines, templateLiteral, MAGIC_RUNNER } from '../../kernel/executor/cell-thread/magic-lines';
import { rewriteCell, cellValue } from '../../kernel/executor/cell-thread/cell-rewrite';
import type { MagicRequest } from '../../kernel/io/magics';

/** Runs cells in a context whose magic runner records its requests and answers with them. */
function harness() {
  const requests: Array<Partial<MagicRequest>> = [];
  const context = vm.createContext({ Symbol, Promise });
  Object.defineProperty(vm.runInContext('globalThis', context), Symbol.for(MAGIC_RUNNER), {
    value: async (request: Partial<MagicRequest>) => {
      requests.push(request);
      return { ran: request.name, text: request.text };
    },
  });
  const run = async (code: string) => {
    const cell = rewriteCell(code);
    return (await cellValue(cell, new vm.Script(cell.code).runInContext(context))).value;
  };
  return { requests, run };
}

test('a magic line becomes one awaited call on the same line', () => {
  const out = expandMagicLines('const a = 1;\n%promql up --since 1h\nconst b = 2;');
  const lines = out.split('\n');
  expect(lines).toHaveLength(3);
  expect(lines[0]).toBe('const a = 1;');
  expect(lines[1]).toMatch(/^await globalThis\[Symbol\.for\("opsbook\.magic"\)\]\(\{ name: "promql", text: `up --since 1h` \}\);$/);
  expect(lines[2]).toBe('const b = 2;');
});

test('cells without magic come back unchanged, including % and ! that are JavaScript', () => {
  for (const code of ['a % b', 'x = 10 %\n 3', 'const ok = !failed', 'if (!ok) {}', 'y = a != b', '!(x)', '!!x', '"%promql up"', '`\n%promql up\n`', '// %promql up', '/*\n%promql up\n*/']) {
    expect(expandMagicLines(code)).toBe(code);
  }
});

test('interpolation: ${expr} is a TypeScript value, $${ a literal ${, PromQL braces and {{label}} untouched', async () => {
  const { requests, run } = harness();
  await run('const job: string = "api";\n%promql rate(x{job="${job}"}[5m]) --legend "{{instance}}" --note $${literal} `tick` \\d');
  expect(requests[0]).toEqual({ name: 'promql', text: 'rate(x{job="api"}[5m]) --legend "{{instance}}" --note ${literal} `tick` \\d' });
  const error = await run('%promql ${notDefinedAnywhere}').then(() => undefined, (e: Error) => e);
  expect(String(error)).toMatch(/ReferenceError: notDefinedAnywhere is not defined/);
});

test('const r = %magic binds the result; the last line is the cell value; magics interleave with code', async () => {
  const { requests, run } = harness();
  const value = await run('const r = %echo one\nconst n: number = 2;\nexport let s = %echo two\n%echo ${r.text} ${n} ${s.text}');
  expect(requests.map((q) => q.text)).toEqual(['one', 'two', 'one 2 two']);
  expect(requests[0].bound).toBe(true);
  expect(requests[2].bound).toBeUndefined();
  expect(value).toEqual({ ran: 'echo', text: 'one 2 two' });
  await run('for (const svc of ["a", "b"]) {\n  %echo ${svc}\n}');
  expect(requests.slice(3).map((q) => q.text)).toEqual(['a', 'b']);
  // the next line starts with [ : the magic line is still a statement of its own
  expect(await run('const first = %echo x\n[first.text].length')).toBe(1);
});

test('%%name on the first line: the whole cell is one call, the body below it interpolated', async () => {
  const { requests, run } = harness();
  const code = '%%promql --since 2h\nrate(a[5m])  # A\nrate(b{job="${"api"}"}[5m])';
  expect(expandMagicLines(code).split('\n')).toHaveLength(3);
  await run(code);
  expect(requests[0]).toEqual({ name: 'promql', text: '--since 2h', body: 'rate(a[5m])  # A\nrate(b{job="api"}[5m])', cell: true });
});

test('%name? asks for help; !command runs the sh magic', async () => {
  const { requests, run } = harness();
  await run('%promql?');
  await run('!ls -la "a b" | wc -l');
  expect(requests).toEqual([{ name: 'promql', text: '', help: true }, { name: 'sh', text: 'ls -la "a b" | wc -l' }]);
});

test('templateLiteral escapes backslashes and backticks and turns $${ into a literal ${', () => {
  expect(templateLiteral('a\\b`c$${d}${e}')).toBe('`a\\\\b\\`c\\${d}${e}`');
});
