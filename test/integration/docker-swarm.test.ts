// %deploy --swarm through a real kernel against the real engine as a one-node Swarm, with the real proxy image in
// front: create with 2 replicas reachable through the proxy on a free loopback port, a rolling start-first update
// with a request loop of ≥ 1,000 requests through the proxy (0 failed), and an unhealthy version that Swarm rolls
// back by itself (0 failed in the loop, the cell says so). The service has endpoint mode dnsrr and publishes
// nothing: this machine's kernel has no IPVS, so Swarm's routing mesh and VIPs do not work here; the proxy finds
// the tasks through Docker's DNS instead. The engine is made a Swarm manager for the test if it is not one, and
// left again afterwards only if this suite made it one (the engine is shared).
import { execFileSync } from 'node:child_process';
import { startTestKernel, TestKernel } from '../support/kernel-client';
import type { Message } from '../../kernel/protocol/messages';
import { freePort } from '../support/kernel-process';
import { PROXY_IMAGE } from '../../notebooks/stack/proxy-image';
import { describeWithDocker, removeByLabel, ensureDeployParts } from '../support/docker';
import { buildSampleApp } from '../support/sample-image';
import { get } from '../support/request-loop';
import { joinSwarm, leaveSwarmIfOurs, parallelLoops, removeSwarmService } from '../support/swarm';

const describeDocker = describeWithDocker('docker-swarm');

const RUN = `docker-swarm-${process.pid}`;
const SERVICE = `opsbook-test-swarm-${process.pid}`;
/** Every loop is bounded in count and time, whatever the deploy does; 4 loops side by side, so a busy machine still sends ≥ 1,000 during an update. */
const LOOP = { maxRequests: 100_000, maxMs: 240_000 };
const LOOPS = 4;
const MIN_REQUESTS = 1000;

const inspect = (format: string) => execFileSync('docker', ['service', 'inspect', '--format', format, SERVICE], { encoding: 'utf8' }).trim();
const serviceImage = () => inspect('{{.Spec.TaskTemplate.ContainerSpec.Image}}').split('@')[0];

function runningTaskImages(): string[] {
  return execFileSync('docker', ['service', 'ps', SERVICE, '--filter', 'desired-state=running', '--format', '{{.Image}} {{.CurrentState}}'], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .filter((l) => l.includes('Running'))
    .map((l) => l.split(' ')[0]);
}

/** The reply's status with its error, so a failure shows why. */
const outcomeOf = (reply: Message) => ({ status: reply.content.status, evalue: reply.content.evalue });

const displayText = (outputs: Message[]) => outputs.filter((m) => m.header.msg_type === 'update_display_data').map((m) => String((m.content.data as Record<string, string>)['text/plain'])).join('\n');

describeDocker('%deploy --swarm against a real one-node Swarm, behind the proxy', () => {
  let k: TestKernel;
  let port: number;
  let createdSwarm = false;
  const images = { v1: `opsbook-test/swarm:1-${process.pid}`, v2: `opsbook-test/swarm:2-${process.pid}`, bad: `opsbook-test/swarm:bad-${process.pid}` };
  const deploy = (image: string) => k.client.execute(`%deploy ${image} --name ${SERVICE} --swarm --replicas 2 -p 127.0.0.1:${port}:8080 --wait 40s --yes`, {}, 240_000);

  beforeAll(async () => {
    await ensureDeployParts();
    createdSwarm = joinSwarm();
    const labels = [`opsbook.test.run=${RUN}`];
    await buildSampleApp(images.v1, { version: '1', labels });
    await buildSampleApp(images.v2, { version: '2', labels });
    await buildSampleApp(images.bad, { version: 'bad', unhealthy: true, labels });
    port = await freePort();
    k = await startTestKernel({ env: { OPSBOOK_PROXY_IMAGE: PROXY_IMAGE } });
  }, 300_000);
  afterAll(async () => {
    await k?.stop();
    await removeSwarmService(SERVICE);
    leaveSwarmIfOurs(createdSwarm);
    await removeByLabel(`opsbook.test.run=${RUN}`);
  }, 120_000);

  test('create with 2 replicas: dnsrr, nothing published by Swarm, reachable through the proxy on loopback', async () => {
    const created = await deploy(images.v1);
    expect(outcomeOf(created.reply)).toEqual({ status: 'ok' });
    expect(runningTaskImages()).toEqual([images.v1, images.v1]);
    expect(inspect('{{.Spec.EndpointSpec.Mode}} {{len .Spec.EndpointSpec.Ports}}')).toBe('dnsrr 0');
    expect(displayText(created.outputs)).toContain(`proxy opsbook-proxy-${SERVICE} on 127.0.0.1:${port}:8080/tcp → tasks.${SERVICE}: 2 healthy`);
    const proxyPorts = execFileSync('docker', ['port', `opsbook-proxy-${SERVICE}`, `${port}/tcp`], { encoding: 'utf8' }).trim();
    expect(proxyPorts).toBe(`127.0.0.1:${port}`);
    for (let i = 0; i < 10; i++) {
      const r = await get(port);
      expect(r.status).toBe(200);
      expect(r.body).toContain('opsbook-sample-app 1');
    }
  }, 300_000);

  test(`a rolling start-first update with ≥ ${MIN_REQUESTS} requests through the proxy: not one fails`, async () => {
    const loop = parallelLoops(port, LOOPS, LOOP);
    const started = Date.now();
    const updated = await deploy(images.v2);
    const deployMs = Date.now() - started;
    const stats = await loop.stop();
    console.log(`swarm rolling update through the proxy: ${stats.failed} of ${stats.total} requests failed, deploy ${deployMs} ms, loop ${stats.ms} ms`);
    expect(outcomeOf(updated.reply)).toEqual({ status: 'ok' });
    expect(displayText(updated.outputs)).toMatch(/\[audit\] deploy \(swarm\) .* to opsbook-test-swarm-\d+ .*: updated in [\d.]+ s, previous/);
    expect(serviceImage()).toBe(images.v2);
    expect(runningTaskImages()).toEqual([images.v2, images.v2]);
    expect(stats.failed).toBe(0);
    expect(stats.total).toBeGreaterThanOrEqual(MIN_REQUESTS);
    expect([...stats.bodies].sort()).toEqual(['hello from opsbook-sample-app 1', 'hello from opsbook-sample-app 2']); // the loop spanned the update
  }, 300_000);

  test('an unhealthy version: Swarm rolls the update back by itself, not one request fails, and the cell says so', async () => {
    const loop = parallelLoops(port, LOOPS, LOOP);
    const started = Date.now();
    const r = await deploy(images.bad);
    const deployMs = Date.now() - started;
    const stats = await loop.stop();
    console.log(`swarm update rolled back by Swarm, through the proxy: ${stats.failed} of ${stats.total} requests failed, deploy ${deployMs} ms`);
    expect(r.reply.content.ename).toBe('MagicError');
    expect(String(r.reply.content.evalue)).toBe(`the Swarm update of ${SERVICE} to ${images.bad} failed and Swarm rolled it back to ${images.v2}`);
    expect(serviceImage()).toBe(images.v2);
    expect(stats.failed).toBe(0);
    expect(stats.total).toBeGreaterThanOrEqual(MIN_REQUESTS);
    expect([...stats.bodies]).toEqual(['hello from opsbook-sample-app 2']);
    const h = await k.client.execute(`const h = %history ${SERVICE}\nh.map((x) => x.kind + ': ' + x.outcome.split(' (')[0])`);
    const value = (h.outputs.find((m) => m.header.msg_type === 'execute_result')?.content.data as Record<string, string>)['text/plain'];
    expect(value).toContain(`'deploy (swarm): failed: Swarm rolled the update back to ${images.v2}'`);
  }, 300_000);
});
