// Unit tests of papermill's injected parameters read as TypeScript: exactly the `-l python` form (strings with
// unicode_escape, numbers, True/False/None, float('nan'), lists, nested dicts) and nothing else.
import * as vm from 'node:vm';
import { papermillParameters } from '../../kernel/executor/cell-thread/papermill';
import { rewriteCell, cellValue } from '../../kernel/executor/cell-thread/cell-rewrite';

/** The cell papermill 2.x injects for these parameters with -l python (PythonTranslator's rules). */
const INJECTED = [
  '# Parameters',
  'service = "api"',
  'version = 2',
  'ratio = 0.25',
  'big = 12345678901',
  'confirm = True',
  'dry = False',
  'note = None',
  'unicode = "h\\xe9llo \\"q\\" \\\\ \\n tab\\t \\U0001f600 \\u2603"',
  'hosts = ["a", "b"]',
  'nested = {"k": [1, {"x": False}], "empty": [], "d": {}}',
  "nan = float('nan')",
  "inf = float('-inf')",
  '',
].join('\n');

test('the injected cell becomes const declarations with the same values, line for line', () => {
  const ts = papermillParameters(INJECTED) as string;
  expect(ts.split('\n')).toHaveLength(INJECTED.split('\n').length);
  const context = vm.createContext({});
  vm.runInContext(`${ts.replace(/^const /gm, 'var ')}`, context);
  const got = vm.runInContext('({ service, version, ratio, big, confirm, dry, note, unicode, hosts, nested, nan, inf })', context) as Record<string, unknown>;
  expect(got).toEqual({
    service: 'api',
    version: 2,
    ratio: 0.25,
    big: 12345678901,
    confirm: true,
    dry: false,
    note: null,
    unicode: 'héllo "q" \\ \n tab\t 😀 ☃',
    hosts: ['a', 'b'],
    nested: { k: [1, { x: false }], empty: [], d: {} },
    nan: NaN,
    inf: -Infinity,
  });
});

test('cells that are not exactly that form are left alone', () => {
  for (const cell of ['service = "api"', '# Parameters\nservice = "api"\nprint(service)', '# Parameters\nx = [1, 2', '# Parameters\nx = object()', '// Parameters\nconst x = 1', 'const x = 1']) {
    expect(papermillParameters(cell)).toBeUndefined();
  }
});

test('the kernel runs the injected cell as TypeScript and the parameters persist', async () => {
  const cell = rewriteCell(INJECTED);
  const context = vm.createContext({});
  await cellValue(cell, new vm.Script(cell.code).runInContext(context));
  expect(vm.runInContext('`${service}:${version}:${hosts.length}:${nested.k[1].x}`', context)).toBe('api:2:2:false');
});
