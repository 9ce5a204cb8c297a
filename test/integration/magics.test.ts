// The magic framework through a real kernel: %lsmagic, help, usage errors without stack traces, unknown magics
// with suggestions, !shell streaming and exit status, capture with %sh, interrupt of a shell command,
// interpolation, %prometheus / %config with secrets named, never shown.
import { startTestKernel, TestKernel } from '../support/kernel-client';
import type { Message } from '../../kernel/protocol/messages';
import { descendants } from '../../kernel/children';

let k: TestKernel;
beforeAll(async () => {
  k = await startTestKernel({ env: { PROMETHEUS_URL: '', OPSBOOK_TEST_TOKEN: 's3cr3t-token-value' } });
});
afterAll(async () => {
  await k.stop();
});

const streams = (outputs: Message[], name: string) => outputs.filter((m) => m.header.msg_type === 'stream' && m.content.name === name).map((m) => String(m.content.text)).join('');
const result = (outputs: Message[]) => (outputs.find((m) => m.header.msg_type === 'execute_result')?.content.data as Record<string, string> | undefined)?.['text/plain'];
/** What the kernel wrote (execute_input only echoes the cell the user typed). */
const everything = (outputs: Message[], reply: Message) => JSON.stringify([outputs.filter((m) => m.header.msg_type !== 'execute_input').map((m) => m.content), reply.content]);

test('%lsmagic lists the magics; %name? and --help show usage generated from the options', async () => {
  const ls = await k.client.execute('%lsmagic');
  expect(ls.reply.content.status).toBe('ok');
  expect(result(ls.outputs)).toMatch(/%sh\s+run a shell command/);
  expect(result(ls.outputs)).toMatch(/%prometheus\s+use this Prometheus/);
  const help = await k.client.execute('%prometheus?');
  expect(result(help.outputs)).toContain('Usage: %prometheus [options] <url>');
  expect(result(help.outputs)).toMatch(/--bearer-token-env <VAR>/);
  expect(result((await k.client.execute('%prometheus --help')).outputs)).toBe(result(help.outputs));
});

test('a wrong option is a short UsageError with the usage line and no stack trace; the kernel goes on', async () => {
  const r = await k.client.execute('const before = 41;\n%prometheus http://127.0.0.1:9 --bearer-tokn-env X');
  expect(r.reply.content.status).toBe('error');
  expect(r.reply.content.ename).toBe('UsageError');
  expect(r.reply.content.evalue).toBe("%prometheus: unknown option '--bearer-tokn-env' (did you mean --bearer-token-env?)");
  expect(r.reply.content.traceback).toEqual([`UsageError: ${String(r.reply.content.evalue)}`, 'usage: %prometheus [options] <url>']);
  expect(result((await k.client.execute('before + 1')).outputs)).toBe('42');
});

test('an unknown magic suggests the closest names', async () => {
  const r = await k.client.execute('%promethus http://x');
  expect(r.reply.content.evalue).toBe('unknown magic %promethus (did you mean %prometheus?)');
  expect(r.reply.content.traceback).toEqual(['UsageError: unknown magic %promethus (did you mean %prometheus?)', '%lsmagic lists every magic']);
});

test('!command streams stdout and stderr and reports a non-zero exit status', async () => {
  const r = await k.client.execute('!echo out; echo err >&2; exit 3');
  expect(r.reply.content.status).toBe('ok');
  expect(streams(r.outputs, 'stdout')).toBe('out\n');
  expect(streams(r.outputs, 'stderr')).toBe('err\n[exit status 3]\n');
  expect(result(r.outputs)).toBeUndefined();
});

test('${expr} interpolates TypeScript values into magic lines; const r = %sh captures stdout', async () => {
  const r = await k.client.execute('const who: string = "ops team";\nconst out = %sh printf "hello %s\\n" "${who}" && echo second\nout.lines');
  expect(r.reply.content.status).toBe('ok');
  expect(result(r.outputs)).toBe("[ 'hello ops team', 'second' ]");
  expect(streams(r.outputs, 'stdout')).toBe('');
  const missing = await k.client.execute('!echo ${notDefinedHere}');
  expect(missing.reply.content.ename).toBe('ReferenceError');
  expect(missing.reply.content.evalue).toBe('notDefinedHere is not defined');
});

test('interrupt stops a running shell command and its children at once', async () => {
  const running = k.client.execute('!sleep 30; echo never', {}, 15000);
  const deadline = Date.now() + 5000;
  while (!descendants(k.kernel.child.pid).some((pid) => { try { return require('node:fs').readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep'); } catch { return false; } }) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const t0 = Date.now();
  await k.client.call('interrupt_request', {}, { channel: 'control', timeoutMs: 5000 });
  const r = await running;
  expect(Date.now() - t0).toBeLessThan(3000);
  expect(r.reply.content.ename).toBe('KeyboardInterrupt');
  expect(streams(r.outputs, 'stdout')).not.toContain('never');
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(descendants(k.kernel.child.pid).filter((pid) => { try { return require('node:fs').readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep'); } catch { return false; } })).toEqual([]);
});

test('%prometheus and %config: secrets are named by environment variable, credentials in URLs masked', async () => {
  const set = await k.client.execute('%prometheus http://admin:hunter2@127.0.0.1:9/ --bearer-token-env OPSBOOK_TEST_TOKEN');
  expect(set.reply.content.status).toBe('ok');
  const shown = await k.client.execute('%config');
  const text = result(shown.outputs) ?? '';
  expect(text).toMatch(/prometheus\.url\s+http:\/\/\*\*\*:\*\*\*@127\.0\.0\.1:9\s+\[%prometheus\]/);
  expect(text).toContain('bearer token from $OPSBOOK_TEST_TOKEN (set)');
  for (const r of [set, shown]) {
    expect(everything(r.outputs, r.reply)).not.toContain('hunter2');
    expect(everything(r.outputs, r.reply)).not.toContain('s3cr3t');
  }
  const value = await k.client.execute('%prometheus http://127.0.0.1:9 --bearer-token-env "s3cr3t-token-value"');
  expect(value.reply.content.ename).toBe('MagicError');
  expect(everything(value.outputs, value.reply)).not.toContain('s3cr3t-token-value');
  const reset = await k.client.execute('%config --reset');
  expect(result(reset.outputs)).toMatch(/prometheus\.url\s+\(none/);
});

test('is_complete understands magic lines and cell magics', async () => {
  for (const code of ['%lsmagic', '!ls -la', 'const r = %sh ls', '%%sh\nanything at all {']) {
    const r = await k.client.request('is_complete_request', { code });
    expect([code, r.content.status]).toEqual([code, 'complete']);
  }
});
