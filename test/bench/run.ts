// `npm run bench` entry: compares opsbook with ipykernel and tslab, prints the markdown table, writes test-results/bench.json.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { REPO_ROOT } from '../support/kernel-process';
import { KERNEL_NAMES, KernelName, KernelUnderTest, kernelAvailability } from './kernels';
import { attempt, coldStarts, completions, floods, interrupts, kernelInfoRoundTrips, roundTrips, typescriptCells } from './measure';
import { KernelResult, buildRows, markdown, notes } from './report';
import { Session } from './session';
import { inProcessCells } from './typescript-cell';
import { promqlBench, promqlRows } from './promql';
import { measureTranspilers } from './transpilers';
import { firstExecutes } from './first-executes';
import { dockerBench, dockerRows } from './docker';
import { swarmBench, swarmRows } from './deploy-swarm';
import { canaryBench, canaryRows } from './canary';

const CONFIG = {
  starts: 5,
  /** Executes of `1` through Debian's jupyter_client right after a fresh start (the kernel's warm-up competes). */
  firstExecutes: 300,
  firstExecutesTimeoutMs: 120_000,
  /**
   * Requests before the measured ones, the same for every kernel: Node (our client, opsbook, tslab) and CPython
   * settle after some hundreds of requests. The first `runs` of them are reported too, as "right after start".
   */
  warmup: 1000,
  runs: 500,
  kernelInfoRuns: 200,
  kernelInfoWarmup: 20,
  floodLines: 200_000, // × 100 bytes = 20,000,000 bytes
  floodRuns: 3,
  interrupts: 5,
  interruptWaitMs: 300,
  interruptGiveUpMs: 3000,
  startTimeoutMs: 30_000,
  executeTimeoutMs: 10_000,
  floodTimeoutMs: 90_000,
  /** opsbook only: new 200-line TypeScript cells (and as many re-runs), in-process and through the kernel. */
  typescriptCells: 20,
  completionProperties: 10_000,
  completionWarmup: 5,
  completionRuns: 50,
  /** %promql: conversions of the 100 x 1,000 answer after the first. */
  promqlRuns: 20,
  /** Docker: %build vs docker build pairs, and rounds of (%deploy, %rollback) idle then under load, each with ≥ 1,000 requests. */
  dockerBuildRuns: 3,
  dockerDeploys: 1,
  /** Swarm: rolling updates through the proxy on an idle machine, then with both cores busy. */
  swarmUpdates: 2,
  swarmLoadedUpdates: 1,
  /** Canary: failed canaries of a bad version at 10 %, each rolled back by its analysis. */
  canaryRollouts: 3,
};

/** Where tslab is installed and ipykernel keeps its IPython folder; never inside the repo. */
const CACHE_DIR = process.env.OPSBOOK_BENCH_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'opsbook-bench');

function progress(text: string): void {
  process.stderr.write(`[bench] ${text}\n`);
}

/** 1-minute load average: other work on the machine (tests, builds) shows in the numbers. */
function loadAverage(): string {
  return os.loadavg()[0].toFixed(2);
}

function selected(): KernelName[] {
  const wanted = (process.env.OPSBOOK_BENCH_KERNELS ?? KERNEL_NAMES.join(',')).split(',').map((s) => s.trim());
  return KERNEL_NAMES.filter((n) => wanted.includes(n));
}

async function benchKernel(kernel: KernelUnderTest, cwd: string): Promise<KernelResult> {
  const t0 = performance.now();
  const result: KernelResult = { name: kernel.name, label: kernel.label, available: true, interruptMode: kernel.interruptMode };
  if (kernel.name === 'opsbook') {
    // First, so that its first cell is the first this process transpiles.
    progress(`${kernel.label}: 200-line TypeScript cell in-process (rewriteCell + vm) ×${CONFIG.typescriptCells * 2 + 1}`);
    result.inProcessCell = await attempt(() => inProcessCells(CONFIG.typescriptCells));
  }
  progress(`${kernel.label}: ${CONFIG.starts} cold starts (+1 warm-up)`);
  result.coldStart = await attempt(() => coldStarts(kernel, cwd, CONFIG.starts, CONFIG.startTimeoutMs));
  progress(`${kernel.label}: ${CONFIG.firstExecutes} executes right after start through jupyter_client`);
  result.firstExecutes = await attempt(() => firstExecutes(kernel, cwd, CONFIG.firstExecutes, CONFIG.firstExecutesTimeoutMs));
  let session: Session;
  try {
    session = (await Session.launch(kernel, cwd, CONFIG.startTimeoutMs)).session;
  } catch (e) {
    const error = `could not start: ${(e as Error).message}`;
    result.execute = result.flood = result.interrupt = result.memory = { ok: false, error };
    if (kernel.name === 'opsbook') result.typescriptCell = result.completion = { ok: false, error };
    return result;
  }
  try {
    progress(`${kernel.label}: ${CONFIG.runs} execute round trips (+${CONFIG.warmup} warm-up)`);
    result.execute = await attempt(() => roundTrips(session, CONFIG.warmup, CONFIG.runs, CONFIG.executeTimeoutMs));
    result.kernelInfo = await attempt(() => kernelInfoRoundTrips(session, CONFIG.kernelInfoWarmup, CONFIG.kernelInfoRuns, CONFIG.executeTimeoutMs));
    if (kernel.name === 'opsbook') {
      progress(`${kernel.label}: 200-line TypeScript cells (a fresh kernel's first, then ${CONFIG.typescriptCells} new and ${CONFIG.typescriptCells} re-runs)`);
      result.typescriptCell = await attempt(() => typescriptCells(session, cwd, CONFIG.typescriptCells, CONFIG.startTimeoutMs, CONFIG.executeTimeoutMs));
      progress(`${kernel.label}: ${CONFIG.completionRuns} completions on ${CONFIG.completionProperties.toLocaleString('en-US')} properties`);
      result.completion = await attempt(() => completions(session, CONFIG.completionProperties, CONFIG.completionWarmup, CONFIG.completionRuns, CONFIG.executeTimeoutMs));
    }
    progress(`${kernel.label}: 20 MB of printed lines ×${CONFIG.floodRuns}`);
    result.flood = await attempt(() => floods(session, CONFIG.floodLines, CONFIG.floodRuns, CONFIG.floodTimeoutMs));
    progress(`${kernel.label}: ${CONFIG.interrupts} interrupts (${kernel.interruptMode})`);
    result.interrupt = await attempt(() => interrupts(session, CONFIG.interrupts, CONFIG.interruptWaitMs, CONFIG.interruptGiveUpMs));
    result.memory = await attempt(async () => session.memory());
  } finally {
    await session.kill();
  }
  result.wallMs = performance.now() - t0;
  progress(`${kernel.label}: done in ${(result.wallMs / 1000).toFixed(1)} s`);
  return result;
}

async function main(): Promise<void> {
  const started = performance.now();
  const loadStart = loadAverage();
  mkdirSync(CACHE_DIR, { recursive: true });
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'opsbook-bench-'));
  const results: KernelResult[] = [];
  try {
    for (const name of selected()) {
      progress(`${name}: checking availability`);
      const available = kernelAvailability(name, CACHE_DIR);
      if (!available.ok) {
        progress(`${name}: not available: ${available.reason}`);
        results.push({ name, label: name, available: false, reason: available.reason });
        continue;
      }
      results.push(await benchKernel(available.kernel, cwd));
    }
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }

  let promqlTable: string[] = [];
  let promqlMisses: string[] = [];
  if (selected().includes('opsbook') && process.env.OPSBOOK_BENCH_PROMQL !== '0') {
    progress('%promql: 100 series x 1,000 points from a real Prometheus, and a 10-chart notebook through nbconvert');
    const outcome = await attempt(() => promqlBench(CONFIG.promqlRuns));
    const prows = outcome.ok ? promqlRows(outcome.value) : [{ metric: '%promql benchmark', value: `failed: ${outcome.error}`, target: '', pass: false }];
    promqlTable = ['| %promql metric | opsbook | target | |', '|---|---:|---|---|', ...prows.map((r) => `| ${r.metric} | ${r.value} | ${r.target} | ${r.pass === undefined ? '' : r.pass ? 'PASS ✓' : '**FAIL** ✗'} |`)];
    promqlMisses = prows.filter((r) => r.pass === false).map((r) => r.metric);
    if (outcome.ok) {
      mkdirSync(path.join(REPO_ROOT, 'test-results'), { recursive: true });
      writeFileSync(path.join(REPO_ROOT, 'test-results', 'bench-promql.json'), JSON.stringify(outcome.value, null, 2));
    }
  }

  let dockerTable: string[] = [];
  let dockerMisses: string[] = [];
  if (selected().includes('opsbook') && process.env.OPSBOOK_BENCH_DOCKER !== '0') {
    progress('docker: %build vs docker build (10,000 files), %deploy and %rollback through the proxy with request loops, idle and loaded, against the real engine');
    const outcome = await attempt(() => dockerBench(CONFIG.dockerBuildRuns, CONFIG.dockerDeploys));
    const drows = outcome.ok ? dockerRows(outcome.value) : [{ metric: 'docker benchmark', value: `failed: ${outcome.error}`, target: '', pass: false }];
    dockerTable = ['| Docker metric | opsbook | target | |', '|---|---:|---|---|', ...drows.map((r) => `| ${r.metric} | ${r.value} | ${r.target} | ${r.pass === undefined ? '' : r.pass ? 'PASS ✓' : '**FAIL** ✗'} |`)];
    dockerMisses = drows.filter((r) => r.pass === false).map((r) => r.metric);
  }
  if (selected().includes('opsbook') && process.env.OPSBOOK_BENCH_SWARM !== '0') {
    progress('swarm: %deploy --swarm rolling updates through the proxy on a one-node Swarm, with a request loop');
    const outcome = await attempt(() => swarmBench(CONFIG.swarmUpdates, CONFIG.swarmLoadedUpdates));
    const srows = outcome.ok ? swarmRows(outcome.value) : [{ metric: 'swarm benchmark', value: `failed: ${outcome.error}`, target: '', pass: false }];
    if (dockerTable.length === 0) dockerTable = ['| Docker metric | opsbook | target | |', '|---|---:|---|---|'];
    dockerTable.push(...srows.map((r) => `| ${r.metric} | ${r.value} | ${r.target} | ${r.pass === undefined ? '' : r.pass ? 'PASS ✓' : '**FAIL** ✗'} |`));
    dockerMisses.push(...srows.filter((r) => r.pass === false).map((r) => r.metric));
  }
  if (selected().includes('opsbook') && process.env.OPSBOOK_BENCH_CANARY !== '0') {
    progress(`canary: ${CONFIG.canaryRollouts} failed canaries at 10 % rolled back by a Prometheus analysis, with a request loop's timeline`);
    const outcome = await attempt(() => canaryBench(CONFIG.canaryRollouts));
    const crows = outcome.ok ? canaryRows(outcome.value) : [{ metric: 'canary benchmark', value: `failed: ${outcome.error}`, target: '', pass: false }];
    if (dockerTable.length === 0) dockerTable = ['| Docker metric | opsbook | target | |', '|---|---:|---|---|'];
    dockerTable.push(...crows.map((r) => `| ${r.metric} | ${r.value} | ${r.target} | ${r.pass === undefined ? '' : r.pass ? 'PASS ✓' : '**FAIL** ✗'} |`));
    dockerMisses.push(...crows.filter((r) => r.pass === false).map((r) => r.metric));
    if (outcome.ok) {
      mkdirSync(path.join(REPO_ROOT, 'test-results'), { recursive: true });
      writeFileSync(path.join(REPO_ROOT, 'test-results', 'bench-canary.json'), JSON.stringify(outcome.value, null, 2));
    }
  }

  let transpilerTable: string[] = [];
  if (selected().includes('opsbook')) {
    progress('transpilers: sucrase, esbuild and TypeScript, each in a fresh process');
    const measured = await attempt(async () => measureTranspilers());
    transpilerTable = measured.ok
      ? ['| transpiler (200-line TypeScript cell) | load (fresh process) | first cell | p50 of 20 new cells | keeps the cell\'s lines |', '|---|---:|---:|---:|---|',
        ...measured.value.map((t) => `| ${t.name} ${t.version} | ${t.loadMs.toFixed(1)} ms | ${t.firstMs.toFixed(1)} ms | ${t.cell.p50.toFixed(2)} ms | ${t.sameLines ? 'yes' : 'no'} |`)]
      : [`transpilers: failed: ${measured.error}`];
  }

  const loadEnd = loadAverage();
  const rows = buildRows(results);
  const table = markdown(rows, results);
  const extra = notes(results);
  const misses = [...rows.filter((r) => r.verdict === 'FAIL').map((r) => r.metric), ...promqlMisses, ...dockerMisses];
  const out: string[] = [
    '',
    `## opsbook benchmark (${new Date().toISOString()}, node ${process.version}, ${os.cpus().length} CPUs, load average ${loadStart} at start, ${loadEnd} at end)`,
    '',
    table,
    '',
    'Interrupts: opsbook uses interrupt_mode "message" (interrupt_request on control); ipykernel and tslab have',
    'interrupt_mode "signal", so the bench sends SIGINT to the kernel process, as jupyter_client does.',
    `Times are end to end through one client (test/support/kernel-client.ts) over tcp on 127.0.0.1, from just before`,
    'the request is signed and sent to the arrival of the reply / idle status. ratio < 1 means opsbook is faster/smaller.',
  ];
  if (extra.length > 0) out.push('', 'Notes:', ...extra.map((n) => `- ${n}`));
  if (promqlTable.length > 0) out.push('', ...promqlTable);
  if (transpilerTable.length > 0) out.push('', ...transpilerTable);
  if (dockerTable.length > 0) out.push('', ...dockerTable);
  const opsRan = results.some((r) => r.name === 'opsbook' && r.available);
  const verdict = !opsRan ? 'opsbook was not run: no target checked.' : misses.length === 0 ? 'All opsbook targets met.' : `TARGETS MISSED (${misses.length}): ${misses.join('; ')}`;
  out.push('', verdict);
  const elapsed = (performance.now() - started) / 1000;
  out.push(`Bench wall time: ${elapsed.toFixed(1)} s.`);
  process.stdout.write(`${out.join('\n')}\n`);

  const file = path.join(REPO_ROOT, 'test-results', 'bench.json');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(
    file,
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, loadAverage: { start: loadStart, end: loadEnd }, config: CONFIG, elapsedSeconds: elapsed, rows, misses, notes: extra, kernels: results }, null, 2)}\n`,
  );
  process.stdout.write(`Results: ${path.relative(process.cwd(), file)}\n`);
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    // A crash of the bench itself is a bug, unlike a missed target.
    process.stderr.write(`[bench] crashed: ${e.stack ?? e.message}\n`);
    process.exit(1);
  },
);
