// After the switch, against the real engine and the real HAProxy image, with the proxy checking /healthz over HTTP
// (--health-url): a version that passes its gate and then really fails (APP_FAIL_AFTER_MS) is switched back with no
// failed request in a loop on 127.0.0.1 (the proxy fails over to the old version, its standby, the moment it marks
// the new one down), the cell fails saying so, and the old version serves; a version whose health check fails once
// right after the switch (APP_FLAP_AT_MS) is not rolled back, and the cell says it saw the miss.
// The time from a container's start to its switch depends on the machine's load (5–13 s seen here), so the knobs
// count from the version's first real request (APP_KNOB_CLOCK=traffic): with the loop running, that is the moment the
// proxy switched to it. The failure and the flap then land a fixed time after the switch, inside settle, on an idle
// and on a loaded machine alike.
// Skipped with a warning without Docker, except with CI=true.
import { execFileSync } from 'node:child_process';
import Docker from 'dockerode';
import { startTestKernel, TestKernel } from '../support/kernel-client';
import { freePort } from '../support/kernel-process';
import { describeWithDocker, removeByLabel, ensureDeployParts } from '../support/docker';
import { buildSampleApp } from '../support/sample-image';
import { PROXY_IMAGE } from '../../notebooks/stack/proxy-image';
import { get, requestLoop } from '../support/request-loop';
import { isConsistent, progressText, serviceState, streamsOf, textOf } from '../support/deploy-state';
import type { ExecuteResult } from '../support/kernel-client';

const describeDocker = describeWithDocker('deploy-settle');

const RUN = `deploy-settle-${process.pid}`;
const SERVICE = `opsbook-test-settle-${process.pid}`;
const LOOP = { maxRequests: 20_000, maxMs: 180_000 };
/** From the switch (the first request the new version gets) to its failure, and to its one missed check. */
const FAIL_AFTER_SWITCH_MS = 2000;
const FLAP_AFTER_SWITCH_MS = 1500;

/** Seconds since the deploy began at which the progress showed `step` (the "(12.3 s)" each update ends with). */
function stepAt(r: ExecuteResult, step: string): number {
  const text = r.outputs.map(progressText).find((t) => t?.includes(step));
  const m = text ? /\((\d+\.\d) s\)$/.exec(text) : null;
  if (!m) throw new Error(`no progress update "${step}" in ${textOf(r)}`);
  return Number(m[1]);
}

/** Seconds from the new version's start to the switch, as the deploy's progress showed them. */
function startToSwitch(r: ExecuteResult): number {
  return stepAt(r, 'switched; watching the new version') - stepAt(r, 'starting the new version');
}

describeDocker('%deploy after the switch: a failing version is switched back, a flap is not', () => {
  const docker = new Docker();
  let k: TestKernel;
  let port: number;
  const images = { v1: `opsbook-test/settle:1-${process.pid}`, v2: `opsbook-test/settle:2-${process.pid}` };
  const deploy = (image: string, extra = '') => k.client.execute(`%deploy ${image} --name ${SERVICE} -p 127.0.0.1:${port}:8080 --health-url /healthz --wait 60s --yes ${extra}`, {}, 180_000);

  beforeAll(async () => {
    await ensureDeployParts();
    const labels = [`opsbook.test.run=${RUN}`];
    await buildSampleApp(images.v1, { version: '1', labels });
    await buildSampleApp(images.v2, { version: '2', labels });
    port = await freePort();
    k = await startTestKernel({ env: { OPSBOOK_PROXY_IMAGE: PROXY_IMAGE } });
    const first = await deploy(images.v1);
    if (first.reply.content.status !== 'ok') throw new Error(`the first deploy failed: ${textOf(first)}`);
  }, 300_000);

  afterAll(async () => {
    await k?.stop();
    execFileSync('sh', ['-c', `docker rm -f $(docker ps -aq --filter label=opsbook.service=${SERVICE}) 2>/dev/null; docker network rm opsbook-net-${SERVICE} 2>/dev/null; true`]);
    await removeByLabel(`opsbook.test.run=${RUN}`);
  }, 120_000);

  test('a version that passes its gate and then really fails is switched back: no failed request, the cell says so', async () => {
    const loop = requestLoop(port, LOOP);
    const r = await deploy(images.v2, `-e APP_KNOB_CLOCK=traffic -e APP_FAIL_AFTER_MS=${FAIL_AFTER_SWITCH_MS}`);
    const stats = await loop.stop();
    console.log(`failing ${FAIL_AFTER_SWITCH_MS} ms after the switch: ${stats.failed} of ${stats.total} requests failed; switched ${startToSwitch(r).toFixed(1)} s after its start\n${String(r.reply.content.evalue)}`);
    expect(r.reply.content.ename).toBe('MagicError');
    expect(String(r.reply.content.evalue)).toMatch(new RegExp(`^deploy of ${images.v2} to ${SERVICE} failed: the new version was marked down by the proxy after the switch \\(L7STS\\); switched back: ${SERVICE}-\\w+ \\(${images.v1}\\) serves again$`));
    expect(stats.failures).toEqual([]);
    expect(stats.failed).toBe(0);
    expect(stats.total).toBeGreaterThan(50);
    expect((await get(port)).body).toContain('opsbook-sample-app 1');
    expect(isConsistent(await serviceState(docker, SERVICE))).toBe(true);
  }, 240_000);

  test('a version that misses one check right after the switch is not rolled back', async () => {
    const loop = requestLoop(port, LOOP);
    const r = await deploy(images.v2, `-e APP_KNOB_CLOCK=traffic -e APP_FLAP_AT_MS=${FLAP_AFTER_SWITCH_MS}`);
    const stats = await loop.stop();
    console.log(`one flap ${FLAP_AFTER_SWITCH_MS} ms after the switch: ${stats.failed} of ${stats.total} requests failed; switched ${startToSwitch(r).toFixed(1)} s after its start\n${streamsOf(r)}`);
    expect(r.reply.content.status).toBe('ok');
    // it saw the miss (the flap landed in settle) and did not count it as a failure
    expect(streamsOf(r)).toMatch(/missed a health check after the switch .*; one miss is not a failure/);
    expect(stats.failed).toBe(0);
    expect((await get(port)).body).toContain('opsbook-sample-app 2');
    expect(isConsistent(await serviceState(docker, SERVICE))).toBe(true);
  }, 240_000);
});
