// An isolated Jupyter for tests: commands run in their own process group with a timeout, a Jupyter that sees only
// the kernelspec a test installs (fresh JUPYTER_PATH, data, runtime, config and HOME), and the kernels such a
// Jupyter left running. Used by the Jupyter-client, notebook and browser suites.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLI } from './kernel-process';

/** Debian's python, which has the Jupyter packages (the python3 first on PATH may be another one). */
export const PYTHON = '/usr/bin/python3';
export const JUPYTER = '/usr/bin/jupyter';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command to completion (own process group, killed as a group on timeout), feeding `input` on stdin. */
export function run(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: options.env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
    const timer = setTimeout(() => {
      stderr += `\n[test] ${command} ${args.join(' ')} timed out after ${options.timeoutMs ?? 120_000} ms and was killed\n`;
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // already gone
      }
    }, options.timeoutMs ?? 120_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, stdout, stderr: `${stderr}\ncould not start ${command}: ${e.message}`, ms: Date.now() - started });
    });
    // Resolve on exit, after the pipes drain; a kernel that outlives the tool keeps our pipes open, so do
    // not wait for 'close' longer than a moment (expectNoKernelLeft reports such kernels).
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const done = () => resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
      const grace = setTimeout(done, 1000);
      child.on('close', () => {
        clearTimeout(grace);
        done();
      });
    });
  });
}

export function describeRun(what: string, r: RunResult): string {
  return `${what}: exit ${r.code}${r.signal ? ` (${r.signal})` : ''} after ${r.ms} ms\n--- stdout ---\n${r.stdout.slice(-6000)}\n--- stderr ---\n${r.stderr.slice(-6000)}`;
}

/** Pids of live (non-zombie) processes whose command line mentions `needle` (kernels started from our temp dirs). */
export function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (cmdline.includes(needle) && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z') pids.push(Number(d));
    } catch {
      // ended while we looked
    }
  }
  return pids;
}

export interface Jupyter {
  root: string;
  prefix: string;
  /** Where `opsbook install --prefix` puts the kernelspec. */
  kernelDir: string;
  env: NodeJS.ProcessEnv;
}

const roots: string[] = [];

/**
 * A Jupyter that sees only what this test installs: JUPYTER_PATH is the temp prefix's share/jupyter, and
 * data, runtime, config and IPython dirs (and HOME) are fresh, so ~/.local/share/jupyter/kernels/opsbook or
 * user config on this machine cannot stand in for the kernelspec under test.
 */
export function isolatedJupyter(): Jupyter {
  const root = mkdtempSync(path.join(os.tmpdir(), 'opsbook-jupyter-'));
  roots.push(root);
  const prefix = path.join(root, 'prefix');
  const dirs = { data: path.join(root, 'data'), runtime: path.join(root, 'runtime'), config: path.join(root, 'config'), ipython: path.join(root, 'ipython'), home: path.join(root, 'home') };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    JUPYTER_PATH: path.join(prefix, 'share', 'jupyter'),
    JUPYTER_DATA_DIR: dirs.data,
    JUPYTER_RUNTIME_DIR: dirs.runtime,
    JUPYTER_CONFIG_DIR: dirs.config,
    JUPYTER_NO_CONFIG: '1',
    IPYTHONDIR: dirs.ipython,
    HOME: dirs.home,
    PYDEVD_DISABLE_FILE_VALIDATION: '1',
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONUNBUFFERED: '1',
  };
  for (const k of ['PYTHONPATH', 'PYTHONHOME', 'JUPYTER_PREFER_ENV_PATH', 'JUPYTER_CONFIG_PATH', 'XDG_DATA_HOME', 'XDG_CONFIG_HOME', 'XDG_RUNTIME_DIR', 'VIRTUAL_ENV', 'CONDA_PREFIX']) delete env[k];
  return { root, prefix, kernelDir: path.join(prefix, 'share', 'jupyter', 'kernels', 'opsbook'), env };
}

/** Installs the built kernel's kernelspec into the isolated Jupyter (`opsbook install --prefix`); throws on failure. */
export async function installKernel(j: Jupyter): Promise<RunResult> {
  const r = await run(process.execPath, [CLI, 'install', '--prefix', j.prefix], { env: j.env, timeoutMs: 30_000 });
  if (r.code !== 0 || !existsSync(path.join(j.kernelDir, 'kernel.json'))) throw new Error(describeRun('opsbook install --prefix', r));
  return r;
}

/** Ends the kernels the isolated Jupyters left running (by pid) and removes their folders; call from afterEach/afterAll. */
export function removeIsolatedJupyters(): void {
  for (const root of roots.splice(0)) {
    // A tool that failed may have left its kernel running: end exactly those processes, by pid.
    for (const pid of processesMentioning(root)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    rmSync(root, { recursive: true, force: true });
  }
}
