// %deploy --strategy bluegreen (and its %%deploy cell form) against the real engine, the real HAProxy image and a real
// Prometheus scraping the service's proxy every second, with a request loop through the proxy all along:
// - a version that is healthy but answers 500 for half its requests takes every request at once, is judged, and is
//   switched back at the first failed measurement: the old version, kept running (never restarted) behind it at
//   weight 0, answers again; the loop sees the bad version's own 500s and nothing else (no refused connection, no
//   proxy error); the new version is stopped and kept, the record names the value;
// - a good version written as a %%deploy cell takes every request for the hold (the old one still running and
//   checked by the proxy meanwhile), then the old one is drained and stopped: no failed request at all.
// The hold is seconds long; every wait is for a condition. Skipped with a warning without Docker, except with CI=true.
import { execFileSync } from 'node:child_process';
import Docker from 'dockerode';
import { startTestKernel, TestKernel } from '../support/kernel-client';
import { freePort } from '../support/kernel-process';
import { describeWithDocker, removeByLabel, ensureDeployParts } from '../support/docker';
import { buildSampleApp } from '../support/sample-image';
import { PROXY_IMAGE } from '../../notebooks/stack/proxy-image';
import { get, requestLoop } from '../support/request-loop';
import { answersBetween, proxyErrorRatio, serviceState, textOf, whenStep } from '../support/deploy-state';
import { PrometheusHandle, startPrometheus } from '../support/prometheus';
import { listRecords } from '../../magics/docker/deploy/audit';
import { serving, versions } from '../../magics/docker/deploy/service';
import { serverStates } from '../../magics/docker/proxy/proxy';
import type { ServerState } from '../../magics/docker/proxy/runtime';

const describeDocker = describeWithDocker('deploy-bluegreen');

const RUN = `deploy-bluegreen-${process.pid}`;
const SERVICE = `opsbook-test-bluegreen-${process.pid}`;
const REPO = `opsbook-test/bluegreen-${process.pid}`;
const LOOP = { maxRequests: 50_000, maxMs: 240_000 };

describeDocker('%deploy --strategy bluegreen: every request at once, the old version kept running until the analyses pass', () => {
  const docker = new Docker();
  let k: TestKernel;
  let prometheus: PrometheusHandle;
  let port: number;
  const images = { v1: `${REPO}:1`, v2: `${REPO}:2`, bad: `${REPO}:bad` };
  const deploy = (image: string, extra: string) => k.client.execute(`%deploy ${image} --name ${SERVICE} -p 127.0.0.1:${port}:8080 --wait 60s --drain 5s --yes ${extra}`, {}, 240_000);

  /** The proxy's view while the hold runs: the weight each version has, and whether the old one is up and checked. */
  function duringHold(): { seen: Promise<ServerState[]> } {
    let states!: Promise<ServerState[]>;
    const seen = whenStep(k, 'every request to the new version', () => {
      states = serverStates(docker, SERVICE);
    }, 180_000).then(() => states);
    return { seen };
  }

  beforeAll(async () => {
    await ensureDeployParts();
    const labels = [`opsbook.test.run=${RUN}`];
    await buildSampleApp(images.v1, { version: '1', labels });
    await buildSampleApp(images.v2, { version: '2', labels });
    // the bad version is the same build under another tag: the proxy labels versions by tag
    execFileSync('docker', ['tag', images.v2, images.bad]);
    prometheus = await startPrometheus({ proxiesOn: 'unix:///var/run/docker.sock' });
    port = await freePort();
    k = await startTestKernel({ env: { OPSBOOK_PROXY_IMAGE: PROXY_IMAGE, PROMETHEUS_URL: prometheus.url } });
    const first = await deploy(images.v1, '');
    if (first.reply.content.status !== 'ok') throw new Error(`the first deploy failed: ${textOf(first)}`);
  }, 400_000);

  afterAll(async () => {
    await k?.stop();
    await prometheus?.stop();
    execFileSync('sh', ['-c', `docker rm -f $(docker ps -aq --filter label=opsbook.service=${SERVICE}) 2>/dev/null; docker network rm opsbook-net-${SERVICE} 2>/dev/null; docker rmi ${images.bad} 2>/dev/null; true`]);
    await removeByLabel(`opsbook.test.run=${RUN}`);
  }, 120_000);

  test('a version answering 500 for half its requests is switched back at the first failed measurement: the old one, still running, answers again', async () => {
    const old = await serving(docker, SERVICE);
    const oldStartedAt = (await docker.getContainer(old?.Id ?? '').inspect()).State.StartedAt;
    const hold = duringHold();
    const loop = requestLoop(port, LOOP);
    const r = await deploy(images.bad, `--strategy bluegreen --hold 90s --interval 1s --analysis "errors: ${proxyErrorRatio(SERVICE, 'bad')} < 0.1" -e APP_ERROR_RATE=0.5`);
    const stats = await loop.stop();
    const evalue = String(r.reply.content.evalue);
    console.log(`bad blue-green: ${stats.total} requests, by status ${JSON.stringify([...stats.byStatus])}\n${evalue}`);
    expect(r.reply.content.ename).toBe('MagicError');
    expect(evalue).toMatch(new RegExp(`^blue-green deploy of ${images.bad} to ${SERVICE} failed: errors was [0-9.]+, not < 0\\.1 at the blue-green hold; rolled back: ${SERVICE}-\\w+ \\(${images.v1}\\) serves every request; the new version is stopped and kept as ${SERVICE}-\\w+-candidate$`));
    // while it held, the new version had every request and the old one weight 0, up in the proxy's checks
    const states = await hold.seen;
    expect(states.map((s) => [s.version, s.userWeight])).toEqual([['1', 0], ['bad', 100]]);
    expect(states.every((s) => s.status.startsWith('UP'))).toBe(true);
    // the bad version's own 500s reached the loop, and nothing else went wrong: no failed request from the switches
    expect(stats.byStatus.get(500) ?? 0).toBeGreaterThan(0);
    expect([...stats.byStatus].filter(([status]) => status !== 200 && status !== 500)).toEqual([]);
    // the old version was never stopped or restarted: the same container, started when it was
    const now = await serving(docker, SERVICE);
    expect(now?.Id).toBe(old?.Id);
    expect((await docker.getContainer(now?.Id ?? '').inspect()).State.StartedAt).toBe(oldStartedAt);
    expect((await get(port)).body).toContain('opsbook-sample-app 1');
    expect((await serverStates(docker, SERVICE)).map((s) => s.userWeight)).toEqual([100]);
    const state = await serviceState(docker, SERVICE);
    expect(state.routed).toEqual(state.running);
    expect(state.candidates).toHaveLength(1);
    expect(state.lockHeld).toBe(false);
    expect((await versions(docker, SERVICE)).find((c) => c.Names.some((n) => n.endsWith('-candidate')))?.State).toBe('exited');
    const record = (await listRecords(docker, SERVICE))[0];
    expect(record.kind).toBe('deploy (bluegreen)');
    expect(record.outcome).toMatch(/^failed: errors was [0-9.]+, not < 0\.1 at the blue-green hold; rolled back/);
  }, 300_000);

  test('a good version, written as a %%deploy cell, takes every request for the hold and is kept; then the old one goes', async () => {
    const hold = duringHold();
    const loop = requestLoop(port, { ...LOOP, pauseMs: 1 });
    const shares = answersBetween(k, loop, ['every request to the new version', 'the hold passed']);
    const cell = [
      `%%deploy ${SERVICE} --yes`,
      `image ${images.v2}`,
      `-p 127.0.0.1:${port}:8080`,
      '--wait 60s --drain 5s',
      '',
      '# all at once, judged for 10 s, the old version kept running meanwhile',
      '--strategy bluegreen',
      '--hold 10s',
      '--interval 1s',
      `errors: ${proxyErrorRatio(SERVICE, '2')} < 0.1`,
    ].join('\n');
    const r = await k.client.execute(cell, {}, 240_000);
    const stats = await loop.stop();
    shares.off();
    const [held] = shares.windows();
    console.log(`good blue-green: ${stats.total} requests, by body ${JSON.stringify([...stats.byBody])}; during the hold ${held?.total}: ${JSON.stringify([...(held?.byBody ?? [])])}`);
    expect(r.reply.content.status).toBe('ok');
    expect(stats.failed).toBe(0);
    // during the hold the new version answered every request (a request in flight at the switch aside)
    expect(held.total).toBeGreaterThanOrEqual(100);
    expect((100 * (held.byBody.get('hello from opsbook-sample-app 2') ?? 0)) / held.total).toBeGreaterThanOrEqual(95);
    // and the old one stayed up behind it at weight 0
    const states = await hold.seen;
    expect(states.map((s) => [s.version, s.userWeight])).toEqual([['1', 0], ['2', 100]]);
    expect(states.every((s) => s.status.startsWith('UP'))).toBe(true);
    expect((await get(port)).body).toContain('opsbook-sample-app 2');
    const state = await serviceState(docker, SERVICE);
    expect(state.running).toEqual(state.routed);
    expect(state.running).toHaveLength(1);
    const record = (await listRecords(docker, SERVICE))[0];
    expect(record.kind).toBe('deploy (bluegreen)');
    expect(record.image).toBe(images.v2);
    expect(record.outcome).toBe('deployed');
  }, 300_000);
});
