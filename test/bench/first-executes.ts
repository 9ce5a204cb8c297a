// The first executes right after start, as a frontend sends them: Debian's jupyter_client (first_executes.py)
// starts the kernel from a kernelspec, waits until it is ready, then times `runs` executes of the trivial cell
// back to back. Whatever the kernel still does after answering kernel_info (loading, warming up) shows here.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../support/kernel-process';
import type { KernelUnderTest } from './kernels';
import { Summary, summarize } from './stats';

const PYTHON = '/usr/bin/python3';
const DRIVER = path.join(REPO_ROOT, 'test', 'bench', 'first_executes.py');

export interface FirstExecutes {
  /** execute sent → its idle status, in the order sent. */
  samplesMs: number[];
  toIdle: Summary;
  /** Seconds from start_kernel to wait_for_ready returning. */
  readySeconds: number;
  notOk: number;
}

interface DriverReport {
  idle_ms: number[];
  ready_s: number;
  not_ok: number;
}

export async function firstExecutes(kernel: KernelUnderTest, cwd: string, runs: number, timeoutMs: number): Promise<FirstExecutes> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'opsbook-bench-jc-'));
  // a kernel that keeps a history writes it here, never into the user's
  const historyEnv = kernel.name === 'opsbook' ? { OPSBOOK_HISTORY_FILE: path.join(root, 'history.jsonl') } : {};
  const spec = { argv: kernel.argv, env: { ...kernel.env, ...historyEnv }, code: kernel.code.trivial };
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    JUPYTER_RUNTIME_DIR: path.join(root, 'runtime'),
    JUPYTER_DATA_DIR: path.join(root, 'data'),
    JUPYTER_CONFIG_DIR: path.join(root, 'config'),
    JUPYTER_NO_CONFIG: '1',
    OPSBOOK_BENCH_CWD: kernel.cwd ?? cwd,
  };
  try {
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(PYTHON, [DRIVER, JSON.stringify(spec), String(runs)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`${PYTHON}: ${e.message}`));
      });
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve({ code: c, stdout: out, stderr: err });
      });
    });
    const last = stdout.trim().split('\n').pop() ?? '';
    if (code !== 0 || !last.startsWith('{')) throw new Error(`first_executes.py exited with ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
    const report = JSON.parse(last) as DriverReport;
    return { samplesMs: report.idle_ms, toIdle: summarize(report.idle_ms), readySeconds: report.ready_s, notOk: report.not_ok };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
