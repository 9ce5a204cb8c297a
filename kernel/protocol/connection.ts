// The Jupyter connection file, both ways: a kernel reads and validates the one it is given and derives its socket
// addresses (tcp or ipc) from it; a client that starts a kernel (opsbook run, the tests) writes a fresh one.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export type Channel = 'shell' | 'control' | 'stdin' | 'iopub' | 'hb';
export const CHANNELS: Channel[] = ['shell', 'control', 'stdin', 'iopub', 'hb'];

export interface ConnectionInfo {
  transport: 'tcp' | 'ipc';
  ip: string;
  key: string;
  signature_scheme: string;
  shell_port: number;
  control_port: number;
  stdin_port: number;
  iopub_port: number;
  hb_port: number;
  kernel_name?: string;
}

export class ConnectionFileError extends Error {
  override name = 'ConnectionFileError';
}

export function parseConnectionInfo(text: string, source = 'connection file'): ConnectionInfo {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new ConnectionFileError(`${source} is not valid JSON: ${(e as Error).message}`);
  }
  const transport = raw.transport ?? 'tcp';
  if (transport !== 'tcp' && transport !== 'ipc') throw new ConnectionFileError(`${source}: unsupported transport "${String(transport)}" (tcp or ipc)`);
  const info: ConnectionInfo = {
    transport,
    ip: typeof raw.ip === 'string' ? raw.ip : '127.0.0.1',
    key: typeof raw.key === 'string' ? raw.key : '',
    signature_scheme: typeof raw.signature_scheme === 'string' ? raw.signature_scheme : 'hmac-sha256',
    shell_port: 0,
    control_port: 0,
    stdin_port: 0,
    iopub_port: 0,
    hb_port: 0,
    kernel_name: typeof raw.kernel_name === 'string' ? raw.kernel_name : undefined,
  };
  for (const ch of CHANNELS) {
    const port = raw[`${ch}_port`];
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 0) throw new ConnectionFileError(`${source}: ${ch}_port must be an integer`);
    info[`${ch}_port`] = port;
  }
  return info;
}

export function readConnectionFile(path: string): ConnectionInfo {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConnectionFileError(`cannot read connection file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseConnectionInfo(text, path);
}

/** The ZeroMQ endpoint for a channel: tcp://ip:port, or ipc://ip-port as jupyter_client names ipc files. */
export function endpoint(info: ConnectionInfo, channel: Channel): string {
  const port = info[`${channel}_port`];
  return info.transport === 'tcp' ? `tcp://${info.ip}:${port}` : `ipc://${info.ip}-${port}`;
}

/** Distinct free loopback ports, all held at once so none repeats. */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      ports.push(await new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => {
          const address = server.address();
          resolve(typeof address === 'object' && address ? address.port : 0);
        });
      }));
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

export interface NewConnectionOptions {
  /** tcp (default): free loopback ports; ipc: socket files in the new folder. */
  transport?: 'tcp' | 'ipc';
  /** The HMAC key; by default 32 random bytes as hex. */
  key?: string;
  signatureScheme?: string;
  kernelName?: string;
  /** How the temporary folder's name starts. */
  prefix?: string;
}

export interface NewConnection {
  info: ConnectionInfo;
  /** The connection file, private to this user (mode 0600: it holds the key). */
  file: string;
  /** The new temporary folder holding the file (and ipc sockets); the caller removes it. */
  dir: string;
}

/** A fresh connection file for a kernel a client is about to start, in a new temporary folder. */
export async function newConnection(options: NewConnectionOptions = {}): Promise<NewConnection> {
  const dir = mkdtempSync(path.join(os.tmpdir(), options.prefix ?? 'opsbook-'));
  const transport = options.transport ?? 'tcp';
  const [shell, control, stdin, iopub, hb] = transport === 'tcp' ? await freePorts(5) : [1, 2, 3, 4, 5];
  const info: ConnectionInfo = {
    transport,
    ip: transport === 'tcp' ? '127.0.0.1' : path.join(dir, 'kernel'),
    key: options.key ?? randomBytes(32).toString('hex'),
    signature_scheme: options.signatureScheme ?? 'hmac-sha256',
    shell_port: shell,
    control_port: control,
    stdin_port: stdin,
    iopub_port: iopub,
    hb_port: hb,
    kernel_name: options.kernelName,
  };
  const file = path.join(dir, 'kernel.json');
  writeFileSync(file, JSON.stringify(info), { mode: 0o600 });
  return { info, file, dir };
}
