// %deploy --strategy canary against the real engine, the real HAProxy image and a real Prometheus that discovers the
// service's proxy through the Docker socket and scrapes its own metrics every second (haproxy_server_* labelled
// service and version), so the analyses judge each version on the requests it answered through the proxy:
// - usage errors (a query that does not parse, one answering several series, an unknown comparison) stop the deploy
//   before anything starts: no container, no record, the routing unchanged;
// - a version that is healthy but answers 500 for half its requests (APP_ERROR_RATE) is rolled back at its first
//   step: a request loop through the proxy sees the bad version's own 500s and nothing else (no refused connection,
//   no proxy error), the old version serves again, the new one is stopped and kept, the record names the value;
// - a good version is promoted through its steps and the old one retired, the share of requests it answered while
//   a step held within 5 points of the step's weight (over at least 500 requests);
// - an interrupt mid-step rolls back the same way, with no failed request, and the cell answers only once the
//   rollback is done: a cell queued behind it finds the record complete, the weights as the file says, the lock free.
// The steps are seconds long; every wait is for a condition. Skipped with a warning without Docker, except with CI=true.
import { execFileSync } from 'node:child_process';
import Docker from 'dockerode';
import { startTestKernel, TestKernel } from '../support/kernel-client';
import { freePort } from '../support/kernel-process';
import { describeWithDocker, removeByLabel, ensureDeployParts } from '../support/docker';
import { buildSampleApp } from '../support/sample-image';
import { PROXY_IMAGE } from '../../notebooks/stack/proxy-image';
import { LoopStats, get, requestLoop } from '../support/request-loop';
import { answersBetween, progressText, proxyErrorRatio, serviceState, streamsOf, textOf, valueOf, whenStep } from '../support/deploy-state';
import { PrometheusHandle, startPrometheus } from '../support/prometheus';
import { DeployRecord, listRecords } from '../../magics/docker/deploy/audit';
import { serving, versions } from '../../magics/docker/deploy/service';
import { currentRouting, serverStates } from '../../magics/docker/proxy/proxy';

const describeDocker = describeWithDocker('deploy-canary');

const RUN = `deploy-canary-${process.pid}`;
const SERVICE = `opsbook-test-canary-${process.pid}`;
const REPO = `opsbook-test/canary-${process.pid}`;
const LOOP = { maxRequests: 50_000, maxMs: 240_000 };

/** The 5xx share of one version's answers through the proxy, over the last 5 s. */
const errorRatio = (version: string): string => proxyErrorRatio(SERVICE, version);

/** Answers the loop got that the rollout itself would cause: refused or reset connections, the proxy's own errors. */
function rolloutFailures(stats: LoopStats): Array<[number, number]> {
  return [...stats.byStatus].filter(([status]) => status !== 200 && status !== 500);
}

describeDocker('%deploy --strategy canary: steps through the proxy, judged by Prometheus, rolled back on failure', () => {
  const docker = new Docker();
  let k: TestKernel;
  let prometheus: PrometheusHandle;
  let port: number;
  const images = { v1: `${REPO}:1`, v2: `${REPO}:2`, bad: `${REPO}:bad`, again: `${REPO}:again` };
  const deploy = (image: string, extra: string, request: Record<string, unknown> = {}) => k.client.execute(`%deploy ${image} --name ${SERVICE} -p 127.0.0.1:${port}:8080 --wait 60s --drain 5s --yes ${extra}`, request, 240_000);
  const canary = (image: string, version: string, steps: string, extra = '', request: Record<string, unknown> = {}) => deploy(image, `--strategy canary --steps ${steps} --interval 1s --analysis "errors: ${errorRatio(version)} < 0.1" ${extra}`, request);

  beforeAll(async () => {
    await ensureDeployParts();
    const labels = [`opsbook.test.run=${RUN}`];
    await buildSampleApp(images.v1, { version: '1', labels });
    await buildSampleApp(images.v2, { version: '2', labels });
    // the bad version and the interrupted one are the same builds under other tags: the proxy labels versions by tag
    execFileSync('docker', ['tag', images.v2, images.bad]);
    execFileSync('docker', ['tag', images.v2, images.again]);
    prometheus = await startPrometheus({ proxiesOn: 'unix:///var/run/docker.sock' });
    port = await freePort();
    k = await startTestKernel({ env: { OPSBOOK_PROXY_IMAGE: PROXY_IMAGE, PROMETHEUS_URL: prometheus.url } });
    const first = await deploy(images.v1, '');
    if (first.reply.content.status !== 'ok') throw new Error(`the first deploy failed: ${textOf(first)}`);
  }, 400_000);

  afterAll(async () => {
    await k?.stop();
    await prometheus?.stop();
    execFileSync('sh', ['-c', `docker rm -f $(docker ps -aq --filter label=opsbook.service=${SERVICE}) 2>/dev/null; docker network rm opsbook-net-${SERVICE} 2>/dev/null; docker rmi ${images.bad} ${images.again} 2>/dev/null; true`]);
    await removeByLabel(`opsbook.test.run=${RUN}`);
  }, 120_000);

  /** What must not change when a canary is refused before it starts. */
  async function snapshot(): Promise<string> {
    const all = await versions(docker, SERVICE);
    return JSON.stringify({ containers: all.map((c) => c.Id).sort(), records: (await listRecords(docker, SERVICE)).length, routing: await currentRouting(docker, SERVICE) });
  }

  test.each([
    ['a query that does not parse', `errors: sum(rate(haproxy_server_http_responses_total[5s]) < 0.1`, /^--analysis errors: Prometheus bad_data error: .*; nothing was changed$/],
    ['a query answering several series', `errors: haproxy_server_http_responses_total{service='${SERVICE}'} < 1`, /^--analysis errors: the query answers \d+ series .*it must answer one value: aggregate it, e\.g\. sum\(\.\.\.\) or max\(\.\.\.\); nothing was changed$/],
    ['an unknown comparison', 'errors: vector(1) == 1', /^--analysis errors: unknown comparison "=="; use <, <=, > or >=$/],
  ])('%s is a usage error before anything starts', async (_what, analysis, message) => {
    const before = await snapshot();
    const r = await deploy(images.v2, `--strategy canary --steps 10%:5s,100% --analysis "${analysis}"`);
    expect(r.reply.content.ename).toBe('UsageError');
    expect(String(r.reply.content.evalue)).toMatch(message);
    expect(await snapshot()).toBe(before);
    expect((await get(port)).body).toContain('opsbook-sample-app 1');
  }, 120_000);

  test('a version answering 500 for half its requests is rolled back at its first step: no failed request from the rollout', async () => {
    const loop = requestLoop(port, LOOP);
    const r = await canary(images.bad, 'bad', '20%:90s,100%', '-e APP_ERROR_RATE=0.5');
    const stats = await loop.stop();
    const evalue = String(r.reply.content.evalue);
    console.log(`bad canary: ${stats.total} requests, by status ${JSON.stringify([...stats.byStatus])}\n${evalue}`);
    expect(r.reply.content.ename).toBe('MagicError');
    expect(evalue).toMatch(new RegExp(`^canary of ${images.bad} to ${SERVICE} failed: errors was [0-9.]+, not < 0\\.1 at step 1 of 2 \\(20%\\); rolled back: ${SERVICE}-\\w+ \\(${images.v1}\\) serves every request; the new version is stopped and kept as ${SERVICE}-\\w+-candidate$`));
    // the bad version's own 500s reached the loop (it got requests), and nothing else went wrong
    expect(stats.byStatus.get(500) ?? 0).toBeGreaterThan(0);
    expect(rolloutFailures(stats)).toEqual([]);
    expect(stats.total).toBeGreaterThan(50);
    // the progress showed the step and the failing value against its threshold
    expect(r.outputs.map(progressText).some((t) => t !== undefined && /canary step 1 of 2 \(20%\).*\n {2}errors: [0-9.]+ not < 0\.1 ✗/.test(t))).toBe(true);
    // the old version serves alone; the new one is stopped, kept; the record names the analysis and its value
    expect((await get(port)).body).toContain('opsbook-sample-app 1');
    const state = await serviceState(docker, SERVICE);
    expect(state.routed).toEqual(state.running);
    expect(state.running).toHaveLength(1);
    expect(state.candidates).toHaveLength(1);
    expect(state.lockHeld).toBe(false);
    const kept = (await versions(docker, SERVICE)).find((c) => c.Names.some((n) => n.endsWith('-candidate')));
    expect(kept?.State).toBe('exited');
    const record = (await listRecords(docker, SERVICE))[0];
    expect(record.kind).toBe('deploy (canary)');
    expect(record.outcome).toMatch(/^failed: errors was [0-9.]+, not < 0\.1 at step 1 of 2 \(20%\); rolled back/);
    // the proxy's running weights are the file's again: the old version 100, no split left behind
    const weights = (await serverStates(docker, SERVICE)).map((s) => s.userWeight);
    expect(weights).toEqual([100]);
  }, 300_000);

  test('a good version is promoted through its steps, the old one retired; while a step holds it answers its share of requests', async () => {
    const loop = requestLoop(port, { ...LOOP, pauseMs: 1 });
    const steps = answersBetween(k, loop, ['canary step 1 of 2 (30%)', 'every step passed']);
    const r = await canary(images.v2, '2', '30%:25s,100%');
    const stats = await loop.stop();
    steps.off();
    console.log(`good canary: ${stats.total} requests, by body ${JSON.stringify([...stats.byBody])}, by status ${JSON.stringify([...stats.byStatus])}; step 1: ${JSON.stringify(steps.windows().map((w) => [w.total, [...w.byBody]]))}`);
    expect(r.reply.content.status).toBe('ok');
    expect(stats.failed).toBe(0);
    // the 30% step: the new version answered 30% of the requests, ±5 points, over 500 requests or more
    const [step1] = steps.windows();
    expect(step1.total).toBeGreaterThanOrEqual(500);
    const share = (100 * (step1.byBody.get('hello from opsbook-sample-app 2') ?? 0)) / step1.total;
    expect(Math.abs(share - 30)).toBeLessThanOrEqual(5);
    expect((step1.byBody.get('hello from opsbook-sample-app 1') ?? 0) + (step1.byBody.get('hello from opsbook-sample-app 2') ?? 0)).toBe(step1.total);
    // it was judged: a successful measurement showed while 30% went to it
    expect(r.outputs.map(progressText).some((t) => t !== undefined && /canary step 1 of 2 \(30%\).*\n {2}errors: [0-9.]+ < 0\.1 ✓/.test(t))).toBe(true);
    expect((await get(port)).body).toContain('opsbook-sample-app 2');
    const state = await serviceState(docker, SERVICE);
    expect(state.running).toEqual(state.routed);
    expect(state.running).toHaveLength(1);
    const record = (await listRecords(docker, SERVICE))[0];
    expect(record.outcome).toBe('deployed');
    expect(record.kind).toBe('deploy (canary)');
  }, 300_000);

  test('an interrupt mid-step rolls back before the cell answers: the old version serves every request, none failed; a cell queued behind it finds the service in order and the lock free', async () => {
    const servingBefore = await serving(docker, SERVICE);
    const bodyBefore = (await get(port)).body;
    const loop = requestLoop(port, LOOP);
    const interrupted = whenStep(k, 'canary step 1 of 2 (50%)', async () => {
      // the new version has answered requests of the step: then ■
      await loop.reached(loop.stats.total + 50);
      await k.client.call('interrupt_request', {}, { channel: 'control', timeoutMs: 5000 });
    }, 180_000);
    // the next cell is queued before the interrupt (stop_on_error false: it runs after the interrupted one answers)
    const pending = canary(images.again, 'again', '50%:120s,100%', '-e APP_VERSION=again', { stop_on_error: false });
    const queued = k.client.execute(`const h = %history ${SERVICE} --limit 1
console.log(JSON.stringify({ outcome: h[0].outcome }))
%deploy --cleanup --name ${SERVICE}`, {}, 240_000);
    const r = await pending;
    await interrupted;
    expect(r.reply.content.ename).toBe('KeyboardInterrupt');
    // the queued cell ran after the answer: the rollback's record was complete, the proxy's weights already the
    // file's (cleanup had none to set back), and the lock free (cleanup takes it; a live holder refuses it)
    const next = await queued;
    console.log(`the cell queued behind the interrupt: ${textOf(next)}`);
    expect(next.reply.content.status).toBe('ok');
    expect(streamsOf(next)).toMatch(/"outcome":"failed: interrupted during step 1 of 2 \(50%\); rolled back/);
    expect(valueOf(next)).toMatch(/removed \S+-candidate, a new version that never served/);
    expect(valueOf(next)).not.toMatch(/weights/);
    const record = (await listRecords(docker, SERVICE)).find((rec) => rec.image === images.again) as DeployRecord;
    const stats = await loop.stop();
    console.log(`interrupted canary: ${stats.total} requests, by body ${JSON.stringify([...stats.byBody])}; ${record.outcome}`);
    expect(record.outcome).toMatch(new RegExp(`^failed: interrupted during step 1 of 2 \\(50%\\); rolled back: ${SERVICE}-\\w+ \\(${servingBefore?.Labels['opsbook.image']}\\) serves every request`));
    expect(stats.failed).toBe(0);
    // the interrupted version had answered its share before the interrupt
    expect(stats.byBody.get('hello from opsbook-sample-app again') ?? 0).toBeGreaterThan(0);
    expect((await get(port)).body).toBe(bodyBefore);
    const state = await serviceState(docker, SERVICE);
    expect(state.running).toEqual(state.routed);
    expect(state.running).toHaveLength(1);
    expect((await serverStates(docker, SERVICE)).map((s) => s.userWeight)).toEqual([100]);
  }, 300_000);

  test("a kernel killed mid-step leaves the requests shared; --cleanup sets the proxy's weights back and removes the new version", async () => {
    const bodyBefore = (await get(port)).body;
    const doomed = await startTestKernel({ env: { OPSBOOK_PROXY_IMAGE: PROXY_IMAGE, PROMETHEUS_URL: prometheus.url } });
    const killed = whenStep(doomed, 'canary step 1 of 2 (50%)', () => {
      doomed.kernel.child.kill('SIGKILL');
    }, 180_000);
    const pending = doomed.client.execute(`%deploy ${images.again} --name ${SERVICE} -p 127.0.0.1:${port}:8080 --drain 5s --yes --strategy canary --steps 50%:120s,100% -e APP_VERSION=again`, {}, 180_000).catch(() => undefined);
    await killed;
    await doomed.kernel.exited;
    void pending;
    doomed.client.close();
    doomed.kernel.cleanup();
    // the dead deploy's split is still in the running proxy (its file routes all to the old version)
    expect((await serverStates(docker, SERVICE)).map((s) => s.userWeight)).toEqual([50, 50]);
    const r = await k.client.execute(`%deploy --cleanup --name ${SERVICE}`, {}, 120_000);
    expect(r.reply.content.status).toBe('ok');
    expect(valueOf(r)).toMatch(/its weights are as its configuration says again/);
    expect(valueOf(r)).toMatch(/removed \S+-candidate, a new version that never served/);
    expect((await serverStates(docker, SERVICE)).map((s) => s.userWeight)).toEqual([100, 0]);
    expect((await get(port)).body).toBe(bodyBefore);
    const state = await serviceState(docker, SERVICE);
    expect(state.running).toEqual(state.routed);
    expect(state.lockHeld).toBe(false);
    expect((await listRecords(docker, SERVICE)).find((rec) => rec.image === images.again && rec.outcome.startsWith('killed'))).toBeDefined();
  }, 300_000);
  test('a step whose one analysis has no data fails as inconclusive and rolls back; with --inconclusive pass the version is promoted', async () => {
    const before = (await get(port)).body;
    const nodata = 'nodata: sum(opsbook_test_no_such_metric) < 1';
    const failed = await deploy(images.again, `--strategy canary --steps 20%:3s,100% --interval 1s --analysis "${nodata}" -e APP_VERSION=again`);
    expect(failed.reply.content.ename).toBe('MagicError');
    expect(String(failed.reply.content.evalue)).toMatch(/nodata had no conclusive measurement in the step \(last: no data\); --inconclusive pass accepts that/);
    expect((await get(port)).body).toBe(before);
    const passed = await deploy(images.again, `--strategy canary --steps 20%:3s,100% --interval 1s --analysis "${nodata}" --inconclusive pass -e APP_VERSION=again`);
    if (passed.reply.content.status !== 'ok') throw new Error(`--inconclusive pass: ${textOf(passed)}`);
    expect((await get(port)).body).toContain('again');
  }, 300_000);
});

