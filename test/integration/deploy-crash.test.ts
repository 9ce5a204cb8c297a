// The SIGKILL matrix of %deploy against the real engine and the real HAProxy image: a second kernel ("doomed") runs a
// deploy and is killed (SIGKILL) the moment its progress display reaches a step: before the gate, during it, right
// after the switch, during the drain, while the old version stops. A bounded request loop on 127.0.0.1 runs
// throughout and must see no failed request; then the next %deploy, %rollback or %deploy --cleanup of another kernel
// must find the service consistent (one version routed, that one alone running, no candidate, the lock taken over)
// and %history must list the killed deploy. Also: --cleanup while a live kernel holds the lock changes nothing and
// names the holder; %ps warns when a service has versions but none serving.
// The steps are made observable without sleeps: the kill follows the progress update at once; the drain is held open
// by a long request (/slow?ms=N) that reached the old version before the switch; the old version's graceful stop is
// held open by a long request inside it, and the kill then waits for the engine's SIGTERM to it (its "kill" event).
// Skipped with a warning without Docker, except with CI=true.
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import Docker from 'dockerode';
import { startTestKernel, TestKernel } from '../support/kernel-client';
import { freePort } from '../support/kernel-process';
import { describeWithDocker, removeByLabel, ensureDeployParts } from '../support/docker';
import { buildSampleApp } from '../support/sample-image';
import { PROXY_IMAGE } from '../../notebooks/stack/proxy-image';
import { Answer, get, requestLoop } from '../support/request-loop';
import { historyOf, isConsistent, serviceState, streamsOf, textOf, valueOf, whenStep } from '../support/deploy-state';
import { versions } from '../../magics/docker/deploy/service';
import { currentRouting, serverStates } from '../../magics/docker/proxy/proxy';

const describeDocker = describeWithDocker('deploy-crash');

const RUN = `deploy-crash-${process.pid}`;
const SERVICE = `opsbook-test-crash-${process.pid}`;
const LOOP = { maxRequests: 20_000, maxMs: 240_000 };

type Recovery = 'deploy' | 'rollback' | 'cleanup';

interface Case {
  name: string;
  /** The progress text the kill follows. */
  step: string;
  recovery: Recovery;
  /** Holds the drain open: a long request through the proxy, sent as the switch begins (it reaches the old version). */
  longRequestThroughProxy?: boolean;
  /** Holds the old version's graceful stop open: a long request inside it; the kill waits for its SIGTERM. */
  slowStop?: boolean;
}

const CASES: Case[] = [
  { name: 'before the gate', step: 'starting the new version', recovery: 'deploy' },
  { name: 'during the gate', step: 'waiting for the new version to be healthy', recovery: 'cleanup' },
  { name: 'right after the switch', step: 'switched; watching the new version', recovery: 'rollback' },
  { name: 'during the drain', step: 'the old version finishes its in-flight requests', recovery: 'cleanup', longRequestThroughProxy: true },
  { name: 'while the old version stops', step: 'stopping the old version', recovery: 'deploy', slowStop: true },
];

describeDocker('%deploy survives a kernel killed at every step', () => {
  const docker = new Docker();
  let k: TestKernel;
  let port: number;
  const images = { v1: `opsbook-test/crash:1-${process.pid}`, v2: `opsbook-test/crash:2-${process.pid}` };
  const versionOfImage = (image: string) => (image === images.v1 ? '1' : '2');
  /** The image serving now, as each case leaves it. */
  let servingImage = images.v1;
  const spawned: ChildProcess[] = [];
  const env = { OPSBOOK_PROXY_IMAGE: PROXY_IMAGE };
  const deployLine = (image: string, extra = '') => `%deploy ${image} --name ${SERVICE} -p ${port}:8080 --wait 60s --yes ${extra}`;

  beforeAll(async () => {
    await ensureDeployParts();
    const labels = [`opsbook.test.run=${RUN}`];
    await buildSampleApp(images.v1, { version: '1', labels });
    await buildSampleApp(images.v2, { version: '2', labels });
    port = await freePort();
    k = await startTestKernel({ env });
    const first = await k.client.execute(deployLine(images.v1), {}, 120_000);
    if (first.reply.content.status !== 'ok') throw new Error(`the first deploy failed: ${textOf(first)}`);
  }, 300_000);

  afterAll(async () => {
    for (const child of spawned) if (child.exitCode === null) child.kill('SIGKILL');
    await k?.stop();
    execFileSync('sh', ['-c', `docker rm -f $(docker ps -aq --filter label=opsbook.service=${SERVICE}) 2>/dev/null; docker network rm opsbook-net-${SERVICE} 2>/dev/null; true`]);
    await removeByLabel(`opsbook.test.run=${RUN}`);
  }, 120_000);

  /** What the proxy saw, for a failed case: its servers' states, routing and last log lines. */
  async function proxyDiagnostics(): Promise<string> {
    const states = await serverStates(docker, SERVICE).catch((e: Error) => e.message);
    const routing = await currentRouting(docker, SERVICE).catch((e: Error) => e.message);
    const logs = execFileSync('sh', ['-c', `docker logs --tail 40 opsbook-proxy-${SERVICE} 2>&1; true`], { encoding: 'utf8' });
    return `proxy states: ${JSON.stringify(states)}\nrouting: ${JSON.stringify(routing)}\nproxy log:\n${logs}`;
  }

  /** The running version's container id (the old one, for the cases that hold its stop open). */
  async function runningVersionId(): Promise<string> {
    const running = await versions(docker, SERVICE, ['running']);
    if (running.length !== 1) throw new Error(`expected one running version, found ${running.length}`);
    return running[0].Id;
  }

  /**
   * Waits (up to 60 s) for the engine to send SIGTERM to the container (docker stop's first move: its "kill" event);
   * true when it did.
   */
  async function sigtermTo(id: string): Promise<() => Promise<boolean>> {
    const events = (await docker.getEvents({ filters: { container: [id], event: ['kill'] } })) as NodeJS.ReadableStream & { destroy(): void };
    let timer: NodeJS.Timeout | undefined;
    const seen = new Promise<boolean>((resolve) => {
      let buffered = '';
      events.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        if (/"signal":"15"/.test(buffered)) resolve(true);
      });
      timer = setTimeout(() => resolve(false), 60_000);
    });
    return async () => {
      const saw = await seen;
      clearTimeout(timer);
      events.destroy();
      return saw;
    };
  }

  for (const c of CASES) {
    test(`killed ${c.name} ("${c.step}"): no failed request, then %${c.recovery === 'cleanup' ? 'deploy --cleanup' : c.recovery} finds one version routed and running`, async () => {
      const before = await serviceState(docker, SERVICE);
      expect(isConsistent(before)).toBe(true);
      const target = servingImage === images.v1 ? images.v2 : images.v1;
      const killedBefore = (await historyOf(k, SERVICE)).filter((r) => r.outcome.startsWith('killed')).length;

      const loop = requestLoop(port, LOOP);
      const doomed = await startTestKernel({ env });
      let longRequest: Promise<Answer> | undefined;
      let sigterm: (() => Promise<boolean>) | undefined;
      let sigtermSeen = false;
      if (c.longRequestThroughProxy) {
        // sent as the switch begins, it reaches the old version (the new one is routed only at the end of the switch)
        void whenStep(doomed, 'switching the proxy to the new version', () => {
          longRequest = get(port, '/slow?ms=25000', 60_000);
        });
      }
      if (c.slowStop) {
        const oldId = await runningVersionId();
        sigterm = await sigtermTo(oldId);
        // a request inside the old version (its own loopback), still running when it is told to stop: its graceful stop
        // then takes its shutdown timeout (5 s), and the kill lands during it
        void whenStep(doomed, 'switched; watching the new version', () => {
          const inside = spawn('docker', ['exec', oldId, 'node', '-e', "require('http').get('http://127.0.0.1:8080/slow?ms=60000', (r) => r.resume()).on('error', () => undefined)"], { stdio: 'ignore' });
          spawned.push(inside);
        });
      }
      const killed = whenStep(doomed, c.step, async () => {
        if (sigterm) sigtermSeen = await sigterm();
        doomed.kernel.child.kill('SIGKILL');
      });
      const pending = doomed.client.execute(deployLine(target), {}, 180_000).catch(() => undefined);
      const stepText = await killed;
      await doomed.kernel.exited;
      void pending;
      doomed.client.close();
      doomed.kernel.cleanup();

      const recovery =
        c.recovery === 'deploy'
          ? await k.client.execute(deployLine(target), {}, 180_000)
          : c.recovery === 'rollback'
            ? await k.client.execute(`%rollback ${SERVICE} --yes`, {}, 180_000)
            : await k.client.execute(`%deploy --cleanup --name ${SERVICE}`, {}, 180_000);
      const long = longRequest ? await longRequest : undefined;
      const stats = await loop.stop();
      console.log(`killed ${c.name} at "${stepText}": ${stats.failed} of ${stats.total} requests failed; then %${c.recovery}: ${recovery.reply.content.status}${long ? `; the long request through the drain: ${long.status}` : ''}\n${streamsOf(recovery)}${valueOf(recovery) ?? ''}`);

      if (stats.failed > 0 || recovery.reply.content.status !== 'ok') console.log(`${textOf(recovery)}\n${await proxyDiagnostics()}`);
      expect(recovery.reply.content.status).toBe('ok');
      expect(stats.failures).toEqual([]);
      expect(stats.failed).toBe(0);
      expect(stats.bounded).toBe(false);
      expect(stats.total).toBeGreaterThan(20);
      if (c.longRequestThroughProxy) expect(long?.status).toBe(200);
      // the lock of the dead kernel was taken over by the recovery
      const said = c.recovery === 'cleanup' ? (valueOf(recovery) ?? '') : streamsOf(recovery);
      expect(said).toMatch(/took over the deploy lock of .*gone/);

      const after = await serviceState(docker, SERVICE);
      expect(after.routed).toHaveLength(1);
      expect(after.running).toEqual(after.routed);
      expect(after.candidates).toEqual([]);
      expect(after.lockHeld).toBe(false);
      if (c.slowStop) expect(sigtermSeen).toBe(true);
      // what serves: a recovery deploy's image; a rollback's: the one before the killed deploy's; a cleanup's: whatever
      // the proxy routed when the kernel died (the old version before the switch, the new one after it)
      const switched = ['right after the switch', 'during the drain', 'while the old version stops'].includes(c.name);
      servingImage = c.recovery === 'deploy' ? target : c.recovery === 'rollback' ? servingImage : switched ? target : servingImage;
      expect((await get(port)).body).toContain(`opsbook-sample-app ${versionOfImage(servingImage)}`);

      const history = await historyOf(k, SERVICE);
      const killedRecords = history.filter((r) => r.outcome.startsWith('killed'));
      expect(killedRecords).toHaveLength(killedBefore + 1);
      expect(killedRecords[0].image).toBe(target);
      expect(killedRecords[0].outcome).toMatch(/^killed: its kernel died during the deploy/);
    }, 300_000);
  }

  test('--cleanup while a live kernel holds the lock does nothing and names the holder', async () => {
    const holder = await startTestKernel({ env });
    try {
      const target = servingImage === images.v1 ? images.v2 : images.v1;
      const gating = whenStep(holder, 'waiting for the new version to be healthy', () => undefined);
      // a gate that cannot pass quickly: each check times out (3 s), unhealthy after three of them
      const pending = holder.client.execute(deployLine(target, '--health-cmd "sleep 60" --wait 60s'), {}, 120_000);
      await gating;
      const before = await serviceState(docker, SERVICE);
      expect(before.lockHeld).toBe(true);
      expect(before.candidates).toHaveLength(1);
      const r = await k.client.execute(`%deploy --cleanup --name ${SERVICE}`);
      expect(r.reply.content.ename).toBe('MagicError');
      const pid = holder.kernel.child.pid;
      expect(String(r.reply.content.evalue)).toMatch(new RegExp(`^nothing cleaned up: ${SERVICE} is being deployed by \\S+ \\(kernel pid ${pid}\\) since \\S+$`));
      // nothing touched: the holder's candidate and lock are still there
      expect(await serviceState(docker, SERVICE)).toEqual(before);
      const finished = await pending;
      expect(finished.reply.content.ename).toBe('MagicError');
      expect(isConsistent(await serviceState(docker, SERVICE))).toBe(true);
    } finally {
      await holder.stop();
    }
  }, 180_000);

  test('%ps warns when the service has versions but none serving, and says what to run', async () => {
    const quiet = await k.client.execute(`%ps --filter service=${SERVICE}`);
    expect(textOf(quiet)).not.toContain('none serving');
    const id = await runningVersionId();
    execFileSync('docker', ['stop', '-t', '10', id]);
    const r = await k.client.execute(`%ps --filter service=${SERVICE}`);
    const display = r.outputs.find((m) => m.header.msg_type === 'display_data')?.content.data as Record<string, string>;
    const warning = `${SERVICE} has versions but none serving: run %deploy --cleanup --name ${SERVICE}`;
    expect(display['text/plain']).toContain(warning);
    expect(display['text/html']).toContain(warning);
    // the cleanup it names brings the routed version back
    const cleanup = await k.client.execute(`%deploy --cleanup --name ${SERVICE}`);
    expect(valueOf(cleanup)).toContain('serves');
    expect(isConsistent(await serviceState(docker, SERVICE))).toBe(true);
    expect((await get(port)).status).toBe(200);
    expect(textOf(await k.client.execute(`%ps --filter service=${SERVICE}`))).not.toContain('none serving');
  }, 120_000);
});
