// Writes and removes the opsbook kernelspec (kernel.json + logos) where Jupyter looks for kernels,
// following jupyter_core's paths, so no Python is needed to register the kernel.
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { PROTOCOL_VERSION } from './protocol/messages';

export interface InstallOptions {
  user?: boolean;
  sysPrefix?: boolean;
  prefix?: string;
  name?: string;
  displayName?: string;
}

export const DEFAULT_NAME = 'opsbook';
export const DEFAULT_DISPLAY_NAME = 'TypeScript (opsbook)';
const LOGOS = ['logo-32x32.png', 'logo-64x64.png', 'logo-svg.svg'];

/** The kernelspec folder of the package (template and logos). */
export function specSourceDir(): string {
  return path.resolve(__dirname, '..', '..', 'kernelspec');
}

function userDataDir(): string {
  if (process.env.JUPYTER_DATA_DIR) return process.env.JUPYTER_DATA_DIR;
  if (process.platform === 'darwin') return path.join(os.homedir(), 'Library', 'Jupyter');
  if (process.platform === 'win32') return path.join(process.env.APPDATA ?? os.homedir(), 'jupyter');
  return path.join(process.env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share'), 'jupyter');
}

/** Python's sys.prefix without needing Python when a virtualenv or conda env is active. */
function sysPrefix(): string {
  const env = process.env.VIRTUAL_ENV ?? process.env.CONDA_PREFIX;
  if (env) return env;
  for (const python of ['python3', 'python']) {
    try {
      return execFileSync(python, ['-c', 'import sys; print(sys.prefix)'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      // try the next one
    }
  }
  throw new Error('--sys-prefix needs an active virtualenv/conda env or a python on PATH; use --prefix instead');
}

function systemDataDir(): string {
  if (process.platform === 'win32') return path.join(process.env.PROGRAMDATA ?? 'C:\\ProgramData', 'jupyter');
  return '/usr/local/share/jupyter';
}

export function kernelsDir(options: InstallOptions): string {
  if (options.prefix) return path.join(path.resolve(options.prefix), 'share', 'jupyter', 'kernels');
  if (options.sysPrefix) return path.join(sysPrefix(), 'share', 'jupyter', 'kernels');
  if (options.user) return path.join(userDataDir(), 'kernels');
  return path.join(systemDataDir(), 'kernels');
}

/** kernel.json: how Jupyter starts this kernel and what it shows for it. */
export interface KernelJson {
  argv: string[];
  display_name: string;
  language: string;
  interrupt_mode: 'message' | 'signal';
  env: Record<string, string>;
  metadata: Record<string, unknown>;
  kernel_protocol_version: string;
}

export function kernelJson(displayName: string): KernelJson {
  return {
    argv: [process.execPath, path.resolve(__dirname, 'cli.js'), 'kernel', '-f', '{connection_file}'],
    display_name: displayName,
    language: 'typescript',
    interrupt_mode: 'message',
    env: {},
    metadata: { debugger: false, opsbook: { version: JSON.parse(readFileSync(path.join(specSourceDir(), '..', 'package.json'), 'utf8')).version } },
    kernel_protocol_version: PROTOCOL_VERSION,
  };
}

/** Installs the kernelspec and returns the folder written. */
export function install(options: InstallOptions): string {
  const name = options.name ?? DEFAULT_NAME;
  if (!/^[a-z0-9._-]+$/i.test(name)) throw new Error(`invalid kernel name "${name}": use letters, digits, ".", "_" and "-"`);
  const dir = path.join(kernelsDir(options), name.toLowerCase());
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'kernel.json'), `${JSON.stringify(kernelJson(options.displayName ?? DEFAULT_DISPLAY_NAME), null, 2)}\n`);
  for (const logo of LOGOS) copyFileSync(path.join(specSourceDir(), logo), path.join(dir, logo));
  return dir;
}

/** Removes the kernelspec; returns the folder removed, or undefined when there was none. */
export function uninstall(options: InstallOptions): string | undefined {
  const dir = path.join(kernelsDir(options), (options.name ?? DEFAULT_NAME).toLowerCase());
  if (!existsSync(path.join(dir, 'kernel.json'))) return undefined;
  rmSync(dir, { recursive: true, force: true });
  return dir;
}
