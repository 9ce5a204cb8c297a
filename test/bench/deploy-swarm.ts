// The Swarm benchmark of issue 12: failed requests during `%deploy --swarm` rolling updates (2 replicas, start-first)
// through the service's proxy, against the real engine as a one-node Swarm and the local proxy image. A request
// loop on loopback (bounded in count and time, a few requests at a time) runs across each update, version after
// version; then once more with two busy-loop processes loading both cores. Target: 0 failed of ≥ 1,000 each time.
// The engine is made a Swarm manager for the bench if it is not one, and left again only if the bench made it one.
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { startTestKernel } from '../support/kernel-client';
import { freePort } from '../support/kernel-process';
import { ensureBaseImages } from '../../notebooks/stack/base-images';
import { ensureDocker } from '../../notebooks/stack/engine';
import { PROXY_IMAGE, ensureProxyImage } from '../../notebooks/stack/proxy-image';
import { removeByLabel } from '../support/docker';
import { buildSampleApp } from '../support/sample-image';
import { joinSwarm, leaveSwarmIfOurs, parallelLoops, removeSwarmService } from '../support/swarm';
import { median } from './stats';

export interface SwarmUpdateRun {
  /** Whether two busy loops loaded both cores during this update. */
  loaded: boolean;
  requests: number;
  failed: number;
  /** The %deploy cell, from sending it to its reply (the update waits for Swarm and for the proxy's checks). */
  deployMs: number;
  /** When requests failed: Swarm's task history then (`docker service ps`), to tell why. */
  tasks?: string[];
}

export interface SwarmBench {
  replicas: number;
  runs: SwarmUpdateRun[];
}

export const MIN_REQUESTS = 1000;
const LABEL = `opsbook.bench.run=swarm-${process.pid}`;
const REPLICAS = 2;
/** Bounds of the request loops, whatever the update does; 4 side by side so a loaded machine still sends ≥ 1,000. */
const LOOP = { maxRequests: 100_000, maxMs: 240_000 };
const LOOPS = 4;

/** Two `yes` processes, one per core; stopped by their pids. */
function busyLoops(): ChildProcess[] {
  return [0, 1].map(() => spawn('yes', [], { stdio: 'ignore' }));
}

function taskHistory(service: string): string[] {
  const format = '{{.Name}} {{.Image}} desired={{.DesiredState}} {{.CurrentState}} {{.Error}}';
  return execFileSync('docker', ['service', 'ps', service, '--no-trunc', '--format', format], { encoding: 'utf8' }).trim().split('\n');
}

/** `updates` rolling updates on an idle machine, then `loadedUpdates` with both cores busy. */
export async function swarmBench(updates: number, loadedUpdates: number): Promise<SwarmBench> {
  await ensureDocker();
  await ensureBaseImages();
  await ensureProxyImage();
  const createdSwarm = joinSwarm();
  const service = `opsbook-bench-swarm-${process.pid}`;
  const images = ['1', '2'].map((v) => `opsbook-bench/swarm:${v}-${process.pid}`);
  const runs: SwarmUpdateRun[] = [];
  let k: Awaited<ReturnType<typeof startTestKernel>> | undefined;
  try {
    for (const [i, image] of images.entries()) await buildSampleApp(image, { version: String(i + 1), labels: [LABEL] });
    const port = await freePort();
    k = await startTestKernel({ env: { OPSBOOK_PROXY_IMAGE: PROXY_IMAGE } });
    const kernel = k;
    const deploy = async (image: string) => {
      const r = await kernel.client.execute(`%deploy ${image} --name ${service} --swarm --replicas ${REPLICAS} -p 127.0.0.1:${port}:8080 --wait 60s --yes`, {}, 300_000);
      if (r.reply.content.status !== 'ok') throw new Error(`%deploy --swarm ${image} failed: ${String(r.reply.content.evalue)}`);
    };
    await deploy(images[0]); // the first deploy creates the service: nothing to update from
    for (let i = 1; i <= updates + loadedUpdates; i++) {
      const loaded = i > updates;
      const load = loaded ? busyLoops() : [];
      try {
        const loop = parallelLoops(port, LOOPS, LOOP);
        const t0 = performance.now();
        await deploy(images[i % 2]);
        const deployMs = performance.now() - t0;
        const stats = await loop.stop();
        const tasks = stats.failed > 0 ? taskHistory(service) : undefined;
        runs.push({ loaded, requests: stats.total, failed: stats.failed, deployMs, ...(tasks ? { tasks } : {}) });
      } finally {
        for (const p of load) p.kill();
      }
    }
    return { replicas: REPLICAS, runs };
  } finally {
    await k?.stop();
    await removeSwarmService(service);
    leaveSwarmIfOurs(createdSwarm);
    await removeByLabel(LABEL);
  }
}

export interface SwarmRow {
  metric: string;
  value: string;
  target: string;
  pass: boolean | undefined;
}

export function swarmRows(b: SwarmBench): SwarmRow[] {
  const counts = (runs: SwarmUpdateRun[]) => runs.map((r) => `${r.failed} of ${r.requests.toLocaleString('en-US')}`).join(', ');
  const pass = (runs: SwarmUpdateRun[]) => runs.length > 0 && runs.every((r) => r.failed === 0 && r.requests >= MIN_REQUESTS);
  const idle = b.runs.filter((r) => !r.loaded);
  const loaded = b.runs.filter((r) => r.loaded);
  const rows: SwarmRow[] = [
    { metric: `\`--swarm\` rolling update through the proxy (${b.replicas} replicas, start-first, dnsrr): failed requests of ≥ 1,000, each update`, value: counts(idle), target: '0', pass: pass(idle) },
  ];
  if (loaded.length > 0) rows.push({ metric: '… with two busy loops loading both cores', value: counts(loaded), target: '0', pass: pass(loaded) });
  rows.push({ metric: `… the \`%deploy --swarm\` cell of an update (Swarm converging, then the proxy seeing the tasks), median of ${b.runs.length}`, value: `${(median(b.runs.map((r) => r.deployMs)) / 1000).toFixed(1)} s`, target: '—', pass: undefined });
  return rows;
}

/** Run alone (`npm run build && tsc -p test/bench && node dist/test/bench/deploy-swarm.js`): the rows, then the runs. */
if (require.main === module) {
  swarmBench(2, 1).then(
    (b) => {
      for (const r of swarmRows(b)) process.stdout.write(`| ${r.metric} | ${r.value} | ${r.target} | ${r.pass === undefined ? '' : r.pass ? 'PASS ✓' : '**FAIL** ✗'} |\n`);
      process.stdout.write(`${JSON.stringify(b.runs)}\n`);
      process.exit(0);
    },
    (e: Error) => {
      process.stderr.write(`[bench] swarm: ${e.stack ?? e.message}\n`);
      process.exit(1);
    },
  );
}
