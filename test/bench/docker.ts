// Docker benchmarks of issue 5, against the real engine: (1) %build through a real kernel against the docker
// CLI's `docker build` on the same context (10,000 small files, a large node_modules that .dockerignore
// excludes), --no-cache, alternating, median of 3; (2) the local cutover gap of %deploy: a request loop counts
// refused requests while the sample app is deployed, version after version.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startTestKernel } from '../support/kernel-client';
import { freePort } from '../support/kernel-process';
import { BUSYBOX_IMAGE, ensureBaseImages } from '../../notebooks/stack/base-images';
import { ensureDocker } from '../../notebooks/stack/engine';
import { removeByLabel } from '../support/docker';
import { buildSampleApp } from '../support/sample-image';
import { median } from './stats';

export interface DockerBench {
  files: number;
  ignoredFiles: number;
  cliMs: number[];
  buildMs: number[];
  ratio: number;
  cutover: Array<{ gapMs: number; refused: number; requests: number }>;
}

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

function get(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', timeout: 1000, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

export async function dockerBench(runs: number, deploys: number): Promise<DockerBench> {
  await ensureDocker();
  await ensureBaseImages();
  const files = 10_000;
  const ignoredFiles = 20_000;
  const context = makeContext(files, ignoredFiles);
  const k = await startTestKernel();
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

    const port = await freePort();
    const service = `opsbook-bench-${process.pid}`;
    const images = ['1', '2'].map((v) => `opsbook-bench/app:${v}-${process.pid}`);
    for (const [i, image] of images.entries()) await buildSampleApp(image, { version: String(i + 1), labels: [LABEL] });
    const cutover: DockerBench['cutover'] = [];
    for (let i = 0; i <= deploys; i++) {
      let running = true;
      let requests = 0;
      let refused = 0;
      const loop = (async () => {
        while (running) {
          const status = await get(port);
          requests += 1;
          if (status !== 200) refused += 1;
        }
      })();
      const r = await k.client.execute(`const d = %deploy ${images[i % 2]} --name ${service} -p ${port}:8080 --health-url /healthz --wait 30s --yes\nd.cutoverGapMs`, {}, 120_000);
      running = false;
      await loop;
      if (r.reply.content.status !== 'ok') throw new Error(`%deploy failed: ${String(r.reply.content.evalue)}`);
      const gap = Number((r.outputs.find((m) => m.header.msg_type === 'execute_result')?.content.data as Record<string, string>)['text/plain']);
      if (i > 0) cutover.push({ gapMs: gap, refused, requests }); // the first deploy has nothing to cut over from
    }
    execFileSync('sh', ['-c', `docker rm -f $(docker ps -aq --filter label=opsbook.service=${service}) >/dev/null 2>&1; true`]);
    return { files, ignoredFiles, cliMs, buildMs, ratio: median(buildMs) / median(cliMs), cutover };
  } finally {
    await k.stop();
    rmSync(context, { recursive: true, force: true });
    await removeByLabel(LABEL);
  }
}

export function dockerRows(b: DockerBench): { metric: string; value: string; target: string; pass: boolean | undefined }[] {
  const gaps = b.cutover.map((c) => c.gapMs);
  const refused = b.cutover.map((c) => c.refused);
  return [
    { metric: `%build vs docker build, ${b.files.toLocaleString('en-US')} files + ${b.ignoredFiles.toLocaleString('en-US')} ignored, --no-cache, median of ${b.cliMs.length}`, value: `${median(b.buildMs).toFixed(0)} / ${median(b.cliMs).toFixed(0)} ms = ${b.ratio.toFixed(3)}×`, target: '≤ 1.05×', pass: b.ratio <= 1.05 },
    { metric: `%deploy local cutover gap (old stopped → new answering), median of ${gaps.length}`, value: `${median(gaps).toFixed(0)} ms`, target: '—', pass: undefined },
    { metric: '… requests refused during each cutover (loop of sequential requests)', value: `${refused.join(', ')} of ${b.cutover.map((c) => c.requests).join(', ')}`, target: '—', pass: undefined },
  ];
}
