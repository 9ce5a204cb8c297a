// %deploy, %rollback and %history through a real kernel against the real Docker engine and the real HAProxy proxy
// (the local image), with the sample app: a healthy deploy and a second version with a request loop running (not one
// request fails), an unhealthy version that is refused while the old one answers every request, rollback, the audit
// trail, secrets masked, the deploy lock (a live holder, a kernel killed mid-deploy), headless confirmation, cleanup.
// Skipped with a warning without Docker, except with CI=true.
import * as os from 'node:os';
import { execFileSync } from 'node:child_process';
import { startTestKernel, TestKernel } from '../support/kernel-client';
import type { Message } from '../../kernel/protocol/messages';
import { freePort } from '../support/kernel-process';
import { describeWithDocker, removeByLabel, ensureDeployParts } from '../support/docker';
import { buildSampleApp } from '../support/sample-image';
import { get, requestLoop } from '../support/request-loop';
import { PROXY_IMAGE } from '../../notebooks/stack/proxy-image';

const describeDocker = describeWithDocker('docker-deploy');

const RUN = `docker-deploy-${process.pid}`;
const SERVICE = `opsbook-test-api-${process.pid}`;
const SECRET = 'db-pa55word-never-shown';

const textOf = (outputs: Message[], reply: Message) => JSON.stringify([outputs.filter((m) => m.header.msg_type !== 'execute_input').map((m) => m.content), reply.content]);
const valueOf = (outputs: Message[]) => (outputs.find((m) => m.header.msg_type === 'execute_result')?.content.data as Record<string, string> | undefined)?.['text/plain'];

describeDocker('%deploy against a real Docker engine', () => {
  let k: TestKernel;
  let port: number;
  let metricsPort: number;
  const images = { v1: `opsbook-test/api:1-${process.pid}`, v2: `opsbook-test/api:2-${process.pid}`, bad: `opsbook-test/api:bad-${process.pid}` };
  const deploy = (image: string, extra = '') => k.client.execute(`const d = %deploy ${image} --name ${SERVICE} -p ${port}:8080 --secret-env DB_PASSWORD=OPSBOOK_DB_PASSWORD --wait 20s --yes ${extra}\nd`, {}, 90_000);

  beforeAll(async () => {
    await ensureDeployParts();
    const labels = [`opsbook.test.run=${RUN}`];
    await buildSampleApp(images.v1, { version: '1', labels });
    await buildSampleApp(images.v2, { version: '2', labels });
    await buildSampleApp(images.bad, { version: 'bad', unhealthy: true, labels });
    port = await freePort();
    metricsPort = await freePort();
    k = await startTestKernel({ env: { OPSBOOK_PROXY_IMAGE: PROXY_IMAGE, OPSBOOK_DB_PASSWORD: SECRET, OPSBOOK_PROTECTED_SERVICES: `other,${SERVICE}`, OPSBOOK_METRICS_PORT: String(metricsPort) } });
  }, 240_000);
  afterAll(async () => {
    await k?.stop();
    execFileSync('sh', ['-c', `docker rm -f $(docker ps -aq --filter label=opsbook.service=${SERVICE}) 2>/dev/null; docker network rm opsbook-net-${SERVICE} 2>/dev/null; true`]);
    await removeByLabel(`opsbook.test.run=${RUN}`);
  });

  test('a first deploy: health-gated, on the port, audited; the secret is passed in but never shown', async () => {
    const r = await deploy(images.v1);
    expect(r.reply.content.status).toBe('ok');
    expect((await get(port)).body).toContain('1');
    const text = textOf(r.outputs, r.reply);
    expect(text).toMatch(/\[audit\] deploy opsbook-test\/api:1-\d+ \([0-9a-f]{12}\) to opsbook-test-api-\d+ by .*: deployed in [\d.]+ s, first deploy, switched in \d+ ms with no gap/);
    expect(text).not.toContain(SECRET);
    const running = execFileSync('docker', ['ps', '-q', '--filter', `label=opsbook.service=${SERVICE}`, '--filter', `label=opsbook.deploy-id`], { encoding: 'utf8' }).trim();
    expect(execFileSync('docker', ['inspect', '--format', '{{json .Config.Env}}', running], { encoding: 'utf8' })).toContain(`DB_PASSWORD=${SECRET}`);
  });

  test('a second version replaces the first with a request loop running: not one request fails', async () => {
    const loop = requestLoop(port);
    const r = await deploy(images.v2);
    const stats = await loop.stop();
    expect(r.reply.content.status).toBe('ok');
    expect((await get(port)).body).toContain('2');
    const switchMs = Number(/switchMs: (\d+)/.exec(valueOf(r.outputs) ?? '')?.[1]);
    console.log(`local cutover through the proxy: ${stats.failed} of ${stats.total} requests failed, switched in ${switchMs} ms`);
    expect(switchMs).toBeGreaterThan(0);
    expect(stats.failed).toBe(0);
    expect(stats.total).toBeGreaterThan(50);
    expect(stats.bodies.size).toBe(2); // both versions answered: the loop ran across the switch
    // the old version is stopped and kept; exactly one version runs
    const runningVersions = execFileSync('docker', ['ps', '-q', '--filter', `label=opsbook.service=${SERVICE}`, '--filter', 'label=opsbook.deploy-id'], { encoding: 'utf8' }).trim().split('\n');
    expect(runningVersions).toHaveLength(1);
  });

  test('an unhealthy version is refused: the old one answers every request throughout, the error shows its logs', async () => {
    const loop = requestLoop(port);
    const r = await deploy(images.bad);
    const stats = await loop.stop();
    expect(r.reply.content.ename).toBe('MagicError');
    expect(String(r.reply.content.evalue)).toMatch(new RegExp(`^deploy of ${images.bad} to ${SERVICE} failed: the new version failed its health check; ${SERVICE}-\\w+ \\(${images.v2}\\) keeps serving$`));
    const traceback = (r.reply.content.traceback as string[]).join('\n');
    expect(traceback).toContain('last log lines:');
    expect(traceback).toContain('health checks:');
    expect(stats.failed).toBe(0);
    expect(stats.total).toBeGreaterThan(20);
    expect([...stats.bodies].every((b) => b.includes('2'))).toBe(true);
    expect(textOf(r.outputs, r.reply)).not.toContain(SECRET);
    expect(execFileSync('docker', ['ps', '-aq', '--filter', `label=opsbook.service=${SERVICE}`, '--filter', 'name=candidate'], { encoding: 'utf8' }).trim()).toBe('');
  });

  test('%rollback goes back to the version the current one replaced; %history lists every deploy', async () => {
    const r = await k.client.execute(`%rollback ${SERVICE} --yes`, {}, 90_000);
    expect(r.reply.content.status).toBe('ok');
    expect((await get(port)).body).toContain('1');
    const h = await k.client.execute(`const h = %history ${SERVICE}\nh.map((x) => x.kind + ' ' + x.outcome.split(':')[0])`);
    expect(valueOf(h.outputs)).toBe("[ 'rollback rolled back', 'deploy failed', 'deploy deployed', 'deploy deployed' ]");
    // the rollback is recorded (and shown) with the tag it went back to, not the image id
    const image = await k.client.execute(`h[0].image`);
    expect(valueOf(image.outputs)).toBe(`'${images.v1}'`);
    // the same outcomes in the kernel's metrics
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toContain(`opsbook_deploys_total{service="${SERVICE}",outcome="deployed"} 2`);
    expect(metrics).toContain(`opsbook_deploys_total{service="${SERVICE}",outcome="failed"} 1`);
    expect(metrics).toContain(`opsbook_rollbacks_total{service="${SERVICE}",outcome="rolled back"} 1`);
    // series that never happened exist at 0 from the service's first deploy (increase() needs a first sample)
    expect(metrics).toContain(`opsbook_rollbacks_total{service="${SERVICE}",outcome="failed"} 0`);
    // the rollback restored the service from the second deploy (time to restore: since that deploy went out)
    expect(metrics).toContain(`opsbook_restores_total{service="${SERVICE}"} 1`);
    const restoreSeconds = Number(/opsbook_restore_seconds_total\{service="[^"]+"\} (\S+)/.exec(metrics)?.[1]);
    expect(restoreSeconds).toBeGreaterThan(0);
    expect(restoreSeconds).toBeLessThan(300);
  });

  test('the deploy lock: a live holder is named with since when; a lock left by a killed kernel is recovered', async () => {
    const lockName = `opsbook-lock-${SERVICE}`;
    const lockLabels = (pid: number) => ['--label', 'opsbook.managed=true', '--label', `opsbook.test.run=${RUN}`, '--label', `opsbook.lock.by=someone@${os.hostname()}`, '--label', `opsbook.lock.host=${os.hostname()}`, '--label', `opsbook.lock.pid=${pid}`, '--label', 'opsbook.lock.since=2026-11-25T06:00:00.000Z'];
    execFileSync('docker', ['create', '--name', lockName, ...lockLabels(process.pid), images.v1, 'true']);
    const held = await deploy(images.v2, '--lock-wait 1s');
    expect(String(held.reply.content.evalue)).toBe(`${SERVICE} is being deployed by someone@${os.hostname()} (kernel pid ${process.pid}) since 2026-11-25T06:00:00.000Z`);
    execFileSync('docker', ['rm', '-f', lockName]);

    // a second kernel starts a deploy that will wait on a health check, and is killed in the middle of it
    const doomed = await startTestKernel({ env: { OPSBOOK_DB_PASSWORD: SECRET } });
    const pending = doomed.client.execute(`%deploy ${images.bad} --name ${SERVICE} -p ${port}:8080 --health-cmd "sleep 60" --wait 60s --yes`, {}, 90_000).catch(() => undefined);
    const deadline = Date.now() + 20_000;
    const candidate = () => execFileSync('docker', ['ps', '-q', '--filter', `label=opsbook.service=${SERVICE}`, '--filter', 'name=candidate'], { encoding: 'utf8' }).trim();
    while (Date.now() < deadline && candidate() === '') await new Promise((resolve) => setTimeout(resolve, 200));
    expect(candidate()).not.toBe('');
    doomed.kernel.child.kill('SIGKILL');
    await doomed.kernel.exited;
    void pending;
    doomed.client.close();
    doomed.kernel.cleanup();

    const r = await deploy(images.v2);
    expect(r.reply.content.status).toBe('ok');
    const stderr = r.outputs.filter((m) => m.header.msg_type === 'stream').map((m) => String(m.content.text)).join('');
    expect(stderr).toMatch(/took over the deploy lock of .* \(kernel pid \d+, gone\)/);
    expect(stderr).toMatch(/removed .*-candidate, a new version that never served/);
    expect(candidate()).toBe('');
    expect((await get(port)).body).toContain('2');
  });

  test('--confirm in a headless run (no stdin) needs --yes: a clear error, never a hang; --dry-run changes nothing', async () => {
    const r = await k.client.execute(`%deploy ${images.v1} --name ${SERVICE} -p ${port}:8080 --confirm`, { allow_stdin: false }, 20_000);
    expect(r.reply.content.ename).toBe('MagicError');
    expect(String(r.reply.content.evalue)).toMatch(/needs a confirmation and this run cannot ask/);
    const dry = await k.client.execute(`%deploy ${images.v1} --name ${SERVICE} -p ${port}:8080 --secret-env DB_PASSWORD=OPSBOOK_DB_PASSWORD --dry-run`);
    expect(valueOf(dry.outputs)).toMatch(/^would deploy .* \(secret: DB_PASSWORD\)/s);
    expect(textOf(dry.outputs, dry.reply)).not.toContain(SECRET);
    expect((await get(port)).body).toContain('2');
  });

  test('a protected service asks through stdin (y deploys), and headless it needs --yes', async () => {
    const headless = await k.client.execute(`%deploy ${images.v1} --name ${SERVICE} -p ${port}:8080`, { allow_stdin: false }, 20_000);
    expect(String(headless.reply.content.evalue)).toMatch(/needs a confirmation and this run cannot ask/);
    const prompts: string[] = [];
    k.client.onInput = (m) => {
      prompts.push(String(m.content.prompt));
      return 'y';
    };
    try {
      const asked = await k.client.execute(`%deploy ${images.v1} --name ${SERVICE} -p ${port}:8080 --wait 20s`, { allow_stdin: true }, 90_000);
      expect(asked.reply.content.status).toBe('ok');
      expect(prompts).toEqual([`Deploy ${images.v1} to ${SERVICE}? [y/N] `]);
    } finally {
      k.client.onInput = undefined;
    }
    expect((await get(port)).body).toContain('1');
  });

  test('--cleanup removes a candidate a failed deploy left and the lock of a dead kernel, nothing that serves', async () => {
    const base = ['--label', 'opsbook.managed=true', '--label', `opsbook.service=${SERVICE}`, '--label', `opsbook.test.run=${RUN}`];
    execFileSync('docker', ['create', '--name', `${SERVICE}-leftover-candidate`, ...base, '--label', 'opsbook.deploy-id=leftover', images.v1]);
    const dead = Number(execFileSync('sh', ['-c', 'sh -c "echo $$"'], { encoding: 'utf8' }).trim()); // a pid that has exited
    execFileSync('docker', ['create', '--name', `opsbook-lock-${SERVICE}`, ...base, '--label', 'opsbook.lock=true', '--label', `opsbook.lock.host=${os.hostname()}`, '--label', `opsbook.lock.pid=${dead}`, '--label', 'opsbook.lock.since=2026-11-25T05:00:00.000Z', images.v1, 'true']);
    const r = await k.client.execute(`%deploy --cleanup --name ${SERVICE}`);
    const text = valueOf(r.outputs) ?? '';
    expect(text).toContain(`removed ${SERVICE}-leftover-candidate, a new version that never served`);
    expect(text).toContain(`took over the deploy lock of a kernel that is gone (pid ${dead}, held since 2026-11-25T05:00:00.000Z)`);
    expect((await get(port)).status).toBe(200);
    expect(valueOf((await k.client.execute(`%deploy --cleanup --name ${SERVICE}`)).outputs)).toBe(`nothing to clean up for ${SERVICE}`);
  });

  test('a deploy refused before it starts (its image is not on the engine, the lock is held) is in %history too', async () => {
    const missing = await deploy(`opsbook-test/api:never-built-${process.pid}`);
    expect(missing.reply.content.ename).toBe('MagicError');
    expect(String(missing.reply.content.evalue)).toBe(`image opsbook-test/api:never-built-${process.pid} is not on the engine`);
    const h = await k.client.execute(`const all = %history ${SERVICE} --limit 50\nall.map((x) => x.outcome.split(':')[0]).join(',')`);
    const outcomes = (valueOf(h.outputs) ?? '').replace(/'/g, '').split(',');
    expect(outcomes[0]).toBe('refused'); // the missing image, newest
    expect(outcomes.filter((o) => o === 'refused').length).toBe(2); // and the deploy the live lock holder refused
    expect(outcomes).toContain('killed'); // the deploy whose kernel was SIGKILLed, completed by the recovery
    expect(outcomes).not.toContain('started');
  });
});
