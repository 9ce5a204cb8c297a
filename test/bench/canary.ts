// The canary benchmark of issue 14, against the real engine, the local proxy image and a real Prometheus that scrapes
// every version of the sample app on its container each second (as the local stack does): a version that answers
// 500 to 30 % of its requests (the app's ERROR_RATE build arg) is deployed by canary at 10 % with an error-ratio
// analysis every 2 s, and rolled back at its first failed measurement, `rollouts` times. A request loop on loopback
// (back to back, each request on a new connection) keeps the time and the answering version of every response.
// Measured: (a) from the first failed measurement (the kernel's time on the progress update that shows it failed)
// to the end of the last response the bad version gave, after which the old version answers every request
// (target ≤ one --interval + 1 s); (b) how many requests the bad version answered during its failed canary, of how
// many. Also: requests that failed for any other reason than the bad version's own 500s (target 0).
import { performance } from 'node:perf_hooks';
import { TestKernel, startTestKernel } from '../support/kernel-client';
import { freePort } from '../support/kernel-process';
import { ensureBaseImages } from '../../notebooks/stack/base-images';
import { ensureDocker } from '../../notebooks/stack/engine';
import { PROXY_IMAGE, ensureProxyImage } from '../../notebooks/stack/proxy-image';
import { localDockerHost } from '../../notebooks/stack/stack';
import { removeByLabel } from '../support/docker';
import { get } from '../support/request-loop';
import { progressText } from '../support/deploy-state';
import { PrometheusHandle, startPrometheus } from '../support/prometheus';
import { buildSampleApp } from '../support/sample-image';
import { median } from './stats';

/** --interval of the bench's canaries, in seconds. */
const INTERVAL_S = 2;
const SHARE_PERCENT = 10;
const ERROR_RATE = 0.3;
const LABEL = `opsbook.bench.run=${process.pid}`;

export interface CanaryRollback {
  /** First failed measurement → end of the bad version's last response. */
  backMs: number;
  /** Requests the bad version answered (its 200s and its own 500s). */
  badServed: number;
  /** All requests of the loop from the bad version's first answer to its last. */
  duringExposure: number;
  /** The bad version's first answer → its last. */
  exposureMs: number;
  /** Requests that failed otherwise: refused, reset, timed out, or a proxy error. */
  failed: number;
  /** The %deploy cell, sent → its error. */
  cellMs: number;
  /** The analysis' failing value, as the cell's error has it. */
  why: string;
}

export interface CanaryBench {
  intervalS: number;
  sharePercent: number;
  errorRate: number;
  rollbacks: CanaryRollback[];
}

interface Answered {
  /** Date.now() when the response ended. */
  at: number;
  bad: boolean;
  failed: boolean;
}

/** A back-to-back loop through the proxy, keeping who answered each request and when. */
function timelineLoop(port: number, badBody: string): { stop(): Promise<Answered[]>; count(): number } {
  const answers: Answered[] = [];
  let running = true;
  const deadline = Date.now() + 300_000;
  const loop = (async () => {
    while (running && Date.now() < deadline) {
      const r = await get(port, '/', 5000);
      const ownError = r.status === 500 && r.body.includes('APP_ERROR_RATE');
      answers.push({ at: Date.now(), bad: ownError || (r.status === 200 && r.body.trim() === badBody), failed: r.status !== 200 && !ownError });
    }
  })();
  return {
    count: () => answers.length,
    stop: async () => {
      running = false;
      await loop;
      return answers;
    },
  };
}

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** `rollouts` failed canaries of a bad version at 10 %, each measured from the loop's timeline. */
export async function canaryBench(rollouts: number): Promise<CanaryBench> {
  await ensureDocker();
  await ensureBaseImages();
  await ensureProxyImage();
  const service = `opsbook-bench-canary-${process.pid}`;
  const images = { old: `opsbook-bench/canary:old-${process.pid}`, bad: `opsbook-bench/canary:bad-${process.pid}` };
  await buildSampleApp(images.old, { version: 'bench-old', labels: [LABEL] });
  await buildSampleApp(images.bad, { version: 'bench-bad', errorRate: ERROR_RATE, labels: [LABEL] });
  let prometheus: PrometheusHandle | undefined;
  let k: TestKernel | undefined;
  try {
    prometheus = await startPrometheus({ versionsOn: localDockerHost() });
    k = await startTestKernel({ env: { OPSBOOK_PROXY_IMAGE: PROXY_IMAGE, PROMETHEUS_URL: prometheus.url } });
    const port = await freePort();
    const base = `--name ${service} -p 127.0.0.1:${port}:8080 -e SERVICE_NAME=${service} --wait 60s --drain 2s --yes`;
    const first = await k.client.execute(`%deploy ${images.old} ${base}`, {}, 240_000);
    if (first.reply.content.status !== 'ok') throw new Error(`first %deploy: ${String(first.reply.content.evalue)}`);
    const traffic = `service='${service}',version='bench-bad',route='/'`;
    const analysis = `errors: (sum(rate(http_requests_total{${traffic},code=~'5..'}[5s])) or vector(0)) / sum(rate(http_requests_total{${traffic}}[5s])) < 0.05`;
    const canary = `%deploy ${images.bad} ${base} --strategy canary --steps ${SHARE_PERCENT}%:120s,100% --interval ${INTERVAL_S}s --analysis "${analysis}"`;
    const rollbacks: CanaryRollback[] = [];
    for (let i = 0; i < rollouts; i++) {
      const loop = timelineLoop(port, 'hello from opsbook-sample-app bench-bad');
      const t0 = performance.now();
      const r = await k.client.execute(canary, {}, 240_000);
      const cellMs = performance.now() - t0;
      // a few hundred more answers after the cell's end: none of them may come from the bad version
      const after = loop.count();
      await until(() => loop.count() >= after + 300, 60_000);
      const answers = await loop.stop();
      const why = String(r.reply.content.evalue);
      if (r.reply.content.status === 'ok' || !/^canary of .* failed: errors was/.test(why)) throw new Error(`rollout ${i + 1}: not rolled back by the analysis: ${why}`);
      const failedUpdate = r.outputs.find((m) => / errors: .*✗/.test(progressText(m) ?? ''));
      if (failedUpdate === undefined) throw new Error(`rollout ${i + 1}: no progress update showed the failed measurement`);
      const failedAt = Date.parse(failedUpdate.header.date);
      const bad = answers.filter((a) => a.bad);
      if (bad.length === 0) throw new Error(`rollout ${i + 1}: the bad version answered no request`);
      const firstBad = bad[0].at;
      const lastBad = bad[bad.length - 1].at;
      rollbacks.push({
        backMs: lastBad - failedAt,
        badServed: bad.length,
        duringExposure: answers.filter((a) => a.at >= firstBad && a.at <= lastBad).length,
        exposureMs: lastBad - firstBad,
        failed: answers.filter((a) => a.failed).length,
        cellMs,
        why: /errors was [0-9.]+/.exec(why)?.[0] ?? why,
      });
      // the kept candidate goes before the next rollout
      const cleanup = await k.client.execute(`%deploy --cleanup --name ${service}`, {}, 120_000);
      if (cleanup.reply.content.status !== 'ok') throw new Error(`--cleanup: ${String(cleanup.reply.content.evalue)}`);
    }
    return { intervalS: INTERVAL_S, sharePercent: SHARE_PERCENT, errorRate: ERROR_RATE, rollbacks };
  } finally {
    await k?.stop();
    await prometheus?.stop();
    await removeByLabel(`opsbook.service=${service}`);
    await removeByLabel(LABEL);
  }
}

export function canaryRows(b: CanaryBench): { metric: string; value: string; target: string; pass: boolean | undefined }[] {
  const backs = b.rollbacks.map((r) => r.backMs);
  const targetMs = b.intervalS * 1000 + 1000;
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  return [
    {
      metric: `canary rolled back (a version failing ${b.errorRate * 100} % of requests, ${b.sharePercent} %, --interval ${b.intervalS}s): first failed measurement → 100 % of requests on the old version, ${b.rollbacks.length} rollouts`,
      value: `${backs.map(s).join(', ')} (max ${s(Math.max(...backs))})`,
      target: `≤ ${s(targetMs)}`,
      pass: backs.length > 0 && Math.max(...backs) <= targetMs,
    },
    {
      metric: `… requests the bad version answered during its failed canary at ${b.sharePercent} % (of all requests of one back-to-back loop while it had its share, and for how long)`,
      value: `${b.rollbacks.map((r) => `${r.badServed} of ${r.duringExposure} in ${s(r.exposureMs)}`).join(', ')}; median ${median(b.rollbacks.map((r) => r.badServed))}`,
      target: '—',
      pass: undefined,
    },
    {
      metric: '… requests that failed otherwise (refused, reset, proxy error) across each rollout',
      value: b.rollbacks.map((r) => `${r.failed}`).join(', '),
      target: '0',
      pass: b.rollbacks.every((r) => r.failed === 0),
    },
    { metric: '… the `%deploy` cell, sent → rolled back (gate, stage, step 1 until the first failed measurement, rollback)', value: `median ${s(median(b.rollbacks.map((r) => r.cellMs)))}`, target: '—', pass: undefined },
  ];
}

/** Run alone (`npm run build && tsc -p test/bench && node dist/test/bench/canary.js [rollouts]`): the rows, then the runs. */
if (require.main === module) {
  canaryBench(Number(process.argv[2] ?? 3)).then(
    (b) => {
      for (const r of canaryRows(b)) process.stdout.write(`| ${r.metric} | ${r.value} | ${r.target} | ${r.pass === undefined ? '' : r.pass ? 'PASS ✓' : '**FAIL** ✗'} |\n`);
      process.stdout.write(`${JSON.stringify(b.rollbacks)}\n`);
      process.exit(0);
    },
    (e: Error) => {
      process.stderr.write(`[bench] canary: ${e.stack ?? e.message}\n`);
      process.exit(1);
    },
  );
}
