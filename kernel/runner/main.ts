// `opsbook run <in.ipynb> [out.ipynb] ...`, start to end: check the arguments, read and parameterize the notebook,
// read the Pushgateway baseline, start the kernel, run the cells, push the metrics, shut the kernel down, write
// the HTML report, and turn what happened into an exit code (0 ok, 1 a cell failed, 2 usage/setup, 3 push failed,
// 130/143 stopped by SIGINT/SIGTERM). Expected failures are one line on stderr, never a stack trace.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ParameterPair } from './argv';
import { EXIT, SetupError, UsageError, messageOf } from './errors';
import { renderReport } from './html-report';
import { freePorts } from '../protocol/connection';
import { KernelProcess, launchKernel } from './launch';
import {
  Notebook,
  defaultOutputPath,
  ensurePapermillMetadata,
  notebookName,
  notebookPapermill,
  readNotebook,
  removeErrorMarkers,
  startRun,
  writeAtomic,
  writeNotebook,
} from './notebook';
import { Parameters, collectParameters, declaredParameters, injectParameters } from './parameters';
import { BaselineSample, PushError, baselineAsText, normalizeUrl, push, readBaseline, runnerMetrics, scrapeKernel } from './pushgateway';
import { NotebookRun, RunResult, describeFailure } from './run';

/** The options of `opsbook run` as commander hands them over, plus the -p/-r pairs taken out of argv first. */
export interface RunCommandOptions {
  notebook: string;
  output?: string;
  pairs: ParameterPair[];
  /** Only set when a -p/-r reached commander without its two values. */
  parameters?: string;
  parametersRaw?: string;
  parametersYaml?: string[];
  parametersFile?: string[];
  timeout?: string;
  startTimeout?: string;
  cwd?: string;
  html?: string;
  pushgateway?: string;
  logOutput?: boolean;
}

/**
 * The kernel `opsbook run` starts, as the composition root (kernel/cli.ts) describes it from the kernelspec it
 * installs: the runner is a client and reads nothing from the kernel's own modules.
 */
export interface KernelToRun {
  /** The built CLI (dist/kernel/cli.js), started as `node <cli> kernel -f <connection file>`. */
  cli: string;
  /** The kernelspec's name, display name and language, for a notebook saved without a kernelspec. */
  name: string;
  displayName: string;
  language: string;
  interruptMode: 'message' | 'signal';
  /** The kernel's version, recorded in the notebook's papermill metadata. */
  version: string;
}

export interface Streams {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const INTERRUPT_GRACE_MS = 5000;
const IOPUB_GRACE_MS = 10_000;
const DEFAULT_START_TIMEOUT_S = 60;

interface Plan {
  input: string;
  output: string;
  name: string;
  kernelCwd: string;
  timeoutMs?: number;
  startTimeoutMs: number;
  html?: string;
  pushgateway?: string;
  logOutput: boolean;
}

function seconds(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} takes a number of seconds above 0, not ${JSON.stringify(value)}`);
  return n;
}

function folderOf(file: string, flag: string): void {
  const dir = path.dirname(file);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`${flag} ${file}: the folder ${dir} does not exist`);
}

function plan(opts: RunCommandOptions): Plan {
  if (opts.parameters !== undefined || opts.parametersRaw !== undefined) throw new UsageError('-p and -r take a name and a value: -p NAME VALUE');
  const input = path.resolve(opts.notebook);
  const output = opts.output ? path.resolve(opts.output) : defaultOutputPath(opts.notebook);
  const timeout = seconds(opts.timeout, '--timeout');
  const startTimeout = seconds(opts.startTimeout, '--start-timeout') ?? DEFAULT_START_TIMEOUT_S;
  let kernelCwd = path.dirname(input);
  if (opts.cwd !== undefined) {
    kernelCwd = path.resolve(opts.cwd);
    if (!existsSync(kernelCwd) || !statSync(kernelCwd).isDirectory()) throw new UsageError(`--cwd ${opts.cwd} is not a folder`);
  }
  const html = opts.html === undefined ? undefined : path.resolve(opts.html);
  if (html) folderOf(html, '--html');
  folderOf(output, 'the output notebook');
  return {
    input,
    output,
    name: notebookName(input),
    kernelCwd,
    timeoutMs: timeout === undefined ? undefined : timeout * 1000,
    startTimeoutMs: startTimeout * 1000,
    html,
    pushgateway: opts.pushgateway === undefined ? undefined : normalizeUrl(opts.pushgateway),
    logOutput: opts.logOutput === true,
  };
}

function readParameters(opts: RunCommandOptions): Parameters {
  const files = (opts.parametersFile ?? []).map((file): [string, string] => {
    try {
      return [file, readFileSync(file, 'utf8')];
    } catch (e) {
      throw new UsageError(`cannot read parameters file ${file}: ${(e as NodeJS.ErrnoException).code ?? messageOf(e)}`);
    }
  });
  return collectParameters({ files, yamls: opts.parametersYaml ?? [], pairs: opts.pairs });
}

/** papermill's parameterize_notebook, with its warnings. */
function parameterize(nb: Notebook, params: Parameters, err: (line: string) => void): void {
  const declared = declaredParameters(nb);
  notebookPapermill(nb).default_parameters = declared;
  if (Object.keys(params).length === 0) return;
  const where = injectParameters(nb, params);
  if (where === 'top') err('the notebook has no cell tagged "parameters": the parameters go into a new cell at the top');
  if (Object.keys(declared).length > 0) {
    for (const name of Object.keys(params)) if (!(name in declared)) err(`passed unknown parameter: ${name} (the "parameters" cell does not declare it)`);
  }
  notebookPapermill(nb).parameters = params;
}

/** Every cell runs on opsbook; a notebook saved for another kernel says so, one without a kernelspec gets ours. */
function checkKernelspec(nb: Notebook, kernel: KernelToRun, err: (line: string) => void): void {
  const spec = nb.metadata.kernelspec as { name?: unknown; language?: unknown } | undefined;
  if (!spec || typeof spec !== 'object') {
    nb.metadata.kernelspec = { name: kernel.name, display_name: kernel.displayName, language: kernel.language };
  } else if (typeof spec.language === 'string' && spec.language.toLowerCase() !== kernel.language) {
    err(`the notebook was saved for a ${spec.language} kernel (${String(spec.name)}); opsbook run runs its cells as TypeScript on the opsbook kernel`);
  }
}

/** The Pushgateway part of a run: baseline before, push after. */
class MetricsPush {
  readonly port: Promise<number> = freePorts(1).then(([p]) => p);
  private baselineDir: string | undefined;
  baseline: BaselineSample[] = [];

  constructor(readonly url: string, readonly notebook: string) {}

  /** Checks the Pushgateway and writes the baseline file; the kernel's environment for it. */
  async prepare(): Promise<NodeJS.ProcessEnv> {
    this.baseline = await readBaseline(this.url, this.notebook);
    this.baselineDir = mkdtempSync(path.join(os.tmpdir(), 'opsbook-run-metrics-'));
    const file = path.join(this.baselineDir, 'baseline.json');
    writeFileSync(file, JSON.stringify(this.baseline));
    return { OPSBOOK_METRICS_BASELINE: file, OPSBOOK_METRICS_PORT: String(await this.port) };
  }

  /** Kernel metrics (or, when the kernel cannot be scraped, the baseline unchanged) plus the runner's gauges. */
  async push(kernel: KernelProcess | undefined, result: RunResult, success: boolean, startedAt: Date, warn: (line: string) => void): Promise<void> {
    let kernelText: string;
    try {
      if (!kernel?.alive) throw new Error('the kernel is not running');
      kernelText = await scrapeKernel(await this.port);
    } catch (e) {
      warn(`could not read the kernel's metrics (${messageOf(e)}); pushing the previous counters unchanged`);
      kernelText = baselineAsText(this.baseline);
    }
    const endedAt = new Date();
    const gauges = await runnerMetrics({ endedAt, success, durationSeconds: (endedAt.getTime() - startedAt.getTime()) / 1000, cells: result.cells });
    await push(this.url, this.notebook, `${kernelText.replace(/\n*$/, '\n')}${gauges}`);
  }

  cleanup(): void {
    if (this.baselineDir) rmSync(this.baselineDir, { recursive: true, force: true });
  }
}

const SIGNAL_EXIT: Partial<Record<NodeJS.Signals, number>> = { SIGINT: EXIT.sigint, SIGTERM: EXIT.sigterm };

export async function runCommand(opts: RunCommandOptions, kernelToRun: KernelToRun, streams: Streams = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) }): Promise<number> {
  const err = (line: string) => streams.stderr(`opsbook run: ${line}\n`);
  let metrics: MetricsPush | undefined;
  let kernel: KernelProcess | undefined;
  let run: NotebookRun | undefined;
  let signal: NodeJS.Signals | undefined;
  const abort = new AbortController();
  const onSignal = (s: NodeJS.Signals) => {
    if (signal) {
      // a second signal: no more waiting
      err(`${s} again: killing the kernel`);
      kernel?.kill();
      return;
    }
    signal = s;
    err(`${s}: interrupting the kernel, saving what ran, shutting down`);
    abort.abort();
    run?.stop(s);
  };
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    const p = plan(opts);
    const nb = readNotebook(p.input);
    const params = readParameters(opts);
    ensurePapermillMetadata(nb, kernelToRun.version);
    checkKernelspec(nb, kernelToRun, err);
    removeErrorMarkers(nb);
    parameterize(nb, params, err);

    let kernelEnv: NodeJS.ProcessEnv = {};
    if (p.pushgateway) {
      metrics = new MetricsPush(p.pushgateway, p.name);
      kernelEnv = await metrics.prepare();
    }

    const startedAt = new Date();
    startRun(nb, { input: p.input, output: p.output }, startedAt.toISOString());
    const save = () => writeNotebook(p.output, nb);
    try {
      save();
    } catch (e) {
      throw new SetupError(`cannot write the output notebook ${p.output}: ${(e as NodeJS.ErrnoException).code ?? messageOf(e)}`);
    }
    err(`${p.input} -> ${p.output}`);
    if (signal) return SIGNAL_EXIT[signal] ?? EXIT.sigint;

    try {
      kernel = await launchKernel({
        cli: kernelToRun.cli,
        interruptMode: kernelToRun.interruptMode,
        kernelName: kernelToRun.name,
        cwd: p.kernelCwd,
        env: kernelEnv,
        startTimeoutMs: p.startTimeoutMs,
        onOutput: (t) => streams.stderr(t),
        signal: abort.signal,
      });
    } catch (e) {
      if (signal) return SIGNAL_EXIT[signal] ?? EXIT.sigint;
      throw e instanceof SetupError ? new SetupError(`${e.message}\nopsbook run: no cell ran; the notebook is unchanged in ${p.output}`) : e;
    }
    if (kernel.languageInfo) nb.metadata.language_info = kernel.languageInfo;

    run = new NotebookRun(nb, kernel, { timeoutMs: p.timeoutMs, interruptGraceMs: INTERRUPT_GRACE_MS, iopubGraceMs: IOPUB_GRACE_MS }, {
      save,
      progress: (line) => streams.stderr(`${line}\n`),
      stream: p.logOutput ? (name, text) => (name === 'stderr' ? streams.stderr(text) : streams.stdout(text)) : undefined,
    });
    if (signal) run.stop(signal);
    const result = await run.run();
    const { outcome } = result;

    let code: number = EXIT.ok;
    if (outcome.kind === 'failed') {
      code = EXIT.cellFailed;
      streams.stderr(`${describeFailure(outcome.failure, p.output)}\n`);
    } else if (outcome.kind === 'interrupted') {
      code = SIGNAL_EXIT[outcome.signal] ?? EXIT.sigint;
      err(`stopped by ${outcome.signal}; what ran is in ${p.output}`);
    } else {
      const how = outcome.kind === 'stopped' ? ` (stopped early on purpose, SystemExit 0: ${result.cells.pending} cell(s) not run)` : '';
      err(`done in ${(notebookPapermill(nb).duration ?? 0).toFixed(1)} s${how}; the executed notebook is ${p.output}`);
    }

    if (metrics) {
      try {
        await metrics.push(kernel, result, code === EXIT.ok, startedAt, err);
        err(`pushed the run's metrics to ${metrics.url} (job="opsbook", notebook="${p.name}")`);
      } catch (e) {
        err(e instanceof PushError ? e.message : `could not push the run's metrics: ${messageOf(e)}`);
        if (code === EXIT.ok) code = EXIT.pushFailed;
      }
    }
    await kernel.shutdown();

    if (p.html) {
      try {
        writeAtomic(p.html, renderReport(nb, p.name));
        err(`HTML report: ${p.html}`);
      } catch (e) {
        err(`cannot write the HTML report ${p.html}: ${(e as NodeJS.ErrnoException).code ?? messageOf(e)}`);
        if (code === EXIT.ok) code = EXIT.setup;
      }
    }
    return code;
  } catch (e) {
    if (e instanceof UsageError || e instanceof SetupError) {
      err(e.message);
      return EXIT.setup;
    }
    err(`unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return EXIT.setup;
  } finally {
    await kernel?.shutdown();
    metrics?.cleanup();
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}
