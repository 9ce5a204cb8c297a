// Docker benchmarks, against the real engine: (1) %build through a real kernel against the docker CLI's `docker
// build` on the same context (10,000 small files, a large node_modules that .dockerignore excludes), --no-cache,
// alternating, median of 3; (2) local version-to-version %deploy and %rollback of the sample app behind its proxy
// (the local HAProxy image), each with ≥ 1,000 back-to-back requests through the proxy running across it, on an
// idle machine and with two busy-loop processes loading both cores: the failed requests, the time from %deploy to the
// new version answering through the proxy, the whole deploy, and the switch as the deploy recorded it.
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { TestKernel, startTestKernel } from '../support/kernel-client';
import { freePort } from '../support/kernel-process';
import { BUSYBOX_IMAGE, ensureBaseImages } from '../../notebooks/stack/base-images';
import { ensureProxyImage } from '../../notebooks/stack/proxy-image';
import { ensureDocker } from '../../notebooks/stack/engine';
import { removeByLabel } from '../support/docker';
import { requestLoop } from '../support/request-loop';
import { buildSampleApp } from '../support/sample-image';
import { median } from './stats';

/** One version-to-version change with a request loop across it. */
export interface Cutover {
  kind: 'deploy' | 'rollback';
  load: 'idle' | 'two busy loops';
  requests: number;
  failed: number;
  /** From sending the magic to the first answer of the new version through the proxy. */
  toServingMs: number;
  /** From sending the magic to its reply. */
  wholeMs: number;
  /** The switch as the audit record has it (gate passed → proxy confirmed). */
  switchMs: number;
}

export interface DockerBench {
  files: number;
  ignoredFiles: number;
  cliMs: number[];
  buildMs: number[];
  ratio: number;
  cutovers: Cutover[];
}

/** Requests a cutover's loop makes at least (it goes on after the magic's reply until it has them). */
const MIN_REQUESTS = 1000;

const LABEL = `opsbook.bench.run=${process.pid}`;

/** A context of `files` small files in 100 folders, plus a node_modules of `ignored` files that .dockerignore drops. */
function makeContext(files: number, ignored: number): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'opsbook-bench-ctx-'));
  for (let d = 0; d < 100; d++) {
    mkdirSync(path.join(dir, 'src', `d${d}`), { recursive: true });
    for (let f = 0; f < files / 100; f++) writeFileSync(path.join(dir, 'src', `d${d}`, `f${f}.txt`), `file ${d}/${f}\n`.repeat(8));
  }
  for (let d = 0; d < 200; d++) {
    mkdirSync(path.join(dir, 'node_modules', `pkg${d}`), { recursive: true });
    for (let f = 0; f < ignored / 200; f++) writeFileSync(path.join(dir, 'node_modules', `pkg${d}`, `m${f}.js`), 'module.exports = 1;\n'.repeat(20));
  }
  writeFileSync(path.join(dir, '.dockerignore'), 'node_modules\n');
  writeFileSync(path.join(dir, 'Dockerfile'), `FROM ${BUSYBOX_IMAGE}\nCOPY . /ctx\nRUN find /ctx -type f | wc -l\n`);
  return dir;
}

/** Two processes spinning on a core each until stopped (the loaded runs). */
function busyLoops(): { stop(): void } {
  const children: ChildProcess[] = [0, 1].map(() => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
  return { stop: () => children.forEach((c) => c.kill('SIGKILL')) };
}

/** Runs `code` (a %deploy or %rollback line) with back-to-back requests through the proxy across it. */
async function measureCutover(k: TestKernel, port: number, code: string, newBody: string, kind: Cutover['kind'], load: Cutover['load']): Promise<Cutover> {
  const loop = requestLoop(port, { pauseMs: 0, maxMs: 300_000 });
  const t0 = Date.now();
  const r = await k.client.execute(`const d = ${code}\nd.switchMs`, {}, 240_000);
  const wholeMs = Date.now() - t0;
  await loop.reached(MIN_REQUESTS);
  const stats = await loop.stop();
  if (r.reply.content.status !== 'ok') throw new Error(`${code}: ${String(r.reply.content.evalue)}`);
  const switchMs = Number((r.outputs.find((m) => m.header.msg_type === 'execute_result')?.content.data as Record<string, string> | undefined)?.['text/plain']);
  const servingAt = stats.firstAt.get(newBody);
  if (servingAt === undefined) throw new Error(`${code}: the loop never saw "${newBody}" (it saw ${[...stats.bodies].join(', ')})`);
  return { kind, load, requests: stats.total, failed: stats.failed, toServingMs: servingAt - t0, wholeMs, switchMs };
}

/** `rounds` of (deploy, rollback) idle then (deploy, rollback) under load, after `runs` build pairs. */
export async function dockerBench(runs: number, rounds: number): Promise<DockerBench> {
  await ensureDocker();
  await ensureBaseImages();
  await ensureProxyImage();
  const files = 10_000;
  const ignoredFiles = 20_000;
  const context = makeContext(files, ignoredFiles);
  let k = await startTestKernel();
  const service = `opsbook-bench-${process.pid}`;
  try {
    const cliMs: number[] = [];
    const buildMs: number[] = [];
    for (let i = 0; i < runs; i++) {
      const c0 = performance.now();
      execFileSync('docker', ['build', '--no-cache', '-q', '--label', LABEL, '-t', 'opsbook-bench/cli:latest', context], { env: { ...process.env, DOCKER_BUILDKIT: '0' }, stdio: 'ignore' });
      cliMs.push(performance.now() - c0);
      const b0 = performance.now();
      const r = await k.client.execute(`%build ${context} --no-cache --label ${LABEL} -t opsbook-bench/magic:latest`, {}, 300_000);
      buildMs.push(performance.now() - b0);
      if (r.reply.content.status !== 'ok') throw new Error(`%build failed: ${String(r.reply.content.evalue)}`);
    }

    await k.stop();
    k = await startTestKernel({ env: { OPSBOOK_PROXY_IMAGE: await ensureProxyImage() } });
    const port = await freePort();
    const images = ['1', '2'].map((v) => `opsbook-bench/app:${v}-${process.pid}`);
    const bodies = ['bench-1', 'bench-2'].map((v) => `hello from opsbook-sample-app ${v}`);
    for (const [i, image] of images.entries()) await buildSampleApp(image, { version: `bench-${i + 1}`, labels: [LABEL] });
    const deploy = (image: string): string => `%deploy ${image} --name ${service} -p 127.0.0.1:${port}:8080 --wait 60s --yes`;
    const first = await k.client.execute(deploy(images[0]), {}, 240_000); // nothing to cut over from yet
    if (first.reply.content.status !== 'ok') throw new Error(`first %deploy: ${String(first.reply.content.evalue)}`);
    const cutovers: Cutover[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const load of ['idle', 'two busy loops'] as const) {
        const busy = load === 'idle' ? undefined : busyLoops();
        try {
          cutovers.push(await measureCutover(k, port, deploy(images[1]), bodies[1], 'deploy', load));
          cutovers.push(await measureCutover(k, port, `%rollback ${service} --yes`, bodies[0], 'rollback', load));
        } finally {
          busy?.stop();
        }
      }
    }
    return { files, ignoredFiles, cliMs, buildMs, ratio: median(buildMs) / median(cliMs), cutovers };
  } finally {
    await k.stop();
    rmSync(context, { recursive: true, force: true });
    // the service's versions, records and proxy carry its label, its network too
    await removeByLabel(`opsbook.service=${service}`);
    await removeByLabel(LABEL);
  }
}

/** The README's figure for the stop/start cutover that %deploy did before the proxy (1,204 ms median gap). */
const BEFORE_GAP_MS = 1204;

export function dockerRows(b: DockerBench): { metric: string; value: string; target: string; pass: boolean | undefined }[] {
  const of = (kind: Cutover['kind'], load: Cutover['load']) => b.cutovers.filter((c) => c.kind === kind && c.load === load);
  const failedRow = (kind: Cutover['kind'], load: Cutover['load']) => {
    const runs = of(kind, load);
    const failed = runs.reduce((n, c) => n + c.failed, 0);
    return {
      metric: `local ${kind === 'deploy' ? '`%deploy` v1→v2' : '`%rollback` v2→v1'} through the proxy, ${load === 'idle' ? 'idle machine' : 'two busy-loop processes on both cores'}: failed of ≥ ${MIN_REQUESTS.toLocaleString('en-US')} back-to-back requests`,
      value: `${runs.map((c) => c.failed).join(', ')} of ${runs.map((c) => c.requests.toLocaleString('en-US')).join(', ')}`,
      target: '0',
      pass: runs.length > 0 && failed === 0,
    };
  };
  const ms = (values: number[]) => `${median(values).toLocaleString('en-US', { maximumFractionDigits: 0 })} ms`;
  const deploys = (load: Cutover['load']) => of('deploy', load);
  return [
    { metric: `%build vs docker build, ${b.files.toLocaleString('en-US')} files + ${b.ignoredFiles.toLocaleString('en-US')} ignored, --no-cache, median of ${b.cliMs.length}`, value: `${median(b.buildMs).toFixed(0)} / ${median(b.cliMs).toFixed(0)} ms = ${b.ratio.toFixed(3)}×`, target: '≤ 1.05×', pass: b.ratio <= 1.05 },
    failedRow('deploy', 'idle'),
    failedRow('deploy', 'two busy loops'),
    failedRow('rollback', 'idle'),
    failedRow('rollback', 'two busy loops'),
    { metric: '`%deploy` sent → v2 answering through the proxy, idle (before the proxy: the service down for a 1,204 ms gap in every deploy)', value: ms(deploys('idle').map((c) => c.toServingMs)), target: '—', pass: undefined },
    { metric: '… the same with two busy loops', value: ms(deploys('two busy loops').map((c) => c.toServingMs)), target: '—', pass: undefined },
    { metric: '… the whole `%deploy` (gate, switch, drain, old version stopped), idle / busy', value: `${ms(deploys('idle').map((c) => c.wholeMs))} / ${ms(deploys('two busy loops').map((c) => c.wholeMs))}`, target: '—', pass: undefined },
    { metric: `… the switch as recorded (gate passed → proxy confirmed), idle / busy; gap before: ${BEFORE_GAP_MS.toLocaleString('en-US')} ms`, value: `${ms(deploys('idle').map((c) => c.switchMs))} / ${ms(deploys('two busy loops').map((c) => c.switchMs))}, no gap`, target: '—', pass: undefined },
  ];
}
