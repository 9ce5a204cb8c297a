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

/** Evaluates the TypeScript made from a cell and returns the named bindings. */
function bindings(cell: string, names: string[]): Record<string, unknown> {
  const ts = papermillParameters(cell);
  if (ts === undefined) throw new Error(`not recognised as papermill parameters:\n${cell}`);
  expect(ts.split('\n')).toHaveLength(cell.split('\n').length); // line for line, so later line numbers hold
  const context = vm.createContext({});
  vm.runInContext(ts.replace(/^const /gm, 'var '), context);
  return vm.runInContext(`({ ${names.join(', ')} })`, context) as Record<string, unknown>;
}

// Cells as black 23.1 formats papermill's cell (black.FileMode(string_normalization=False), papermill's mode;
// black.FileMode(); and the preview style, which splits long strings): multi-line values, trailing commas,
// a value moved into parentheses, implicit concatenation, single quotes with \' escapes.
const BLACK_PAPERMILL = [
  '# Parameters',
  'hosts = [',
  '    "host-0.eu-west.example.internal",',
  '    "host-1.eu-west.example.internal",',
  ']',
  'limits = {',
  '    "cpu": 0.5,',
  '    "tags": ["canary", "eu"],',
  '    "nested": {',
  '        "deep": [1, 2.5e-07, -3, None, True, False],',
  '        "note": "yyyy",',
  '    },',
  '}',
  'numbers = [',
  '    -0.0,',
  '    1e21,',
  "    float('nan'),",
  "    float('-inf'),",
  ']',
  'a_parameter_name_long_enough_that_the_value_no_longer_fits_beside_it = (',
  '    "a value of moderate length, so it moves"',
  ')',
  'empty_dict = {}',
  '',
].join('\n');

test('black\'s layouts of papermill\'s cell: multi-line lists and dicts, trailing commas, a parenthesised value', () => {
  const got = bindings(BLACK_PAPERMILL, ['hosts', 'limits', 'numbers', 'a_parameter_name_long_enough_that_the_value_no_longer_fits_beside_it', 'empty_dict']);
  expect(got).toEqual({
    hosts: ['host-0.eu-west.example.internal', 'host-1.eu-west.example.internal'],
    limits: { cpu: 0.5, tags: ['canary', 'eu'], nested: { deep: [1, 2.5e-7, -3, null, true, false], note: 'yyyy' } },
    numbers: [-0, 1e21, NaN, -Infinity],
    a_parameter_name_long_enough_that_the_value_no_longer_fits_beside_it: 'a value of moderate length, so it moves',
    empty_dict: {},
  });
  expect(Object.is((got.numbers as number[])[0], -0)).toBe(true);
});

test('black\'s preview style and quote normalisation: parenthesised implicit concatenation, single quotes, float("nan")', () => {
  const cell = [
    '# Parameters',
    'long_text = (',
    '    "word0 word1 word2 word3 word4 word5 word6 word7 word8 word9 word10 word11 word12"',
    '    " word13 \\xfc\\u2603 \\U0001f600"',
    ')',
    'mostly_double_quotes = \'say "a", "b" and "c", it\\\'s fewer\'',
    'matrix = [',
    '    [1, 2, "three"],',
    '    (4, 5),',
    '    (6,),',
    '    (),',
    '    ("in " "parens"),',
    '    +7,',
    '    0x1F,',
    '    1_000.5,',
    '    """triple "quoted" \'\'\' text""",',
    "    '''another''',",
    ']',
    'special = float("nan")',
    'inf = float("inf")',
    'flags = {',
    '    "key with \\"quotes\\" and \'apostrophes\'": "value",  # black keeps comments',
    '    # and comment lines',
    '    "\\xfcn\\xefc\\xf8d\\xe9 \\u2603 key": None,',
    '}',
  ].join('\n');
  const got = bindings(cell, ['long_text', 'mostly_double_quotes', 'matrix', 'special', 'inf', 'flags']);
  expect(got).toEqual({
    long_text: 'word0 word1 word2 word3 word4 word5 word6 word7 word8 word9 word10 word11 word12 word13 ü☃ 😀',
    mostly_double_quotes: 'say "a", "b" and "c", it\'s fewer',
    matrix: [[1, 2, 'three'], [4, 5], [6], [], 'in parens', 7, 31, 1000.5, 'triple "quoted" \'\'\' text', 'another'],
    special: NaN,
    inf: Infinity,
    flags: { 'key with "quotes" and \'apostrophes\'': 'value', 'ünïcødé ☃ key': null },
  });
});

test('a __proto__ key in a dict parameter is an own property, not the prototype', () => {
  const got = bindings('# Parameters\nd = {"__proto__": {"polluted": True}, "constructor": 1, "nested": [{"__proto__": None}]}\n', ['d', 'objectPrototype: Object.prototype', 'polluted: ({}).polluted']);
  const d = got.d as Record<string, unknown>;
  expect(Object.getPrototypeOf(d)).toBe(got.objectPrototype);
  expect(got.polluted).toBeUndefined();
  expect(Object.keys(d)).toEqual(['__proto__', 'constructor', 'nested']);
  expect(Object.getOwnPropertyDescriptor(d, '__proto__')?.value).toEqual({ polluted: true });
  const inner = (d.nested as Array<Record<string, unknown>>)[0];
  expect(Object.getPrototypeOf(inner)).toBe(got.objectPrototype);
  expect(Object.hasOwn(inner, '__proto__')).toBe(true);
});

test('Python escapes decode as Python does: octal, \\x, \\u, \\U, line continuation inside a string, unknown escapes kept', () => {
  const got = bindings('# Parameters\ns = "\\101\\0\\x41\\u00e9\\U0001F600 a\\\nb \\d"\nr = r"\\n\\""\n', ['s', 'r']);
  expect(got).toEqual({ s: 'A\0Aé😀 ab \\d', r: '\\n\\"' });
});

test('cells that only look like papermill\'s are left alone (they fail as TypeScript, as before)', () => {
  for (const cell of [
    '# Parameters\nx = [1, 2,, 3]',
    '# Parameters\nx = (1 2)',
    '# Parameters\nx = {"a" 1}',
    '# Parameters\nx = {1: "a"}',
    '# Parameters\nx = {"a", "b"}',
    '# Parameters\nx = [1]\n]',
    '# Parameters\nx = 1 2',
    '# Parameters\nx = b"bytes"',
    '# Parameters\nx = f"{y}"',
    '# Parameters\nx = float("1.5x")',
    '# Parameters\nx = "unterminated',
    '# Parameters\nx = """unterminated',
    '# Parameters\nx = "a\nb"',
    '# Parameters\nx = 1j',
    '# Parameters\nx = "\\N{EM DASH}"',
    '# Parameters\nx = "\\x4"',
    '# Parameters\nx = y',
    '# Parameters\nx == 1',
    '# Parameters\nx.y = 1',
  ]) {
    expect([cell, papermillParameters(cell)]).toEqual([cell, undefined]);
  }
});
