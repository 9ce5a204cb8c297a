// %deploy --swarm through a real kernel against the real engine as a one-node Swarm: create with replicas, a
// rolling start-first update, and an unhealthy version that Swarm rolls back by itself (the cell says so).
// The engine is made a Swarm manager for the test if it is not one (and left again afterwards).
// Not covered here: traffic through Swarm's routing mesh. This machine's kernel has no IPVS (ip_vs), so
// published Swarm ports never listen; the request-loop test of a rolling update needs a kernel that has it.
import { execFileSync } from 'node:child_process';
import { startTestKernel, TestKernel } from '../support/kernel-client';
import { freePort } from '../support/kernel-process';
import { dockerAvailable, ensureDocker } from '../../notebooks/stack/engine';
import { ensureBaseImages } from '../../notebooks/stack/base-images';
import { removeByLabel } from '../support/docker';
import { buildSampleApp } from '../support/sample-image';

const mustRun = process.env.CI === 'true';
const available = dockerAvailable();
if (!available && !mustRun) console.warn('docker-swarm: SKIPPED, no Docker engine answers (install docker.io and start dockerd); with CI=true this suite fails instead');
const describeDocker = available || mustRun ? describe : describe.skip;

const RUN = `docker-swarm-${process.pid}`;
const SERVICE = `opsbook-test-swarm-${process.pid}`;

function swarmState(): string {
  return execFileSync('docker', ['info', '--format', '{{.Swarm.LocalNodeState}}'], { encoding: 'utf8' }).trim();
}

function serviceImage(): string {
  return execFileSync('docker', ['service', 'inspect', '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}', SERVICE], { encoding: 'utf8' }).trim().split('@')[0];
}

function runningTaskImages(): string[] {
  return execFileSync('docker', ['service', 'ps', SERVICE, '--filter', 'desired-state=running', '--format', '{{.Image}} {{.CurrentState}}'], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .filter((l) => l.includes('Running'))
    .map((l) => l.split(' ')[0]);
}

describeDocker('%deploy --swarm against a real one-node Swarm', () => {
  let k: TestKernel;
  let port: number;
  let initialized = false;
  const images = { v1: `opsbook-test/swarm:1-${process.pid}`, v2: `opsbook-test/swarm:2-${process.pid}`, bad: `opsbook-test/swarm:bad-${process.pid}` };
  const deploy = (image: string) => k.client.execute(`%deploy ${image} --name ${SERVICE} --swarm --replicas 2 -p ${port}:8080 --wait 40s --yes`, {}, 180_000);

  beforeAll(async () => {
    await ensureDocker();
    await ensureBaseImages();
    if (swarmState() !== 'active') {
      execFileSync('docker', ['swarm', 'init', '--advertise-addr', '127.0.0.1'], { stdio: 'ignore' });
      initialized = true;
    }
    const labels = [`opsbook.test.run=${RUN}`];
    await buildSampleApp(images.v1, { version: '1', labels });
    await buildSampleApp(images.v2, { version: '2', labels });
    await buildSampleApp(images.bad, { version: 'bad', unhealthy: true, labels });
    port = await freePort();
    k = await startTestKernel();
  }, 240_000);
  afterAll(async () => {
    await k?.stop();
    execFileSync('sh', ['-c', `docker service rm ${SERVICE} >/dev/null 2>&1; docker rm -f $(docker ps -aq --filter label=opsbook.service=${SERVICE}) >/dev/null 2>&1; true`]);
    if (initialized) execFileSync('docker', ['swarm', 'leave', '--force'], { stdio: 'ignore' });
    await removeByLabel(`opsbook.test.run=${RUN}`);
  }, 60_000);

  test('create with 2 replicas, then a rolling update: every task runs the new version', async () => {
    const created = await deploy(images.v1);
    expect(created.reply.content.status).toBe('ok');
    expect(runningTaskImages()).toEqual([images.v1, images.v1]);
    const updated = await deploy(images.v2);
    expect(updated.reply.content.status).toBe('ok');
    const text = updated.outputs.filter((m) => m.header.msg_type === 'update_display_data').map((m) => String((m.content.data as Record<string, string>)['text/plain'])).join('\n');
    expect(text).toMatch(/\[audit\] deploy \(swarm\) .* to opsbook-test-swarm-\d+ .*: updated in [\d.]+ s, previous/);
    expect(serviceImage()).toBe(images.v2);
    expect(runningTaskImages()).toEqual([images.v2, images.v2]);
  }, 200_000);

  test('an unhealthy version: Swarm rolls the update back by itself and the cell says so', async () => {
    const r = await deploy(images.bad);
    expect(r.reply.content.ename).toBe('MagicError');
    expect(String(r.reply.content.evalue)).toBe(`the Swarm update of ${SERVICE} to ${images.bad} failed and Swarm rolled it back to ${images.v2}`);
    expect(serviceImage()).toBe(images.v2);
    const h = await k.client.execute(`const h = %history ${SERVICE}\nh.map((x) => x.kind + ': ' + x.outcome.split(' (')[0])`);
    const value = (h.outputs.find((m) => m.header.msg_type === 'execute_result')?.content.data as Record<string, string>)['text/plain'];
    expect(value).toContain(`'deploy (swarm): failed: Swarm rolled the update back to ${images.v2}'`);
  }, 200_000);
});
