// %deploy --strategy canary judged by the built-in analyses on the proxy's own metrics (proxy-errors, proxy-latency),
// against the real engine, the real HAProxy image and a real Prometheus scraping the service's proxy (docker_sd, the
// stack's opsbook-proxy job labelling service and version), and how a rollout's display ends:
// - a version answering 500 for half its requests (the sample app's APP_ERROR_RATE) is rolled back by proxy-errors<1%
//   with no failed request from the rollout itself; the display ends as the summary naming the failed analysis and
//   its value, and a chart output holds every analysis with its threshold line and the step markers; the record
//   carries the time to restore and the kernel's DORA counters count a failed change and its restore;
// - headless: the same rollout under `opsbook run` fails its cell, so the run exits non-zero, and the saved notebook
//   holds the summary, the chart and the error;
// - a good version is promoted, judged on both built-ins; no second restore is counted for the earlier failure.
// Steps are seconds long; every wait is for a condition. Skipped with a warning without Docker, except with CI=true.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Docker from 'dockerode';
import type { Message } from '../../kernel/protocol/messages';
import { listRecords } from '../../magics/docker/deploy/audit';
import { PLOTLY_MIME } from '../../magics/promql/bundle';
import type { Figure } from '../../magics/promql/figure';
import { PROXY_IMAGE } from '../../notebooks/stack/proxy-image';
import { serviceState, textOf } from '../support/deploy-state';
import { describeWithDocker, removeByLabel, ensureDeployParts } from '../support/docker';
import { ExecuteResult, TestKernel, startTestKernel } from '../support/kernel-client';
import { CLI, freePort } from '../support/kernel-process';
import { PrometheusHandle, startPrometheus } from '../support/prometheus';
import { LoopStats, get, requestLoop } from '../support/request-loop';
import { buildSampleApp } from '../support/sample-image';

const describeDocker = describeWithDocker('deploy-canary-proxy');

const RUN = `deploy-canary-proxy-${process.pid}`;
const SERVICE = `opsbook-test-canaryp-${process.pid}`;
const REPO = `opsbook-test/canaryp-${process.pid}`;
const LOOP = { maxRequests: 50_000, maxMs: 240_000 };

/** Answers the loop got that the rollout itself would cause: refused or reset connections, the proxy's own errors. */
function rolloutFailures(stats: LoopStats): Array<[number, number]> {
  return [...stats.byStatus].filter(([status]) => status !== 200 && status !== 500);
}

/** The data of every display_data and the last update of each display, in order (what a saved notebook keeps). */
function finalOutputs(outputs: Message[]): Array<Record<string, unknown>> {
  const byId = new Map<string, Record<string, unknown>>();
  const order: Array<Record<string, unknown> | string> = [];
  for (const m of outputs) {
    const data = m.content.data as Record<string, unknown> | undefined;
    const id = (m.content.transient as { display_id?: string } | undefined)?.display_id;
    if (m.header.msg_type === 'display_data' && data) {
      if (id) {
        byId.set(id, data);
        order.push(id);
      } else order.push(data);
    } else if (m.header.msg_type === 'update_display_data' && data && id) byId.set(id, data);
  }
  return order.map((o) => (typeof o === 'string' ? (byId.get(o) ?? {}) : o));
}

/** What the end display must show of a rollout's chart: a row per analysis, thresholds, the step markers. */
function expectRolloutChart(figure: Figure, analyses: Array<[string, number]>, markers: string[], measured = analyses.map(([name]) => name)): void {
  expect(figure.data.map((t) => t.name)).toEqual(analyses.map(([name]) => name));
  // an analysis that measured something has points; proxy-latency waits for 50 answers, which a version rolled back
  // at its first measurement may not have given
  for (const trace of figure.data) if (measured.includes(trace.name)) expect(trace.y.some((v) => v !== null)).toBe(true);
  const thresholds = figure.layout.shapes.filter((s) => s.line.dash === 'dash').map((s) => s.y0);
  expect(thresholds).toEqual(analyses.map(([, threshold]) => threshold));
  expect(figure.layout.shapes.filter((s) => s.line.dash === 'dot').map((s) => s.label.text)).toEqual(markers);
}

describeDocker('%deploy --strategy canary judged by the proxy\'s own metrics; the end display; DORA', () => {
  const docker = new Docker();
  let k: TestKernel;
  let prometheus: PrometheusHandle;
  let port: number;
  let metricsPort: number;
  let tmp: string;
  const images = { v1: `${REPO}:1`, bad: `${REPO}:bad`, headless: `${REPO}:headless`, good: `${REPO}:good` };
  const deployLine = (image: string, extra: string) => `%deploy ${image} --name ${SERVICE} -p 127.0.0.1:${port}:8080 --wait 60s --drain 5s --yes ${extra}`;
  const canaryLine = (image: string, steps: string, extra = '') => deployLine(image, `--strategy canary --steps ${steps} --interval 1s --analysis "proxy-errors[10s]<1%" --analysis "proxy-latency[10s]<300ms" ${extra}`);
  const execute = (code: string): Promise<ExecuteResult> => k.client.execute(code, {}, 240_000);
  const kernelMetrics = async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();

  beforeAll(async () => {
    await ensureDeployParts();
    const labels = [`opsbook.test.run=${RUN}`];
    await buildSampleApp(images.v1, { version: '1', labels });
    await buildSampleApp(images.good, { version: '2', labels });
    // the bad versions are the same build under other tags (the proxy labels versions by tag), made bad by -e APP_ERROR_RATE
    execFileSync('docker', ['tag', images.good, images.bad]);
    execFileSync('docker', ['tag', images.good, images.headless]);
    prometheus = await startPrometheus({ proxiesOn: 'unix:///var/run/docker.sock' });
    port = await freePort();
    metricsPort = await freePort();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'opsbook-canary-proxy-'));
    k = await startTestKernel({ env: { OPSBOOK_PROXY_IMAGE: PROXY_IMAGE, PROMETHEUS_URL: prometheus.url, OPSBOOK_METRICS_PORT: String(metricsPort) } });
    const first = await execute(deployLine(images.v1, ''));
    if (first.reply.content.status !== 'ok') throw new Error(`the first deploy failed: ${textOf(first)}`);
  }, 400_000);

  afterAll(async () => {
    await k?.stop();
    await prometheus?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    execFileSync('sh', ['-c', `docker rm -f $(docker ps -aq --filter label=opsbook.service=${SERVICE}) 2>/dev/null; docker network rm opsbook-net-${SERVICE} 2>/dev/null; docker rmi ${images.bad} ${images.headless} 2>/dev/null; true`]);
    await removeByLabel(`opsbook.test.run=${RUN}`);
  }, 120_000);

  test('proxy-errors<1% rolls back a version answering 500 for half its requests; the display ends as summary + chart; DORA counts it restored', async () => {
    const loop = requestLoop(port, LOOP);
    const r = await execute(canaryLine(images.bad, '20%:60s,100%', '-e APP_ERROR_RATE=0.5'));
    const stats = await loop.stop();
    const evalue = String(r.reply.content.evalue);
    console.log(`bad canary (proxy-errors): ${stats.total} requests, by status ${JSON.stringify([...stats.byStatus])}\n${evalue}`);
    expect(r.reply.content.ename).toBe('MagicError');
    expect(evalue).toMatch(new RegExp(`^canary of ${images.bad} to ${SERVICE} failed: proxy-errors was 0\\.[3-7]\\d*, not < 1% at step 1 of 2 \\(20%\\); rolled back: `));
    expect(stats.byStatus.get(500) ?? 0).toBeGreaterThan(0);
    expect(rolloutFailures(stats)).toEqual([]);
    expect((await get(port)).body).toContain('opsbook-sample-app 1');

    // the progress display ended as the summary; the chart is the output under it
    const [summary, chart] = finalOutputs(r.outputs);
    const text = String(summary['text/plain']);
    console.log(text);
    expect(text).toMatch(/^\[audit\] deploy \(canary\) .*, restored automatically \d+\.\d s after the new version's first request/);
    expect(text).toMatch(/\nfailed analysis: proxy-errors = 0\.[3-7]\d* \(wants < 1%\)\n/);
    expect(text).toMatch(/\n {2}proxy-errors {3}\d+ measurements?.*, last 0\.[3-7]\d* not < 1% ✗, wants < 1% {2}← failed the rollout\n/);
    expect(text).toMatch(/\n {2}proxy-latency {2}\d+ measurements?.*, wants < 300ms$/);
    expect(String(summary['text/html'])).toContain('failed the rollout');
    const figure = chart[PLOTLY_MIME] as Figure;
    expectRolloutChart(figure, [['proxy-errors', 0.01], ['proxy-latency', 0.3]], ['20%', 'rolled back'], ['proxy-errors']);
    expect(String(chart['text/html'])).toContain('dispatchEvent(new Event('); // plotly.js rides in this kernel's first chart
    expect(String(chart['text/plain'])).toMatch(/: rolled back; proxy-errors \(\d+ measurements?, wants < 1%\), proxy-latency/);

    // the record: the failed change and its time to restore; the kernel's DORA counters: one failure, one restore
    const record = (await listRecords(docker, SERVICE))[0];
    expect(record.outcome).toMatch(/^failed: proxy-errors was /);
    expect(record.restoredMs).toBeGreaterThan(0);
    const metrics = await kernelMetrics();
    expect(metrics).toContain(`opsbook_deploys_total{service="${SERVICE}",outcome="failed"} 1`);
    expect(metrics).toContain(`opsbook_restores_total{service="${SERVICE}"} 1`);
    const restoreSeconds = Number(new RegExp(`opsbook_restore_seconds_total\\{service="${SERVICE}"\\} ([0-9.e-]+)`).exec(metrics)?.[1]);
    expect(restoreSeconds).toBeCloseTo((record.restoredMs ?? 0) / 1000, 2);
  }, 300_000);

  test('headless: under `opsbook run` the failed rollout fails its cell, the run exits non-zero, the saved notebook keeps summary, chart and error', async () => {
    const input = path.join(tmp, 'canary.ipynb');
    const output = path.join(tmp, 'canary.out.ipynb');
    const cell = { cell_type: 'code', id: 'canary', metadata: {}, source: canaryLine(images.headless, '20%:60s,100%', '-e APP_ERROR_RATE=0.5'), execution_count: null, outputs: [] };
    const after = { cell_type: 'code', id: 'after', metadata: {}, source: 'console.log("not reached")', execution_count: null, outputs: [] };
    writeFileSync(input, JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: { kernelspec: { name: 'opsbook', display_name: 'TypeScript (opsbook)', language: 'typescript' } }, cells: [cell, after] }));
    const loop = requestLoop(port, LOOP);
    const child = spawn(process.execPath, [CLI, 'run', input, output, '--timeout', '200'], { cwd: tmp, env: { ...process.env, TMPDIR: tmp, OPSBOOK_PROXY_IMAGE: PROXY_IMAGE, PROMETHEUS_URL: prometheus.url }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    const stats = await loop.stop();
    console.log(`headless canary: exit ${code}, ${stats.total} requests, by status ${JSON.stringify([...stats.byStatus])}\n${stderr.slice(-2000)}`);
    expect(code).toBe(1);
    expect(rolloutFailures(stats)).toEqual([]);
    const saved = JSON.parse(readFileSync(output, 'utf8')) as { cells: Array<{ id: string; outputs: Array<{ output_type: string; data?: Record<string, unknown>; ename?: string; evalue?: string }> }> };
    const outputs = saved.cells.find((c) => c.id === 'canary')?.outputs ?? [];
    const displays = outputs.filter((o) => o.output_type === 'display_data');
    // nbformat keeps text as a list of lines
    const plain = ([] as string[]).concat((displays[0]?.data?.['text/plain'] as string | string[] | undefined) ?? []).join('');
    expect(plain).toMatch(/\nfailed analysis: proxy-errors = 0\.[3-7]\d* \(wants < 1%\)\n/);
    expectRolloutChart(displays[1]?.data?.[PLOTLY_MIME] as Figure, [['proxy-errors', 0.01], ['proxy-latency', 0.3]], ['20%', 'rolled back'], ['proxy-errors']);
    const error = outputs.find((o) => o.output_type === 'error');
    expect(error?.ename).toBe('MagicError');
    expect(error?.evalue).toMatch(/failed: proxy-errors was 0\.[3-7]\d*, not < 1% at step 1 of 2 \(20%\)/);
    expect(saved.cells.find((c) => c.id === 'after')?.outputs ?? []).toEqual([]);
    expect((await get(port)).body).toContain('opsbook-sample-app 1');
  }, 300_000);

  test('a good version is promoted, judged on both built-ins; the earlier restored failure is not counted again', async () => {
    const loop = requestLoop(port, LOOP);
    const r = await execute(canaryLine(images.good, '30%:6s,100%'));
    const stats = await loop.stop();
    console.log(`good canary (built-ins): ${stats.total} requests, by body ${JSON.stringify([...stats.byBody])}`);
    expect(r.reply.content.status).toBe('ok');
    expect(stats.failed).toBe(0);
    expect((await get(port)).body).toContain('opsbook-sample-app 2');
    const [summary, chart] = finalOutputs(r.outputs);
    expect(String(summary['text/plain'])).toMatch(/\npromoted after 2 steps \(30%, 100%\) in \d+\.\d s\n {2}proxy-errors {3}\d+ measurements?.*, last 0 < 1% ✓, wants < 1%\n {2}proxy-latency {2}\d+ measurements?.*, last [0-9.e-]+ < 300ms ✓, wants < 300ms$/);
    expectRolloutChart(chart[PLOTLY_MIME] as Figure, [['proxy-errors', 0.01], ['proxy-latency', 0.3]], ['30%', '100%', 'promoted']);
    expect(String(chart['text/html'])).not.toContain('dispatchEvent(new Event('); // plotly.js went with the first chart
    const state = await serviceState(docker, SERVICE);
    expect(state.running).toEqual(state.routed);
    expect((await listRecords(docker, SERVICE))[0].outcome).toBe('deployed');
    const metrics = await kernelMetrics();
    expect(metrics).toContain(`opsbook_deploys_total{service="${SERVICE}",outcome="deployed"} 2`);
    expect(metrics).toContain(`opsbook_restores_total{service="${SERVICE}"} 1`);
  }, 300_000);
  test('proxy-latency<300ms rolls back a version that answers every request 600 ms late, without a failed request', async () => {
    const before = (await get(port)).body;
    const loop = requestLoop(port, LOOP);
    const r = await execute(canaryLine(images.headless, '20%:60s,100%', '-e APP_LATENCY_MS=600'));
    const stats = await loop.stop();
    const evalue = String(r.reply.content.evalue);
    console.log(`slow canary (proxy-latency): ${stats.total} requests, by status ${JSON.stringify([...stats.byStatus])}\n${evalue}`);
    expect(r.reply.content.ename).toBe('MagicError');
    expect(evalue).toMatch(new RegExp(`^canary of ${images.headless} to ${SERVICE} failed: proxy-latency was 0\\.[5-7]\\d*, not < 300ms at step 1 of 2 \\(20%\\); rolled back: `));
    expect(stats.failed).toBe(0);
    expect((await get(port)).body).toBe(before);
    expect((await listRecords(docker, SERVICE))[0].outcome).toMatch(/^failed: proxy-latency was /);
  }, 300_000);
});
