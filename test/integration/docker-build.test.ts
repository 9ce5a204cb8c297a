// %build and %docker through a real kernel against the real Docker engine: progress as one display updated in
// place, the summary and bound value, secret build args masked everywhere, a failed build's step and log, interrupt
// (both, and a build refused before any step, end the display as their outcome), an unreachable engine. Skipped
// with a warning without Docker, except with CI=true, where it fails.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { startTestKernel, TestKernel } from '../support/kernel-client';
import type { Message } from '../../kernel/protocol/messages';
import { ensureDocker } from '../../notebooks/stack/engine';
import { ensureBaseImages, BUSYBOX_IMAGE } from '../../notebooks/stack/base-images';
import { describeWithDocker, removeByLabel } from '../support/docker';
import { prepareSampleApp } from '../../notebooks/stack/sample-app';

// each test runs several builds with 120 s budgets; on a loaded 2-core CI machine (the deploy suites stopping and
// starting containers beside it) a test can pass 60 s while every step is still progressing
jest.setTimeout(240_000);

const describeDocker = describeWithDocker('docker-build');

const RUN_LABEL = `opsbook.test.run=docker-build-${process.pid}`;
const SECRET = 's3cr3t-build-value-42';

const outputsOf = (outputs: Message[]) => outputs.filter((m) => m.header.msg_type !== 'execute_input');
/** The text/plain the cell's display shows last (after its updates). */
const lastShown = (outputs: Message[]) => {
  const shown = outputs.filter((m) => m.header.msg_type === 'display_data' || m.header.msg_type === 'update_display_data');
  return (shown[shown.length - 1]?.content.data as Record<string, string> | undefined)?.['text/plain'];
};
const texts = (outputs: Message[]) => JSON.stringify(outputsOf(outputs).map((m) => m.content));

describeDocker('%build against a real Docker engine', () => {
  let k: TestKernel;
  let dir: string;
  const context = (name: string, files: Record<string, string>): string => {
    const d = path.join(dir, name);
    execFileSync('mkdir', ['-p', d]);
    for (const [file, text] of Object.entries(files)) writeFileSync(path.join(d, file), text);
    return d;
  };

  beforeAll(async () => {
    await ensureDocker();
    await ensureBaseImages();
    dir = mkdtempSync(path.join(os.tmpdir(), 'opsbook-build-'));
    k = await startTestKernel({ env: { OPSBOOK_TEST_SECRET: SECRET } });
  }, 120_000);
  afterAll(async () => {
    await k?.stop();
    await removeByLabel(RUN_LABEL);
    rmSync(dir, { recursive: true, force: true });
  });

  test('progress is one display updated in place; the summary and the bound value describe the image', async () => {
    const ctx = context('ok', { Dockerfile: `FROM ${BUSYBOX_IMAGE}\nRUN echo built > /built\nCOPY note.txt /note.txt\nCMD ["cat", "/built"]\n`, 'note.txt': 'hello' });
    const r = await k.client.execute(`const img = %build ${ctx} -t opsbook-test/build-ok:1 -t opsbook-test/build-ok:latest --label ${RUN_LABEL}\n[img.tags, img.steps, img.layers > 0, img.id.startsWith('sha256:'), img.contextFiles]`, {}, 120_000);
    expect(r.reply.content.status).toBe('ok');
    const shown = r.outputs.filter((m) => m.header.msg_type === 'display_data');
    const updates = r.outputs.filter((m) => m.header.msg_type === 'update_display_data');
    expect(shown).toHaveLength(1);
    expect(updates.length).toBeGreaterThanOrEqual(1);
    const id = (shown[0].content.transient as Record<string, string>).display_id;
    for (const u of updates) expect((u.content.transient as Record<string, string>).display_id).toBe(id);
    const final = updates[updates.length - 1].content.data as Record<string, string>;
    expect(final['text/plain']).toMatch(/^built opsbook-test\/build-ok:1\n/);
    expect(final['text/html']).toContain('<details><summary>build log');
    const value = (r.outputs.find((m) => m.header.msg_type === 'execute_result')?.content.data as Record<string, string>)['text/plain'];
    // 4 Dockerfile steps, then one LABEL step per label (the classic builder's way): ours and the test's
    expect(value).toBe("[ [ 'opsbook-test/build-ok:1', 'opsbook-test/build-ok:latest' ], 7, true, true, 2 ]");
    const again = await k.client.execute(`const same = %build ${ctx} -t opsbook-test/build-ok:1 --label ${RUN_LABEL}\n[same.id === img.id, same.cacheHits]`, {}, 120_000);
    expect((again.outputs.find((m) => m.header.msg_type === 'execute_result')?.content.data as Record<string, string>)['text/plain']).toBe('[ true, 6 ]');
    const labels = JSON.parse(execFileSync('docker', ['image', 'inspect', '--format', '{{json .Config.Labels}}', 'opsbook-test/build-ok:1'], { encoding: 'utf8' })) as Record<string, string>;
    expect(labels['opsbook.managed']).toBe('true');
  });

  test('a --secret-build-arg value never appears in output, errors or labels', async () => {
    const ctx = context('secret', { Dockerfile: `FROM ${BUSYBOX_IMAGE}\nARG TOKEN\nRUN echo "token is $TOKEN"\n` });
    const ok = await k.client.execute(`%build ${ctx} -t opsbook-test/build-secret:1 --secret-build-arg TOKEN=OPSBOOK_TEST_SECRET --label ${RUN_LABEL} --verbose`, {}, 120_000);
    expect(ok.reply.content.status).toBe('ok');
    expect(texts(ok.outputs)).toContain('token is ***');
    expect(texts(ok.outputs)).not.toContain(SECRET);
    const labels = execFileSync('docker', ['image', 'inspect', '--format', '{{json .Config.Labels}}', 'opsbook-test/build-secret:1'], { encoding: 'utf8' });
    expect(labels).not.toContain(SECRET);
    const failing = context('secret-fail', { Dockerfile: `FROM ${BUSYBOX_IMAGE}\nARG TOKEN\nRUN echo "about to fail with $TOKEN" && exit 3\n` });
    const bad = await k.client.execute(`%build ${failing} --secret-build-arg TOKEN=OPSBOOK_TEST_SECRET --label ${RUN_LABEL}`, {}, 120_000);
    expect(bad.reply.content.status).toBe('error');
    expect(texts(bad.outputs) + JSON.stringify(bad.reply.content)).not.toContain(SECRET);
    expect(JSON.stringify(bad.reply.content)).toContain('about to fail with ***');
  });

  test('a failed build is an error naming the failing step with its last log lines, no stack trace', async () => {
    const ctx = context('fail', { Dockerfile: `FROM ${BUSYBOX_IMAGE}\nRUN echo step-two-ran\nRUN echo before-the-failure && exit 7\nRUN echo never\n` });
    const r = await k.client.execute(`%build ${ctx} --label ${RUN_LABEL}`, {}, 120_000);
    expect(r.reply.content.ename).toBe('MagicError');
    expect(r.reply.content.evalue).toMatch(/^build failed at Step 3\/\d+ \(RUN echo before-the-failure && exit 7\): The command '\/bin\/sh -c echo before-the-failure && exit 7' returned a non-zero code: 7$/);
    const traceback = (r.reply.content.traceback as string[]).join('\n');
    expect(traceback).toContain('before-the-failure');
    expect(traceback).not.toMatch(/\bat .*\.js:\d+/);
    // the progress display ends as the outcome, not as a progress line that never ends
    expect(lastShown(r.outputs)).toBe(r.reply.content.evalue);
  });

  test('a build the engine refuses before any step, or whose context cannot be sent, leaves the outcome in the display', async () => {
    const unknown = context('unknown-instruction', { Dockerfile: `FROM ${BUSYBOX_IMAGE}\nFROMM nothing\n` });
    const refused = await k.client.execute(`%build ${unknown} --label ${RUN_LABEL}`, {}, 120_000);
    expect(refused.reply.content.ename).toBe('MagicError');
    expect(lastShown(refused.outputs)).toMatch(/^build failed before the first step: the Docker engine at \S+ refused the build: .*FROMM/i);
    const noDockerfile = context('no-dockerfile', { 'note.txt': 'no Dockerfile here' });
    const unsent = await k.client.execute(`%build ${noDockerfile} --label ${RUN_LABEL}`, {}, 120_000);
    expect(unsent.reply.content.ename).toBe('MagicError');
    expect(lastShown(unsent.outputs)).toMatch(/^build failed before the first step: cannot send the context: /);
    for (const r of [refused, unsent]) expect(lastShown(r.outputs)).not.toMatch(/^building /);
  });

  test('interrupt stops a build at once and leaves no build container running', async () => {
    const ctx = context('slow', { Dockerfile: `FROM ${BUSYBOX_IMAGE}\nRUN sleep 47\n` });
    const pending = k.client.execute(`%build ${ctx} --label ${RUN_LABEL}`, {}, 120_000);
    const deadline = Date.now() + 60_000;
    // asynchronous, so the kernel's messages keep flowing into the test client while the engine answers slowly
    const sleeping = async () => (await promisify(execFile)('docker', ['ps', '--no-trunc', '--format', '{{.Command}}'], { encoding: 'utf8' })).stdout.includes('sleep 47');
    while (Date.now() < deadline && !(await sleeping())) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await sleeping()).toBe(true);
    const t0 = Date.now();
    await k.client.call('interrupt_request', {}, { channel: 'control', timeoutMs: 5000 });
    const r = await pending;
    expect(r.reply.content.ename).toBe('KeyboardInterrupt');
    // long before the 47 s step could have ended on its own: the build was stopped, not waited for
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(lastShown(r.outputs)).toMatch(/^build interrupted at Step 2\/\d+: RUN sleep 47$/);
    const gone = Date.now() + 15_000;
    while (Date.now() < gone && (await sleeping())) await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await sleeping()).toBe(false);
  });

  test('the sample app builds with a build arg; an unreachable engine is one line within seconds', async () => {
    const app = await prepareSampleApp();
    const r = await k.client.execute(`%build ${app} -t opsbook-test/app:unhealthy --build-arg UNHEALTHY=1 --label ${RUN_LABEL}`, {}, 120_000);
    expect(r.reply.content.status).toBe('ok');
    const env = execFileSync('docker', ['image', 'inspect', '--format', '{{json .Config.Env}}', 'opsbook-test/app:unhealthy'], { encoding: 'utf8' });
    expect(env).toContain('APP_UNHEALTHY=1');
    const t0 = Date.now();
    const down = await k.client.execute(`%docker unix://${path.join(dir, 'no-engine.sock')}\n`, {}, 20_000);
    expect(String(down.reply.content.evalue)).toBe(`no Docker engine at unix://${path.join(dir, 'no-engine.sock')} (the socket does not exist)`);
    const build = await k.client.execute(`%build ${app} -t x`, {}, 20_000);
    expect(build.reply.content.ename).toBe('MagicError');
    expect(Date.now() - t0).toBeLessThan(8000);
    await k.client.execute('%config --reset');
  });
});
