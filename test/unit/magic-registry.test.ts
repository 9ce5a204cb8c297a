// Unit tests of the magic framework's magics/ side: registration, lookup with suggestions, help generated
// from the option definitions, option parsing and its usage errors, word splitting, and the completion hook.
import { MagicRegistry, Magic, MagicCall } from '../../magics/registry';
import { tokenize } from '../../magics/tokenize';
import { UsageError, MagicError, isExpectedError } from '../../kernel/io/errors';
import type { Io } from '../../kernel/io/io';

const io = {} as Io;
let seen: MagicCall | undefined;
const echo: Magic = {
  name: 'echo',
  summary: 'prints its arguments',
  kind: 'both',
  positional: { name: 'words', description: 'what to print', rest: true },
  options: [
    { name: 'upper', short: 'u', type: 'boolean', description: 'shout' },
    { name: 'times', type: 'number', valueName: 'n', description: 'repeat' },
    { name: 'label', type: 'list', valueName: 'K=V', description: 'a label (repeatable)' },
    { name: 'since', type: 'string', valueName: 'duration', description: 'how far back', parse: (v) => { if (!/^\d+[smh]$/.test(v)) throw new Error(`bad duration "${v}"`); return v; } },
  ],
  run: async (call) => {
    seen = call;
    const text = call.args.rest.repeat(Number(call.args.options.times ?? 1));
    return call.args.options.upper ? text.toUpperCase() : text;
  },
};

function registry(): MagicRegistry {
  const r = new MagicRegistry();
  r.register(echo);
  r.register({ ...echo, name: 'env', kind: 'line', options: [] });
  r.register({ ...echo, name: 'query', kind: 'cell', options: [] });
  return r;
}

const line = (name: string, text = '', more: Partial<Parameters<MagicRegistry['run']>[0]> = {}) => ({ name, text, cell: false, help: false, bound: false, ...more });

async function usageError(p: Promise<unknown>): Promise<UsageError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(UsageError);
  return e as UsageError;
}

test('registers, finds and lists magics; duplicates are refused', () => {
  const r = registry();
  expect(r.names()).toEqual(['echo', 'env', 'query']);
  expect(() => r.register(echo)).toThrow(/already registered/);
});

test('runs a magic with parsed options, positional words rejoined, and the cell body', async () => {
  const r = registry();
  expect(await r.run(line('echo', 'ab --times 2 -u'), io)).toBe('ABAB');
  expect(await r.run(line('echo', 'sum by (job) (rate(x{path="/a  b"}[5m])) --label a=1 --label b=2'), io)).toBe('sum by (job) (rate(x{path="/a  b"}[5m]))');
  expect(seen?.args.options.label).toEqual(['a=1', 'b=2']);
  await r.run(line('echo', '--since 5m x', { cell: true, body: 'line 1\nline 2' }), io);
  expect(seen?.body).toBe('line 1\nline 2');
  expect(seen?.args.options.since).toBe('5m');
});

test('usage errors are short, name the problem and end with the usage line', async () => {
  const r = registry();
  const unknown = await usageError(r.run(line('echo', '--sincee 5m'), io));
  expect(unknown.message).toBe("%echo: unknown option '--sincee' (did you mean --since?)");
  expect(unknown.usage).toMatch(/^usage: %echo \[options\] \[words\.\.\.\]$/);
  expect((await usageError(r.run(line('echo', '--times many'), io))).message).toMatch(/option '--times <n>' argument 'many' is invalid. "many" is not a number/);
  expect((await usageError(r.run(line('echo', '--since'), io))).message).toMatch(/option '--since <duration>' argument missing/);
  expect((await usageError(r.run(line('echo', '--since 5 parsecs'), io))).message).toMatch(/bad duration "5"/);
  expect((await usageError(r.run(line('env', 'a "unterminated'), io))).message).toMatch(/unterminated double quote/);
  expect(isExpectedError(unknown)).toBe(true);
});

test('an unknown magic suggests the closest names; line and cell kinds are checked', async () => {
  const r = registry();
  expect((await usageError(r.run(line('ecoh'), io))).message).toBe('unknown magic %ecoh (did you mean %echo?)');
  expect((await usageError(r.run(line('zzzzzz'), io))).message).toBe('unknown magic %zzzzzz');
  expect((await usageError(r.run(line('env', '', { cell: true }), io))).message).toMatch(/%env is a line magic/);
  expect((await usageError(r.run(line('query'), io))).message).toMatch(/%%query is a cell magic/);
});

test('%name? and --help show help generated from the option definitions', async () => {
  const r = registry();
  const shown = (v: unknown) => (v as Record<symbol, () => Record<string, string>>)[Symbol.for('Jupyter.display')]()['text/plain'];
  const help = shown(await r.run(line('echo', '', { help: true }), io));
  expect(help).toContain('Usage: %echo [options] [words...]');
  expect(help).toContain('prints its arguments');
  expect(help).toMatch(/-u, --upper\s+shout/);
  expect(help).toMatch(/--times <n>\s+repeat/);
  seen = undefined;
  expect(shown(await r.run(line('echo', 'x --help'), io))).toBe(help);
  expect(seen).toBeUndefined(); // the magic did not run
});

test('words split like a shell where a word starts with a quote; quotes inside a word stay', () => {
  expect(tokenize('--legend "{{instance}} {{code}}" up')).toEqual(['--legend', '{{instance}} {{code}}', 'up']);
  expect(tokenize(`a 'b c' "d \\"e\\"" f"g h"`)).toEqual(['a', 'b c', 'd "e"', 'f"g h"']);
  expect(tokenize('rate(x{job="api", path=~"/a b.*"}[5m])')).toEqual(['rate(x{job="api",', 'path=~"/a b.*"}[5m])']);
  expect(tokenize('  ')).toEqual([]);
  expect(() => tokenize('x{a="b')).toThrow(/unterminated quote/);
});

test('expected errors carry a hint; other errors are not expected', () => {
  const e = new MagicError('Prometheus at http://x is unreachable', 'check the URL');
  expect(isExpectedError(e)).toBe(true);
  expect(e.hint).toBe('check the URL');
  expect(isExpectedError(new Error('bug'))).toBe(false);
});

test('the completion hook: magic names after %, option names after a magic name', async () => {
  const r = registry();
  expect(r.complete('ec')).toEqual(['echo']);
  expect(r.complete('--t', 'echo')).toEqual(['--times']);
  expect(r.complete('--', 'missing')).toEqual([]);
  const { complete } = await import('../../kernel/executor/cell-thread/complete');
  const code = 'const ü = 1\n%ec';
  const reply = complete({}, code, [...code].length, (p) => r.complete(p));
  expect(reply.matches).toEqual(['%echo']);
  expect(reply.cursor_start).toBe([...code].length - 3);
  expect(complete({ alpha: 1 }, 'x % al', 6, (p) => r.complete(p)).matches).toEqual(['alpha']);
  const options = (code: string) => complete({}, code, [...code].length, (p, m) => r.complete(p, m));
  expect(options('%echo some words --ti').matches).toEqual(['--times']);
  expect(options('const out = %echo --').matches).toEqual(['--help', '--label', '--since', '--times', '--upper']);
  expect(options('%echo --ti').cursor_start).toBe('%echo '.length);
});

test('a number option whose own check fails is a UsageError, not a stack trace', async () => {
  const r = new MagicRegistry();
  r.register({ ...echo, name: 'wait', options: [{ name: 'seconds', type: 'number', description: 'how long', parse: (v) => { if (Number(v) < 0) throw new Error('must not be negative'); return Number(v); } }] });
  const e = await usageError(r.run(line('wait', '--seconds -1'), io));
  expect(e.message).toMatch(/must not be negative/);
});
