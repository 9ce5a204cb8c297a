// Starts `opsbook kernel` (or any kernel argv, kernelspec style) as a real process with a fresh connection file on free ports (tcp or ipc).
import { spawn, ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { ConnectionInfo, NewConnection, NewConnectionOptions, freePorts, newConnection } from '../../kernel/protocol/connection';

const ABOVE_SUPPORT = path.resolve(__dirname, '..', '..');
/** The checkout's root, whether this runs from test/support (ts-jest) or from dist/test/support (compiled). */
export const REPO_ROOT = path.basename(ABOVE_SUPPORT) === 'dist' && existsSync(path.join(ABOVE_SUPPORT, '..', 'package.json')) ? path.dirname(ABOVE_SUPPORT) : ABOVE_SUPPORT;
/** The built CLI; tests run after `npm run build`. */
export const CLI = path.join(REPO_ROOT, 'dist', 'kernel', 'cli.js');

/** A free loopback port (the one port picker: kernel/protocol/connection.ts). */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0];
}

export type ConnectionOptions = Pick<NewConnectionOptions, 'transport' | 'key' | 'signatureScheme'>;

/** A fresh connection file in a new `opsbook-test-*` temporary folder (the folder name tests clean up by). */
export function makeConnection(options: ConnectionOptions = {}): Promise<NewConnection> {
  return newConnection({ ...options, prefix: 'opsbook-test-' });
}

export interface KernelProcess {
  child: ChildProcess;
  info: ConnectionInfo;
  /** The temporary folder holding the connection file (and ipc sockets); removed by cleanup(). */
  dir?: string;
  cleanup(): void;
  stderr: () => string;
  exited: Promise<number | null>;
}

export async function startKernelProcess(options: ConnectionOptions & { env?: NodeJS.ProcessEnv } = {}): Promise<KernelProcess> {
  return spawnKernel([process.execPath, CLI, 'kernel', '-f', '{connection_file}'], await makeConnection(options), { env: options.env });
}

/**
 * Spawns any kernel command line for an existing connection file, the way a frontend runs a kernelspec's argv:
 * every `{connection_file}` in `argv` is replaced by the file's path. A command that cannot be spawned makes
 * `exited` resolve with null and its reason appear in `stderr()`.
 */
export function spawnKernel(argv: readonly string[], connection: { info: ConnectionInfo; file: string; dir?: string }, options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): KernelProcess {
  const [command, ...args] = argv.map((a) => a.split('{connection_file}').join(connection.file));
  // test kernels keep their input history next to their connection file, never in the real home (the caller may override)
  const history = connection.dir ? { OPSBOOK_HISTORY_FILE: path.join(connection.dir, 'history.jsonl') } : {};
  const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...history, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout?.on('data', () => undefined);
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => resolve(code));
    child.on('error', (e) => {
      err += `could not start ${command}: ${e.message}\n`;
      resolve(null);
    });
  });
  const cleanup = () => {
    if (connection.dir) rmSync(connection.dir, { recursive: true, force: true });
  };
  return { child, info: connection.info, dir: connection.dir, cleanup, stderr: () => err, exited };
}
