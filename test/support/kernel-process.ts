// Starts `opsbook kernel` as a real process with a fresh connection file on free ports (tcp or ipc).
import { spawn, ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ConnectionInfo } from '../../kernel/connection';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
/** The built CLI; tests run after `npm run build`. */
export const CLI = path.join(REPO_ROOT, 'dist', 'kernel', 'cli.js');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface ConnectionOptions {
  transport?: 'tcp' | 'ipc';
  key?: string;
  signatureScheme?: string;
}

export async function makeConnection(options: ConnectionOptions = {}): Promise<{ info: ConnectionInfo; file: string; dir: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'opsbook-test-'));
  const transport = options.transport ?? 'tcp';
  const ports = transport === 'tcp' ? await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]) : [1, 2, 3, 4, 5];
  const info: ConnectionInfo = {
    transport,
    ip: transport === 'tcp' ? '127.0.0.1' : path.join(dir, 'kernel'),
    key: options.key ?? randomBytes(16).toString('hex'),
    signature_scheme: options.signatureScheme ?? 'hmac-sha256',
    shell_port: ports[0],
    control_port: ports[1],
    stdin_port: ports[2],
    iopub_port: ports[3],
    hb_port: ports[4],
  };
  const file = path.join(dir, 'connection.json');
  writeFileSync(file, JSON.stringify(info));
  return { info, file, dir };
}

export interface KernelProcess {
  child: ChildProcess;
  info: ConnectionInfo;
  stderr: () => string;
  exited: Promise<number | null>;
}

export async function startKernelProcess(options: ConnectionOptions & { env?: NodeJS.ProcessEnv } = {}): Promise<KernelProcess> {
  const { info, file } = await makeConnection(options);
  const child = spawn(process.execPath, [CLI, 'kernel', '-f', file], { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout?.on('data', () => undefined);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, info, stderr: () => err, exited };
}
