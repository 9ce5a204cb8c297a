// The per-service HAProxy against the real engine and the real proxy image (opsbook/haproxy:local): two versions of
// a tiny HTTP server (busybox httpd) on the service's network, a proxy publishing a free loopback port, a bounded
// request loop on 127.0.0.1 while the routing switches v1→v2→v1 several times (0 failed requests, also with both
// cores loaded), a refused configuration (before the reload and at it) reported while the old routing keeps
// serving, a target the proxy does not see healthy refused, a restarted proxy routing to the last version, and the
// metrics endpoint's per-server counters. Skipped with a warning without Docker, except with CI=true.
import { spawn, ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import Docker from 'dockerode';
import { freePort } from '../support/kernel-process';
import { describeWithDocker, removeByLabel } from '../support/docker';
import { ensureDocker } from '../../notebooks/stack/engine';
import { ensureBaseImages } from '../../notebooks/stack/base-images';
import { ensureProxyImage } from '../../notebooks/stack/proxy-image';
import { ProxyInfo, currentRouting, ensureProxy, inspectProxy, serverStates, switchTo, waitDrained, ensureNetwork } from '../../magics/docker/proxy/proxy';
import { Routing, renderConfig, serverName } from '../../magics/docker/proxy/config';
import { reloadWith } from '../../magics/docker/proxy/reload';

const describeDocker = describeWithDocker('proxy');

const RUN = `proxy-${process.pid}`;
const RUN_LABEL = { 'opsbook.test.run': RUN };
const SERVICE = `opsbook-test-px-${process.pid}`;
const MAX_REQUESTS = 20_000;
const MAX_LOOP_MS = 90_000;

function get(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    // only refused, reset or 5 s silent counts as a failure: a slow answer on a loaded 2-core machine is not
    const req = http.get({ host: '127.0.0.1', port, path: '/', timeout: 5000, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: body.trim() }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0, body: '' }));
  });
}

/** Requests one after another until stopped, MAX_REQUESTS or MAX_LOOP_MS: totals, failures and the bodies seen. */
function requestLoop(port: number): { stop(): Promise<{ total: number; failed: number; bodies: Map<string, number> }> } {
  let running = true;
  const stats = { total: 0, failed: 0, bodies: new Map<string, number>() };
  const started = Date.now();
  const loop = (async () => {
    while (running && stats.total < MAX_REQUESTS && Date.now() - started < MAX_LOOP_MS) {
      const r = await get(port);
      stats.total += 1;
      if (r.status !== 200) stats.failed += 1;
      else stats.bodies.set(r.body, (stats.bodies.get(r.body) ?? 0) + 1);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return stats;
    },
  };
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describeDocker('the per-service HAProxy against a real engine', () => {
  const docker = new Docker();
  let port: number;
  let proxy: ProxyInfo;
  const version = (v: string) => ({ container: `${SERVICE}-v${v}`, version: v });
  const routing = (live: string): Routing => ({
    service: SERVICE,
    ports: [{ hostIp: '127.0.0.1', host: port, container: 8080 }],
    servers: ['1', '2'].map((v) => ({ ...version(v), weight: v === live ? 256 : 0 })),
    mode: 'http',
    check: { kind: 'http', path: '/' },
    drainSeconds: 10,
  });

  /** Switches v1→v2→v1… `count` times with the loop running; failures, totals and each switch's time. */
  async function switchUnderLoad(count: number): Promise<{ failed: number; total: number; ms: number[]; reloadMs: number[]; steps: string }> {
    const loop = requestLoop(port);
    const ms: number[] = [];
    const reloadMs: number[] = [];
    const steps: Record<string, number> = {};
    const first = (await currentRouting(docker, SERVICE))?.servers.find((s) => s.weight > 0)?.version === '2' ? '1' : '2';
    for (let i = 0; i < count; i += 1) {
      const live = i % 2 === 0 ? first : first === '1' ? '2' : '1';
      const outcome = await switchTo(docker, routing(live));
      ms.push(outcome.ms);
      reloadMs.push(outcome.reloadMs);
      for (const [name, t] of Object.entries(outcome.steps)) steps[name] = (steps[name] ?? 0) + t / count;
      await waitFor(`v${live} answering`, async () => ((await get(port)).body === `v${live}` ? true : undefined));
    }
    const stats = await loop.stop();
    return { failed: stats.failed, total: stats.total, ms, reloadMs, steps: Object.entries(steps).map(([n, t]) => `${n} ${Math.round(t)}`).join(', ') };
  }

  beforeAll(async () => {
    await ensureDocker();
    const { busybox } = await ensureBaseImages();
    await ensureProxyImage();
    port = await freePort();
    const network = await ensureNetwork(docker, SERVICE, RUN_LABEL);
    for (const v of ['1', '2']) {
      const c = await docker.createContainer({
        name: version(v).container,
        Image: busybox,
        Cmd: ['sh', '-c', `mkdir -p /www && echo v${v} > /www/index.html && exec httpd -f -p 8080 -h /www`],
        Labels: { 'opsbook.managed': 'true', ...RUN_LABEL },
        HostConfig: { NetworkMode: network },
      });
      await c.start();
    }
    proxy = await ensureProxy(docker, { service: SERVICE, ports: routing('1').ports, mode: 'http', check: { kind: 'http', path: '/' }, drainSeconds: 10, labels: RUN_LABEL });
    const first = await switchTo(docker, routing('1'));
    expect(first.staged).toBe(true);
    expect((await get(port)).body).toBe('v1');
  }, 240_000);

  afterAll(async () => {
    await removeByLabel(`opsbook.test.run=${RUN}`);
  }, 60_000);

  test('v1→v2→v1 switches with a request loop running: 0 failed requests, each switch confirmed', async () => {
    const r = await switchUnderLoad(7);
    console.log(`proxy switches (idle): ${r.failed} of ${r.total} requests failed; switch ms ${r.ms.join(', ')}; reload ms ${r.reloadMs.join(', ')}; mean ms per step: ${r.steps}`);
    expect(r.failed).toBe(0);
    expect(r.total).toBeGreaterThan(100);
    expect((await currentRouting(docker, SERVICE))?.servers.find((s) => s.weight === 256)?.version).toBe('2'); // v1 → 2,1,2,1,2,1,2
    expect(await waitDrained(docker, SERVICE, 15_000)).toBe(true);
  }, 120_000);

  test('the same with both cores loaded by two busy loops', async () => {
    const busy: ChildProcess[] = [spawn('yes', [], { stdio: ['ignore', 'ignore', 'ignore'] }), spawn('yes', [], { stdio: ['ignore', 'ignore', 'ignore'] })];
    try {
      const r = await switchUnderLoad(6);
      console.log(`proxy switches (2 cores loaded): ${r.failed} of ${r.total} requests failed; switch ms ${r.ms.join(', ')}; reload ms ${r.reloadMs.join(', ')}; mean ms per step: ${r.steps}`);
      expect(r.failed).toBe(0);
    } finally {
      for (const p of busy) p.kill('SIGKILL');
    }
  }, 150_000);

  test('a refused configuration is reported (before the reload and at it); the old routing keeps serving', async () => {
    const container = docker.getContainer(proxy.id);
    const before = await currentRouting(docker, SERVICE);
    const live = before?.servers.find((s) => s.weight === 256)?.version;
    const bad = `${renderConfig(routing(live === '1' ? '2' : '1'))}\n  no-such-keyword here\n`;
    const loop = requestLoop(port);
    await expect(reloadWith(container, bad)).rejects.toThrow(/HAProxy refused the new configuration \(nothing was reloaded\): .*no-such-keyword/);
    // the same text signalled without the check: the master's "Loading failure!" is what tells
    await expect(reloadWith(container, bad, { precheck: false })).rejects.toThrow(/the proxy refused the new configuration at reload and keeps serving the previous one: .*no-such-keyword/);
    const stats = await loop.stop();
    expect(stats.failed).toBe(0);
    expect([...stats.bodies.keys()]).toEqual([`v${live}`]);
    expect(await currentRouting(docker, SERVICE)).toEqual(before);
    // and the proxy still takes a good configuration afterwards
    await switchTo(docker, routing(live === '1' ? '2' : '1'));
    expect((await get(port)).body).toBe(`v${live === '1' ? '2' : '1'}`);
  }, 60_000);

  test('a target the proxy does not see healthy is not switched to', async () => {
    const target = routing('1');
    target.servers.push({ container: `${SERVICE}-v9`, version: '9', weight: 256 });
    target.servers[0].weight = 0;
    const before = (await get(port)).body;
    await expect(switchTo(docker, target, { healthTimeoutMs: 3000 })).rejects.toThrow(new RegExp(`not switched, the proxy does not see the target healthy: 9:${SERVICE}-v9 is MAINT`));
    expect((await get(port)).body).toBe(before);
  }, 60_000);

  test('a restarted proxy comes back routing to the version that was serving', async () => {
    await switchTo(docker, routing('2'));
    await docker.getContainer(proxy.id).restart({ t: 5 });
    const body = await waitFor('the proxy answering after its restart', async () => {
      const r = await get(port);
      return r.status === 200 ? r.body : undefined;
    });
    expect(body).toBe('v2');
    expect((await currentRouting(docker, SERVICE))?.servers.map((s) => `${s.version}:${s.weight}`)).toEqual(['1:0', '2:256']);
  }, 60_000);

  test('the metrics endpoint counts requests per server, named by version; the runtime API gives weights and health', async () => {
    for (let i = 0; i < 5; i += 1) expect((await get(port)).status).toBe(200);
    // the engine picked the metrics port, so the restart above may have moved it
    const metricsPort = (await inspectProxy(docker, SERVICE))?.metricsHostPort;
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const v2 = serverName(version('2'));
    const line = new RegExp(`^haproxy_server_http_responses_total\\{proxy="${SERVICE}-8080",server="${v2}",code="2xx"\\} (\\d+)$`, 'm').exec(metrics);
    expect(Number(line?.[1])).toBeGreaterThanOrEqual(5);
    expect(metrics).toMatch(new RegExp(`^haproxy_server_weight\\{proxy="${SERVICE}-8080",server="${v2}"\\} 256$`, 'm'));
    // right after the restart above the checks may not have run yet (a fresh worker reports UP, check INI)
    const states = await waitFor('both versions checked', async () => {
      const now = await serverStates(docker, SERVICE);
      return now.every((s) => s.healthy) ? now : undefined;
    });
    expect(states.map((s) => [s.server, s.weight, s.healthy])).toEqual([[serverName(version('1')), 0, true], [v2, 256, true]]);
    expect(states[1].totalSessions).toBeGreaterThanOrEqual(5);
  }, 30_000);
});
