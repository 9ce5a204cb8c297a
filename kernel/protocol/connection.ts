// Reads and validates a Jupyter connection file, and derives the socket addresses (tcp or ipc) from it.
import { readFileSync } from 'node:fs';

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
