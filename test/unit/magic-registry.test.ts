// Unit tests of the magic registry: registration, duplicates, listing and the completion hook.
import { MagicRegistry, Magic } from '../../magics/registry';

const echo: Magic = { name: 'echo', summary: 'prints its arguments', options: [{ name: 'upper', description: 'shout' }, { name: 'times', description: 'repeat' }], run: async (args) => args.join(' ') };

test('registers, finds, lists and completes magics and their options', async () => {
  const r = new MagicRegistry();
  r.register(echo);
  r.register({ ...echo, name: 'env', options: [] });
  expect(r.names()).toEqual(['echo', 'env']);
  expect(r.complete('ec')).toEqual(['echo']);
  expect(r.complete('--t', 'echo')).toEqual(['--times']);
  expect(r.complete('--', 'missing')).toEqual([]);
  expect(await r.get('echo')?.run(['a', 'b'], undefined, {} as never)).toBe('a b');
  expect(() => r.register(echo)).toThrow(/already registered/);
});

test('completion after a % at the start of a line asks the registry, in code points', async () => {
  const { complete } = await import('../../kernel/executor/complete');
  const r = new MagicRegistry();
  r.register(echo);
  const code = 'const ü = 1\n%ec';
  const reply = complete({}, code, [...code].length, (p) => r.complete(p));
  expect(reply.matches).toEqual(['%echo']);
  expect(reply.cursor_start).toBe([...code].length - 3);
  expect(complete({ alpha: 1 }, 'x % al', 6, (p) => r.complete(p)).matches).toEqual(['alpha']);
});
