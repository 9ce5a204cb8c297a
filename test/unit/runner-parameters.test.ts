// Unit tests of `opsbook run`'s parameters: papermill's -p typing, YAML read like NoDatesSafeLoader, precedence
// (-f, -y, -p, -r), identifier checks, TypeScript literals that evaluate back to the same values, where the
// injected cell goes, the -p/-r pairs taken out of argv before commander, and the parameters cell's defaults.
import * as vm from 'node:vm';
import { splitParameterPairs } from '../../kernel/runner/argv';
import { UsageError } from '../../kernel/runner/errors';
import { Notebook, parseNotebook } from '../../kernel/runner/notebook';
import { collectParameters, declaredParameters, injectedSource, injectParameters, isIdentifier, parseYamlParameters, resolveType, tsLiteral } from '../../kernel/runner/parameters';

test('-p values are typed like papermill: True/False/None, then int(), float(), else the string', () => {
  const cases: Array<[string, unknown]> = [
    ['True', true],
    ['False', false],
    ['None', null],
    ['true', 'true'],
    ['42', 42],
    ['-5', -5],
    ['+7', 7],
    [' 8 ', 8],
    ['1_000', 1000],
    ['1.5', 1.5],
    ['.5', 0.5],
    ['5.', 5],
    ['1e3', 1000],
    ['-2.5E-2', -0.025],
    ['inf', Infinity],
    ['-Infinity', -Infinity],
    ['0x10', '0x10'],
    ['1__0', '1__0'],
    ['', ''],
    ['api', 'api'],
    ['v1.2.3', 'v1.2.3'],
  ];
  for (const [input, expected] of cases) expect([input, resolveType(input)]).toEqual([input, expected]);
  expect(Number.isNaN(resolveType('nan') as number)).toBe(true);
});

test('YAML parameters are read as YAML 1.1 like PyYAML, but dates stay strings (NoDatesSafeLoader)', () => {
  expect(parseYamlParameters('when: 2024-01-02\nok: yes\nbad: off\nshort: y\nn: 0x1f\nnested: {a: [1, two, ~]}\nq: "☃"', '-y')).toEqual({
    when: '2024-01-02',
    ok: true,
    bad: false,
    short: 'y',
    n: 31,
    nested: { a: [1, 'two', null] },
    q: '☃',
  });
  expect(parseYamlParameters('', '-y')).toEqual({});
  expect(() => parseYamlParameters('- a\n- b', '-y')).toThrow(/must be a YAML mapping/);
  expect(() => parseYamlParameters('a: [1', '-y')).toThrow(UsageError);
  expect(() => parseYamlParameters('a: !!binary aGk=', '-y')).toThrow(/not plain YAML data/);
  expect(() => parseYamlParameters('bad-name: 1', '-y')).toThrow(/not a valid TypeScript identifier/);
});

test('precedence is papermill\'s: -f files, then -y, then -p, then -r, whatever the order on the command line', () => {
  const params = collectParameters({
    files: [['a.yaml', 'service: from-file\nonly_file: 1\nversion: 1']],
    yamls: ['service: from-yaml\nversion: 2'],
    pairs: [
      { kind: 'raw', name: 'version', value: '3' },
      { kind: 'typed', name: 'version', value: '4' },
      { kind: 'typed', name: 'replicas', value: '2' },
    ],
  });
  expect(params).toEqual({ service: 'from-yaml', only_file: 1, version: '3', replicas: 2 });
});

test('parameter names must be identifiers a cell can declare', () => {
  for (const ok of ['service', '_x', '$y', 'dryRun2', 'café', 'ünïcødé']) expect([ok, isIdentifier(ok)]).toEqual([ok, true]);
  for (const bad of ['2x', 'a-b', 'a b', '', 'class', 'const', 'undefined', 'await']) expect([bad, isIdentifier(bad)]).toEqual([bad, false]);
  expect(() => collectParameters({ files: [], yamls: [], pairs: [{ kind: 'typed', name: 'my-service', value: 'x' }] })).toThrow(/"my-service" \(from -p\) is not a valid TypeScript identifier/);
});

test('the injected cell is TypeScript that evaluates to exactly the parameters', () => {
  const params = { service: 'ünï "q" \\ \n ☃ \u2028', n: -0.25, big: 12345678901, on: false, none: null, nested: { 'a-b': [1, { c: 'x' }], empty: {} }, list: [], nan: NaN, inf: -Infinity };
  const source = injectedSource(params);
  expect(source.split('\n')[0]).toBe('// Parameters');
  expect(source.split('\n')).toHaveLength(Object.keys(params).length + 2);
  expect(source).toMatch(/^const service = "/m);
  const context = vm.createContext({});
  vm.runInContext(source.replace(/^const /gm, 'var '), context);
  const got = vm.runInContext('({ service, n, big, on, none, nested, list, nan, inf })', context) as Record<string, unknown>;
  expect(JSON.stringify(got)).toBe(JSON.stringify(params));
  expect(Number.isNaN(got.nan)).toBe(true);
  expect(got.inf).toBe(-Infinity);
  expect(tsLiteral(null)).toBe('null');
  expect(tsLiteral({})).toBe('{}');
});

function notebook(cells: Array<{ tags?: string[]; source?: string; type?: string }>): Notebook {
  return parseNotebook(JSON.stringify({ nbformat: 4, nbformat_minor: 4, metadata: {}, cells: cells.map((c) => ({ cell_type: c.type ?? 'code', metadata: c.tags ? { tags: c.tags } : {}, source: c.source ?? '', outputs: [] })) }), 'test');
}

const tags = (nb: Notebook) => nb.cells.map((c) => (c.metadata.tags as string[] | undefined)?.[0] ?? '-');

test('the injected cell goes after the parameters cell, replaces an earlier injected cell, or goes on top', () => {
  const after = notebook([{ type: 'markdown' }, { tags: ['parameters'] }, {}]);
  expect(injectParameters(after, { a: 1 })).toBe('after-parameters');
  expect(tags(after)).toEqual(['-', 'parameters', 'injected-parameters', '-']);
  expect(after.cells[2].cell_type).toBe('code');
  expect(after.cells[2].id).toMatch(/^[0-9a-f]{8}$/);

  expect(injectParameters(after, { a: 2 })).toBe('replaced');
  expect(tags(after)).toEqual(['-', 'parameters', 'injected-parameters', '-']);
  expect(after.cells[2].source).toContain('const a = 2;');

  const none = notebook([{}, {}]);
  expect(injectParameters(none, { a: 1 })).toBe('top');
  expect(tags(none)).toEqual(['injected-parameters', '-', '-']);
});

test('the parameters cell\'s simple declarations are its default parameters, in papermill\'s shape', () => {
  const nb = notebook([{ tags: ['parameters'], source: 'const service = "api"; // which service\nlet replicas: number = 3;\nconst url = "http://x//y";\n// a comment\nconst on = true' }]);
  expect(declaredParameters(nb)).toEqual({
    service: { name: 'service', inferred_type_name: 'string', default: '"api"', help: 'which service' },
    replicas: { name: 'replicas', inferred_type_name: 'number', default: '3', help: '' },
    url: { name: 'url', inferred_type_name: 'string', default: '"http://x//y"', help: '' },
    on: { name: 'on', inferred_type_name: 'boolean', default: 'true', help: '' },
  });
});

test('-p/-r pairs come out of argv with both values, even values that look like flags', () => {
  const { argv, pairs } = splitParameterPairs(['node', 'cli.js', 'run', '-p', 'offset', '-5', 'in.ipynb', '-r', 'version', '007', '--timeout', '3', 'out.ipynb', '-y', '-p', '--', '-p', 'x', 'y']);
  expect(pairs).toEqual([
    { kind: 'typed', name: 'offset', value: '-5' },
    { kind: 'raw', name: 'version', value: '007' },
  ]);
  expect(argv).toEqual(['node', 'cli.js', 'run', 'in.ipynb', '--timeout', '3', 'out.ipynb', '-y', '-p', '--', '-p', 'x', 'y']);
  // a pair flag without two values is left for commander to report
  expect(splitParameterPairs(['node', 'cli.js', 'run', 'in.ipynb', '-p', 'x']).argv).toEqual(['node', 'cli.js', 'run', 'in.ipynb', '-p', 'x']);
  // other commands are untouched
  expect(splitParameterPairs(['node', 'cli.js', 'kernel', '-p', 'a', 'b']).argv).toEqual(['node', 'cli.js', 'kernel', '-p', 'a', 'b']);
});

test('a __proto__ key in a YAML mapping stays an own key of the parameter, and of the injected TypeScript value', () => {
  const params = parseYamlParameters('config: {__proto__: {polluted: yes}, regions: [eu]}\nlist: [{__proto__: 1}]', '-y');
  const config = params.config as Record<string, unknown>;
  expect(Object.getPrototypeOf(config)).toBe(Object.prototype);
  expect(Object.keys(config)).toEqual(['__proto__', 'regions']);
  expect(JSON.stringify(params)).toBe('{"config":{"__proto__":{"polluted":true},"regions":["eu"]},"list":[{"__proto__":1}]}');
  const context = vm.createContext({});
  vm.runInContext(injectedSource(params).replace(/^const /gm, 'var '), context);
  const bound = vm.runInContext('config', context) as Record<string, unknown>;
  expect(Object.getPrototypeOf(bound)).toBe(vm.runInContext('Object.prototype', context));
  expect(vm.runInContext('JSON.stringify({ config, list })', context)).toBe(JSON.stringify(params));
  expect(vm.runInContext('({}).polluted', context)).toBeUndefined();
});
