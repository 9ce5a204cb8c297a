// papermill's injected `-l python` parameters cell as papermill really writes it when black is importable (its
// [black]/[all] extras): Debian's python3 with Debian's black renders the cell by papermill's rules
// (test/support/papermill_cell.py) for parameters long enough to be spread over lines, with trailing commas,
// parenthesised values, split strings and swapped quotes; the real kernel runs each cell over ZeroMQ and every
// parameter must come back bound to exactly the value papermill was given (NaN, -0 and ±Infinity included, and a
// `__proto__` key as an own property). Skipped with a warning without black, except with CI=true, where it fails.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { startTestKernel, TestKernel } from '../support/kernel-client';
import { PYTHON } from '../support/jupyter-env';
import { REPO_ROOT } from '../support/kernel-process';

const GENERATOR = path.join(REPO_ROOT, 'test', 'support', 'papermill_cell.py');
const mustRun = process.env.CI === 'true';
const blackImports = spawnSync(PYTHON, ['-c', 'import black'], { encoding: 'utf8' }).status === 0;
if (!blackImports && !mustRun) console.warn('papermill-black: SKIPPED, black is missing (bash notebooks/stack/install-system-deps.sh installs it); with CI=true this suite fails instead');
const describeBlack = blackImports || mustRun ? describe : describe.skip;

type Mode = 'plain' | 'papermill' | 'normalized' | 'preview';

/** JSON with the floats JSON cannot spell as {"$float": ...}, both for papermill_cell.py and for the kernel's answer. */
const FLOAT_REPLACER = `(key, v) => typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0)) ? { $float: Number.isNaN(v) ? 'nan' : Object.is(v, -0) ? '-0.0' : v > 0 ? 'inf' : '-inf' } : v`;
const floatReplacer = new Function(`return ${FLOAT_REPLACER}`)() as (key: string, v: unknown) => unknown;
const encode = (value: unknown) => JSON.stringify(value, floatReplacer);

const words = (n: number, word: string) => Array.from({ length: n }, (_, i) => `${word}${i}`).join(' ');

/** Parameters chosen so that black has something to do with each of them at papermill's 88 columns. */
const PARAMETERS: Record<string, unknown> = {
  hosts: Array.from({ length: 8 }, (_, i) => `host-${i}.eu-west.example.internal`),
  limits: { cpu: 0.5, memory: '512Mi', tags: ['canary', 'eu'], nested: { deep: [1, 2.5e-7, -3, null, true, false], note: 'y'.repeat(40) } },
  matrix: [[1, 2, 3, 'four', 'five', 'six'], [7.5, -8.25, 1e21, 12345678901, 0.1], [], {}, [[['deep']]], words(6, 'cell')],
  mostly_double_quotes: 'say "a", "b" and "c", it\'s fewer escapes in single quotes',
  quoting: `it's "quoted" with a back\\slash and 'single' quotes, ${words(8, 'w')}`,
  unicode: `héllo ☃ 😀 tab\t newline\n nul\0 bell\x07 line-sep\u2028 ${words(6, 'ü')}`,
  numbers: [0, -1, -0, 2.5e-7, -1e-10, 1e21, 1.5, NaN, Infinity, -Infinity, 9007199254740991],
  special: NaN,
  negative_infinity: -Infinity,
  flags: { on: true, off: false, nothing: null, 'key with "quotes" and \'apostrophes\'': 'value', 'ünïcødé ☃ key': words(6, 'v') },
  prototype_keys: {}, // set below
  a_parameter_name_long_enough_that_the_value_no_longer_fits_beside_it: 'a value of moderate length, so it moves',
  long_text: words(30, 'word'),
  empty_string: '',
  empty_list: [],
  empty_dict: {},
};
// an object literal would make `__proto__` the prototype; the parameter wants it as an own key, as JSON.parse makes it
PARAMETERS.prototype_keys = JSON.parse(`{"__proto__": {"polluted": true}, "constructor": "not a function", "toString": 1, "hasOwnProperty": "${words(8, 'h')}"}`) as unknown;

function papermillCell(mode: Mode, parameters: Record<string, unknown>): string {
  const r = spawnSync(PYTHON, [GENERATOR], { input: `{"mode": ${JSON.stringify(mode)}, "parameters": ${encode(parameters)}}`, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`papermill_cell.py ${mode} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

describeBlack('papermill parameters cells formatted by black', () => {
  let k: TestKernel;
  beforeAll(async () => {
    k = await startTestKernel();
  });
  afterAll(async () => {
    await k.stop();
  });

  async function boundParameters(cell: string): Promise<string> {
    const injected = await k.client.execute(cell);
    expect([injected.reply.content.status, injected.reply.content.evalue]).toEqual(['ok', undefined]);
    const names = Object.keys(PARAMETERS).join(', ');
    const read = await k.client.execute(`console.log(JSON.stringify({ ${names} }, ${FLOAT_REPLACER}))`);
    expect(read.reply.content.status).toBe('ok');
    return read.outputs.filter((m) => m.header.msg_type === 'stream').map((m) => m.content.text as string).join('').trim();
  }

  test.each<Mode>(['plain', 'papermill', 'normalized', 'preview'])('black mode %s: every parameter is bound to the value papermill was given', async (mode) => {
    const cell = papermillCell(mode, PARAMETERS);
    const lines = cell.split('\n');
    if (mode !== 'plain') {
      // black did spread values over lines: closing brackets alone on a line, trailing commas, a parenthesised value
      expect(lines).toEqual(expect.arrayContaining([']', '}', ')']));
      expect(lines.some((l) => /,$/.test(l) && /^\s+/.test(l))).toBe(true);
    }
    if (mode === 'normalized') expect(cell).toMatch(/'say "a", "b" and "c", it\\'s/); // quotes swapped to save escapes
    if (mode === 'preview') expect(lines.some((l, i) => /^\s+"/.test(l) && /"$/.test(lines[i - 1] ?? ''))).toBe(true); // implicit concatenation
    expect(await boundParameters(cell)).toBe(encode(PARAMETERS));
    const proto = await k.client.execute('[Object.getPrototypeOf(prototype_keys) === Object.prototype, Object.hasOwn(prototype_keys, "__proto__"), ({} as Record<string, unknown>).polluted]');
    expect(proto.outputs.find((m) => m.header.msg_type === 'execute_result')?.content.data).toEqual({ 'text/plain': '[ true, true, undefined ]' });
  });
});
