// The local stack's CLI as the demo and a user run it (`node dist/notebooks/stack/stack.js up|status|down`), in its own
// state folder and with its own service name: up starts Prometheus and the Pushgateway, makes the proxy image and
// prints the export line; a second up reuses them (same pids); status reports them. Then a kernel with that
// environment deploys two versions of the sample app behind the service's proxy while requests go through it, and the
// stack's Prometheus, which discovers the proxy and the versions through the Docker socket, answers
// haproxy_server_http_responses_total per version, and the app's own http_requests_total per version, scraped on each
// version's container. Last, down stops exactly those processes and removes the service's containers and network. The Docker
// engine must already answer here (the Docker suites and .ci/run start it), so up neither starts nor stops dockerd.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { dockerAvailable, dockerStartable } from '../../notebooks/stack/engine';
import { describeRun, run } from '../support/jupyter-env';
import { REPO_ROOT } from '../support/kernel-process';
import { PROMETHEUS_BIN, PUSHGATEWAY_BIN } from '../../notebooks/stack/prometheus';
import { PROXY_IMAGE } from '../../notebooks/stack/proxy-image';
import { startTestKernel } from '../support/kernel-client';
import { removeByLabel } from '../support/docker';
import { buildSampleApp } from '../support/sample-image';
import { requestLoop } from '../support/request-loop';

const STACK = path.join(REPO_ROOT, 'dist', 'notebooks', 'stack', 'stack.js');
const mustRun = process.env.CI === 'true';
const missing = [
  ...(dockerAvailable() ? [] : [dockerStartable() ? 'a running Docker engine (the Docker suites start one)' : 'a Docker engine (docker.io)']),
  ...(existsSync(PROMETHEUS_BIN) ? [] : [PROMETHEUS_BIN]),
  ...(existsSync(PUSHGATEWAY_BIN) ? [] : [PUSHGATEWAY_BIN]),
];
if (missing.length > 0 && !mustRun) console.warn(`stack: SKIPPED, missing ${missing.join(', ')}; with CI=true this suite fails instead`);
const describeStack = missing.length === 0 || mustRun ? describe : describe.skip;

jest.setTimeout(180_000);

/** Whether the process runs (a zombie waiting for its reaper does not count). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

interface PromResult {
  metric: Record<string, string>;
  value: [number, string];
}

/** An instant query's result (an empty list when the query fails or has no data). */
async function instant(prometheus: string, query: string): Promise<PromResult[]> {
  const response = await fetch(`${prometheus}/api/v1/query?${new URLSearchParams({ query })}`, { signal: AbortSignal.timeout(5000) });
  const body = (await response.json()) as { status: string; data?: { result: PromResult[] } };
  return body.status === 'success' ? body.data?.result ?? [] : [];
}

describeStack('the local stack CLI (stack:up / stack:status / stack:down)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'opsbook-stack-'));
  const service = `opsbook-stacktest-${process.pid}`;
  const env = { ...process.env, OPSBOOK_STACK_DIR: dir, OPSBOOK_SERVICE: service };
  const stack = (command: string) => run(process.execPath, [STACK, command], { env, timeoutMs: 150_000 });
  const RUN_LABEL = `opsbook.test.run=stack-${process.pid}`;
  let exported: Record<string, string> = {};
  let pids: number[] = [];

  afterAll(async () => {
    await stack('down');
    rmSync(dir, { recursive: true, force: true });
    if (missing.length === 0) await removeByLabel(RUN_LABEL);
  });

  test('up starts, a second up reuses, status reports', async () => {
    if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}: bash notebooks/stack/install-system-deps.sh, and start dockerd`);
    const first = await stack('up');
    if (first.code !== 0) throw new Error(describeRun('stack up', first));
    exported = Object.fromEntries([...first.stdout.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]]));
    expect(first.stdout.trim()).toMatch(/^export /);
    expect(exported.OPSBOOK_SERVICE).toBe(env.OPSBOOK_SERVICE);
    // the deploys of a shell that evals the line use the proxy image up made, never a pull
    expect(exported.OPSBOOK_PROXY_IMAGE).toBe(PROXY_IMAGE);
    expect(execFileSync('docker', ['image', 'inspect', '--format', '{{.Id}}', PROXY_IMAGE], { encoding: 'utf8' })).toMatch(/^sha256:/);
    expect(first.stderr).toContain(`proxy image   ${PROXY_IMAGE}`);
    expect((await fetch(`${exported.PROMETHEUS_URL}/-/ready`)).status).toBe(200);
    expect((await fetch(`${exported.OPSBOOK_PUSHGATEWAY_URL}/-/ready`)).status).toBe(200);
    // Prometheus scrapes the Pushgateway; the app is scraped on each deployed version's container (see below), never
    // through the port its proxy publishes
    let urls: string[] = [];
    for (const deadline = Date.now() + 15_000; urls.length < 2 && Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
      const targets = (await (await fetch(`${exported.PROMETHEUS_URL}/api/v1/targets`)).json()) as { data: { activeTargets: { scrapeUrl: string }[] } };
      urls = targets.data.activeTargets.map((t) => t.scrapeUrl);
    }
    expect(urls).toContain(`${exported.OPSBOOK_PUSHGATEWAY_URL}/metrics`);
    expect(urls).not.toContain(`http://127.0.0.1:${exported.OPSBOOK_APP_PORT}/metrics`);
    pids = [...first.stderr.matchAll(/\(started, pid (\d+)/g)].map((m) => Number(m[1]));
    expect(pids).toHaveLength(2);
    expect(first.stderr).not.toMatch(/started dockerd/);

    const second = await stack('up');
    if (second.code !== 0) throw new Error(describeRun('stack up (again)', second));
    expect(second.stdout).toBe(first.stdout);
    expect([...second.stderr.matchAll(/already running, pid (\d+)/g)].map((m) => Number(m[1])).sort()).toEqual([...pids].sort());
    // the second up keeps the proxy image made from the same haproxy version: nothing is downloaded again
    expect(second.stderr).toMatch(new RegExp(`proxy image   ${PROXY_IMAGE.replace(/[.]/g, '\\.')} \\(Debian's haproxy \\S+, kept;`));

    const status = await stack('status');
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/pushgateway\s+\S+\s+running/);
    expect(status.stdout).toMatch(/prometheus\s+\S+\s+running/);
  });

  test("a deploy through the stack: its Prometheus scrapes the service's proxy, and the proxy's metrics tell versions apart", async () => {
    if (!exported.PROMETHEUS_URL) throw new Error('stack up did not run (see the test before)');
    const port = Number(exported.OPSBOOK_APP_PORT);
    const images = ['1', '2'].map((v) => `opsbook-test/stack-app:${v}-${process.pid}`);
    for (const [i, image] of images.entries()) await buildSampleApp(image, { version: `stack-${i + 1}`, labels: [RUN_LABEL] });
    const k = await startTestKernel({ env: { OPSBOOK_PROXY_IMAGE: exported.OPSBOOK_PROXY_IMAGE } });
    try {
      for (const image of images) {
        const loop = requestLoop(port, { pauseMs: 20, maxMs: 120_000 });
        const r = await k.client.execute(`%deploy ${image} --name ${service} -p 127.0.0.1:${port}:8080 --wait 30s --yes`, {}, 120_000);
        if (r.reply.content.status !== 'ok') throw new Error(`%deploy ${image}: ${String(r.reply.content.evalue)}`);
        // a few more requests answered by the version just deployed, so each version has its own count
        await loop.reached(loop.stats.total + 30);
        const stats = await loop.stop();
        expect(stats.total).toBeGreaterThan(30);
      }
    } finally {
      await k.stop();
    }
    // the proxy's own metrics, discovered and scraped within a few refreshes: one series per version of the service.
    // Each reload starts a new worker whose counters start at 0 (rate() takes that as a counter reset), so what v1
    // answered is in the samples scraped before the switch to v2: the highest value over the test's minutes.
    const query = `max by (version) (max_over_time(haproxy_server_http_responses_total{job="opsbook-proxy",service="${service}",code="2xx"}[5m]))`;
    let byVersion: Record<string, number> = {};
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 500))) {
      byVersion = Object.fromEntries((await instant(exported.PROMETHEUS_URL, query)).map((s) => [s.metric.version, Number(s.value[1])]));
      if ((byVersion[images[0].split(':')[1]] ?? 0) > 0 && (byVersion[images[1].split(':')[1]] ?? 0) > 0) break;
    }
    const [v1, v2] = images.map((image) => image.split(':')[1]);
    expect(Object.keys(byVersion).sort()).toEqual([v1, v2].sort());
    expect(byVersion[v1]).toBeGreaterThan(0);
    expect(byVersion[v2]).toBeGreaterThan(0);
    // the target is the proxy's metrics port on loopback, and only that one (not the service's own port)
    const targets = (await (await fetch(`${exported.PROMETHEUS_URL}/api/v1/targets`)).json()) as { data: { activeTargets: Array<{ labels: Record<string, string>; scrapeUrl: string; health: string }> } };
    const proxyTargets = targets.data.activeTargets.filter((t) => t.labels.job === 'opsbook-proxy' && t.labels.service === service);
    expect(proxyTargets).toHaveLength(1);
    expect(proxyTargets[0].scrapeUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(proxyTargets[0].scrapeUrl).not.toBe(`http://127.0.0.1:${port}/metrics`);
    expect(proxyTargets[0].labels.container).toBe(`opsbook-proxy-${service}`);

    // the versions themselves, each scraped on its own container (job sample-app), so each has its own series of the
    // app's metrics however the proxy shares the requests; v1 was scraped while it ran, v2 still is
    const appQuery = `max by (version) (max_over_time(http_requests_total{job="sample-app",container=~"${service}-.+",route="/"}[5m]))`;
    let appByVersion: Record<string, number> = {};
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 500))) {
      appByVersion = Object.fromEntries((await instant(exported.PROMETHEUS_URL, appQuery)).map((s) => [s.metric.version, Number(s.value[1])]));
      if ((appByVersion['stack-1'] ?? 0) > 0 && (appByVersion['stack-2'] ?? 0) > 0) break;
    }
    expect(Object.keys(appByVersion).sort()).toEqual(['stack-1', 'stack-2']);
    const appTargets = (await (await fetch(`${exported.PROMETHEUS_URL}/api/v1/targets`)).json()) as { data: { activeTargets: Array<{ labels: Record<string, string>; scrapeUrl: string; health: string }> } };
    const versionTargets = appTargets.data.activeTargets.filter((t) => t.labels.job === 'sample-app' && t.labels.container?.startsWith(`${service}-`));
    expect(versionTargets.length).toBeGreaterThanOrEqual(1);
    for (const t of versionTargets) expect(t.scrapeUrl).toMatch(/^http:\/\/(?!127\.0\.0\.1)[\d.]+:8080\/metrics$/);
  });

  test('down stops exactly what up started, and removes the service with its proxy and network', async () => {
    if (pids.length === 0) throw new Error('stack up did not run (see the first test)');
    const down = await stack('down');
    if (down.code !== 0) throw new Error(describeRun('stack down', down));
    expect(down.stdout).toMatch(/prometheus \S+ \(pid \d+\) (stopped|killed)/);
    expect(down.stdout).toMatch(/pushgateway \S+ \(pid \d+\) (stopped|killed)/);
    expect(down.stdout).not.toMatch(/dockerd/);
    expect(execFileSync('docker', ['ps', '-aq', '--filter', `label=opsbook.service=${service}`], { encoding: 'utf8' }).trim()).toBe('');
    expect(execFileSync('docker', ['network', 'ls', '-q', '--filter', `label=opsbook.service=${service}`], { encoding: 'utf8' }).trim()).toBe('');
    for (const pid of pids) expect(alive(pid)).toBe(false);
    const after = await stack('status');
    expect(after.stdout).toMatch(/prometheus\s+not started/);
  });
});
