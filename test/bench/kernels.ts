// The kernels under comparison: kernelspec-style argv, interrupt mode, and the benchmark cells in each one's language.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { CLI } from '../support/kernel-process';
import { findTslab } from './tslab';

export type KernelName = 'opsbook' | 'ipykernel' | 'tslab';
export const KERNEL_NAMES: readonly KernelName[] = ['opsbook', 'ipykernel', 'tslab'];

export interface KernelUnderTest {
  name: KernelName;
  label: string;
  version: string;
  argv: string[];
  env: NodeJS.ProcessEnv;
  /** Working folder of the kernel process (default: a fresh temporary folder shared by the kernels). */
  cwd?: string;
  /** `message`: interrupt_request on control; `signal`: SIGINT to the kernel process (what jupyter_client does). */
  interruptMode: 'message' | 'signal';
  code: {
    trivial: string;
    /** Prints `lines` lines of exactly 100 bytes each ("%08d" + 91 × "x" + newline). */
    flood(lines: number): string;
    busyLoop: string;
  };
}

export type Availability = { ok: true; kernel: KernelUnderTest } | { ok: false; name: KernelName; reason: string };

/** The text the flood cells print, for checking what arrived. */
export function floodText(lines: number): string {
  const pad = 'x'.repeat(91);
  const out: string[] = new Array<string>(lines);
  for (let i = 0; i < lines; i++) out[i] = `${String(i).padStart(8, '0')}${pad}\n`;
  return out.join('');
}

const jsCode = {
  trivial: '1',
  flood: (lines: number) => `{ const pad = 'x'.repeat(91); for (let i = 0; i < ${lines}; i++) console.log(String(i).padStart(8, '0') + pad); }`,
  busyLoop: 'while (true) {}',
};

const PYTHON = '/usr/bin/python3';

function opsbook(): Availability {
  const pkg = spawnSync(process.execPath, ['-p', `require(${JSON.stringify(path.join(path.dirname(CLI), '..', '..', 'package.json'))}).version`], { encoding: 'utf8' });
  return {
    ok: true,
    kernel: {
      name: 'opsbook',
      label: 'opsbook',
      version: pkg.stdout.trim() || '?',
      argv: [process.execPath, CLI, 'kernel', '-f', '{connection_file}'],
      env: {},
      interruptMode: 'message',
      code: jsCode,
    },
  };
}

function ipykernel(cacheDir: string): Availability {
  const probe = spawnSync(PYTHON, ['-c', 'import ipykernel, sys; print(ipykernel.__version__, sys.version.split()[0])'], { encoding: 'utf8', timeout: 30_000 });
  if (probe.error) return { ok: false, name: 'ipykernel', reason: `${PYTHON}: ${probe.error.message}` };
  if (probe.status !== 0) return { ok: false, name: 'ipykernel', reason: `import ipykernel failed: ${probe.stderr.trim().split('\n').pop() ?? ''}` };
  const [version, python] = probe.stdout.trim().split(' ');
  // Its own IPython dir, so the benchmark's 500 cells do not land in the user's history database.
  const ipythonDir = path.join(cacheDir, 'ipython');
  mkdirSync(ipythonDir, { recursive: true });
  return {
    ok: true,
    kernel: {
      name: 'ipykernel',
      label: `ipykernel ${version} (Python ${python})`,
      version,
      argv: [PYTHON, '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
      env: { IPYTHONDIR: ipythonDir, PYDEVD_DISABLE_FILE_VALIDATION: '1' },
      interruptMode: 'signal',
      code: {
        trivial: '1',
        flood: (lines: number) => `pad = 'x' * 91\nfor i in range(${lines}):\n    print(f"{i:08d}{pad}")`,
        busyLoop: 'while True: pass',
      },
    },
  };
}

function tslab(cacheDir: string): Availability {
  const found = findTslab(path.join(cacheDir, 'tslab'));
  if (!found.ok) return { ok: false, name: 'tslab', reason: found.reason };
  return {
    ok: true,
    kernel: {
      name: 'tslab',
      label: `tslab ${found.version} (TypeScript mode)`,
      version: found.version,
      // tslab's kernelspec: `tslab kernel --config-path {connection_file}`; no interrupt_mode, so signal.
      argv: [process.execPath, found.bin, 'kernel', '--config-path', '{connection_file}'],
      env: {},
      // Where it is installed, as in a project that depends on it: its TypeScript mode finds @types/node there.
      cwd: found.dir,
      interruptMode: 'signal',
      code: jsCode,
    },
  };
}

export function kernelAvailability(name: KernelName, cacheDir: string): Availability {
  try {
    switch (name) {
      case 'opsbook':
        return opsbook();
      case 'ipykernel':
        return ipykernel(cacheDir);
      case 'tslab':
        return tslab(cacheDir);
    }
  } catch (e) {
    return { ok: false, name, reason: (e as Error).message };
  }
}
