// What both browser suites start before they open notebooks/quickstart.ipynb: a real Prometheus scraping a live
// target (so `up` has samples for the %promql chart), one opsbook-managed busybox container on the real Docker engine
// (so %ps shows a table with a row we know), an isolated Jupyter with the built kernel installed, and a scratch
// folder holding a copy of the notebook. Also the check of what must be installed: with CI=true a missing part is a
// failure naming the apt command, elsewhere the suite is skipped with a warning.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { get } from 'node:http';
import * as path from 'node:path';
import { BUSYBOX_IMAGE, ensureBaseImages } from '../../notebooks/stack/base-images';
import { docker } from '../../notebooks/stack/commands';
import { dockerAvailable, dockerStartable, dockerUnavailableMessage, ensureDocker } from '../../notebooks/stack/engine';
import { removeByLabel } from '../support/docker';
import { chromiumProblem } from '../support/browser';
import { Jupyter, PYTHON, installKernel, isolatedJupyter, removeIsolatedJupyters } from '../support/jupyter-env';
import { REPO_ROOT } from '../support/kernel-process';
import { startLiveTarget, LiveTarget } from '../support/live-target';
import { notebookServerProblem } from '../support/notebook-server';
import { PROMETHEUS_BIN } from '../../notebooks/stack/prometheus';
import { prometheusAvailable, startPrometheus, PrometheusHandle } from '../support/prometheus';
import { TEST_LABEL } from '../support/sample-image';

export const QUICKSTART = path.join(REPO_ROOT, 'notebooks', 'quickstart.ipynb');
export const MUST_RUN = process.env.CI === 'true';

/** Everything missing for the browser suites, each with the command that installs it; [] when all is there. */
export function missingParts(needs: { notebookServer?: boolean; nbconvert?: boolean }): string[] {
  const problems: string[] = [];
  const chromium = chromiumProblem();
  if (chromium) problems.push(chromium);
  if (needs.notebookServer) {
    const server = notebookServerProblem();
    if (server) problems.push(server);
  }
  if (needs.nbconvert && spawnSync(PYTHON, ['-c', 'import nbconvert'], { timeout: 30_000, stdio: 'ignore' }).status !== 0) {
    problems.push(`${PYTHON} -m nbconvert does not load: apt-get install -y --no-install-recommends jupyter-nbconvert`);
  }
  if (!prometheusAvailable()) problems.push(`${PROMETHEUS_BIN} is missing: apt-get install -y --no-install-recommends prometheus`);
  if (!dockerAvailable() && !dockerStartable()) problems.push(dockerUnavailableMessage());
  return problems;
}

/**
 * `describe` when the suite can run (or must: CI=true), else `describe.skip` after a warning. With CI=true and
 * parts missing, the suite runs and its beforeAll fails with `problems` (see requireParts).
 */
export function describeWhenInstalled(suite: string, problems: string[]): jest.Describe {
  if (problems.length === 0 || MUST_RUN) return describe;
  console.warn(`${suite}: SKIPPED, missing:\n- ${problems.join('\n- ')}\nWith CI=true this suite fails instead.`);
  return describe.skip;
}

/** Throws (so every test of the suite fails) when parts are missing; the message lists each fix. */
export function requireParts(problems: string[]): void {
  if (problems.length > 0) {
    throw new Error(`the browser suite cannot run here${MUST_RUN ? ' (CI=true: never skipped)' : ''}; fix:\n- ${problems.join('\n- ')}\n(notebooks/stack/install-system-deps.sh installs all of them)`);
  }
}

export interface QuickstartStack {
  jupyter: Jupyter;
  prometheus: PrometheusHandle;
  live: LiveTarget;
  /** The opsbook.service label of the container %ps must list. */
  service: string;
  /** Scratch folder holding quickstart.ipynb (inside the isolated Jupyter's folder). */
  notebookDir: string;
  notebookFile: string;
  /**
   * Environment for Jupyter tools and the kernels they start: the isolated Jupyter's, plus PROMETHEUS_URL and
   * OPSBOOK_E2E_MARKER=marker, which every process started with it inherits (see processesWithMarker).
   */
  env: NodeJS.ProcessEnv;
  marker: string;
  /** Stops Prometheus and the target, removes the container and the isolated Jupyter. Safe to call more than once. */
  stop(): Promise<void>;
}

/** Starts everything quickstart.ipynb talks to. `name` makes the container and labels unique to one suite. */
export async function startQuickstartStack(name: string): Promise<QuickstartStack> {
  const runLabel = `opsbook.test.run=e2e-${name}-${process.pid}`;
  const service = `e2e-${name}-${process.pid}`;
  let live: LiveTarget | undefined;
  let prometheus: PrometheusHandle | undefined;
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      await prometheus?.stop().catch(() => undefined);
      await live?.stop().catch(() => undefined);
      await removeByLabel(runLabel).catch(() => undefined);
      removeIsolatedJupyters();
    })());
  try {
    await ensureDocker();
    await ensureBaseImages();
    const labels = ['opsbook.managed=true', `opsbook.service=${service}`, 'opsbook.version=e2e', TEST_LABEL, runLabel];
    await docker(['run', '-d', '--name', service, ...labels.flatMap((l) => ['--label', l]), BUSYBOX_IMAGE, 'sleep', '600'], 60_000);
    live = await startLiveTarget();
    prometheus = await startPrometheus({ scrapeTargets: [live.hostPort] });
    const jupyter = isolatedJupyter();
    await installKernel(jupyter);
    const notebookDir = path.join(jupyter.root, 'notebooks');
    mkdirSync(notebookDir);
    const notebookFile = path.join(notebookDir, 'quickstart.ipynb');
    copyFileSync(QUICKSTART, notebookFile);
    // a chart needs a few samples of `up`: Prometheus scrapes the target every second
    await waitForSamples(prometheus.url, 'up', 3, 20_000);
    const marker = `${name}-${process.pid}-${randomBytes(6).toString('hex')}`;
    const env: NodeJS.ProcessEnv = { ...jupyter.env, PROMETHEUS_URL: prometheus.url, [MARKER_VARIABLE]: marker };
    return { jupyter, prometheus, live, service, notebookDir, notebookFile, env, marker, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

const MARKER_VARIABLE = 'OPSBOOK_E2E_MARKER';

/**
 * Live processes whose environment carries OPSBOOK_E2E_MARKER=marker: whatever a tool started with the stack's env
 * left running (a kernel started by `opsbook run` has no folder of ours on its command line, but inherits the env).
 * Waits up to `graceMs` for them to end; returns "pid: command line" for each one left.
 */
export async function processesWithMarker(marker: string, graceMs = 5000): Promise<string[]> {
  const needle = `${MARKER_VARIABLE}=${marker}\0`;
  const find = (): string[] => {
    const found: string[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
      try {
        if (!`${readFileSync(`/proc/${entry}/environ`, 'utf8')}\0`.includes(needle)) continue;
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        if (stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z') continue;
        found.push(`${entry}: ${readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim()}`);
      } catch {
        // ended while we looked, or not ours to read
      }
    }
    return found;
  };
  const deadline = Date.now() + graceMs;
  let left = find();
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    left = find();
  }
  return left;
}

/** Waits until `count_over_time(<metric>[5m])` reaches `samples` for some series. */
async function waitForSamples(url: string, metric: string, samples: number, timeoutMs: number): Promise<void> {
  const query = `${url}/api/v1/query?query=${encodeURIComponent(`max(count_over_time(${metric}[5m]))`)}`;
  const deadline = Date.now() + timeoutMs;
  let seen = 'no answer';
  while (Date.now() < deadline) {
    seen = await getText(query).catch((error: Error) => error.message);
    const match = /"value":\[[\d.]+,"(\d+)"\]/.exec(seen);
    if (match && Number(match[1]) >= samples) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`Prometheus at ${url} had fewer than ${samples} samples of ${metric} after ${timeoutMs} ms; last answer: ${seen.slice(0, 300)}`);
}

function getText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = get(url, { timeout: 2000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve(body));
    });
    request.on('timeout', () => request.destroy(new Error(`no answer from ${url} within 2 s`)));
    request.on('error', reject);
  });
}
