// Where the Docker magics connect: DOCKER_HOST syntax (unix socket, tcp, tcp with TLS from DOCKER_TLS_VERIFY /
// DOCKER_CERT_PATH, ssh) turned into dockerode options, one client per host, and a quick ping first so an
// unreachable engine is one line naming the host and what to check within a few seconds, never a hang.
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type Docker from 'dockerode';
import { MagicError, isExpectedError } from '../../../kernel/io/errors';
import type { Magic } from '../../registry';
import type { NotebookConfig } from '../../lib/notebook-config';

const DEFAULT_SOCKET = '/var/run/docker.sock';

/**
 * dockerode, loaded on first use: with its SSH and HTTP stack it takes ~90 ms to load, which every kernel start
 * would pay (the cell thread loads the magics), notebooks without Docker magics included.
 */
function dockerode(): typeof Docker {
  return require('dockerode') as typeof Docker;
}
/** How long the first contact with an engine may take before we say it is unreachable. */
export const PING_TIMEOUT_MS = 3000;

/** dockerode's ping takes an abort signal like its other calls; its type declarations leave the options out. */
interface AbortablePing {
  ping(options: { abortSignal: AbortSignal }): Promise<unknown>;
}

export interface DockerTarget {
  /** The engine as the user names it, for messages: unix:///var/run/docker.sock, tcp://host:2376, ssh://user@host. */
  shown: string;
  options: Docker.DockerOptions;
}

function certificates(env: NodeJS.ProcessEnv): Pick<Docker.DockerOptions, 'ca' | 'cert' | 'key'> {
  const dir = env.DOCKER_CERT_PATH || path.join(os.homedir(), '.docker');
  try {
    return { ca: readFileSync(path.join(dir, 'ca.pem')), cert: readFileSync(path.join(dir, 'cert.pem')), key: readFileSync(path.join(dir, 'key.pem')) };
  } catch (e) {
    throw new MagicError(`DOCKER_TLS_VERIFY is set but the TLS files in ${dir} cannot be read: ${(e as Error).message}`, 'set DOCKER_CERT_PATH to the folder holding ca.pem, cert.pem and key.pem');
  }
}

/** DOCKER_HOST syntax → dockerode options, following the docker CLI's rules. */
export function dockerTarget(host: string | undefined, env: NodeJS.ProcessEnv = process.env): DockerTarget {
  if (!host || host.startsWith('unix://')) {
    const socketPath = host ? host.slice('unix://'.length) || DEFAULT_SOCKET : DEFAULT_SOCKET;
    return { shown: `unix://${socketPath}`, options: { socketPath } };
  }
  let url: URL;
  try {
    url = new URL(host);
  } catch {
    throw new MagicError(`not a Docker host: ${host}`, 'write it like unix:///var/run/docker.sock, tcp://host:2376 or ssh://user@host');
  }
  if (url.protocol === 'tcp:' || url.protocol === 'http:' || url.protocol === 'https:') {
    const tls = url.protocol === 'https:' || env.DOCKER_TLS_VERIFY === '1';
    const port = url.port || (tls ? '2376' : '2375');
    return { shown: `tcp://${url.hostname}:${port}`, options: { host: url.hostname, port, protocol: tls ? 'https' : 'http', ...(tls ? certificates(env) : {}) } };
  }
  if (url.protocol === 'ssh:') {
    const options: Docker.DockerOptions = { protocol: 'ssh', host: url.hostname, port: url.port || '22', username: url.username || os.userInfo().username };
    if (env.SSH_AUTH_SOCK) options.sshAuthAgent = env.SSH_AUTH_SOCK;
    return { shown: `ssh://${options.username}@${url.hostname}${url.port ? `:${url.port}` : ''}`, options };
  }
  throw new MagicError(`unsupported Docker host scheme ${url.protocol} in ${host}`, 'use unix://, tcp:// or ssh://');
}

/**
 * One line for an engine that did not answer: what happened at which host, and what to check. `timedOut`: the ping
 * was aborted because no answer came within PING_TIMEOUT_MS (the request then fails as an abort, or, when the
 * connection was cut meanwhile, as a hang-up: either way the engine did not answer in time).
 */
export function unreachable(target: DockerTarget, e: NodeJS.ErrnoException, timedOut = false): MagicError {
  const code = e.code ?? '';
  const socket = target.options.socketPath;
  if (timedOut || /timeout/i.test(`${code} ${e.message}`)) return new MagicError(`the Docker engine at ${target.shown} did not answer within ${PING_TIMEOUT_MS / 1000} s`, 'is the host reachable and dockerd healthy? check DOCKER_HOST or %docker <host>');
  if (socket && code === 'ENOENT') return new MagicError(`no Docker engine at ${target.shown} (the socket does not exist)`, 'is dockerd running? start it, or point DOCKER_HOST / %docker at the engine');
  if (socket && code === 'EACCES') return new MagicError(`permission denied on ${socket}`, 'add your user to the docker group (then log in again), or run the kernel as a user that may use Docker');
  if (code === 'ECONNREFUSED') return new MagicError(`cannot connect to the Docker engine at ${target.shown} (connection refused)`, 'is dockerd running and listening there? check DOCKER_HOST or %docker <host>');
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new MagicError(`cannot resolve the Docker host in ${target.shown} (DNS)`, 'check the host name in DOCKER_HOST or %docker <host>');
  // Node's "socket hang up" / "read ECONNRESET": something accepted the connection and closed it without an answer
  if (code === 'ECONNRESET' || code === 'EPIPE') return new MagicError(`the Docker engine at ${target.shown} did not answer (it closed the connection)`, 'is it dockerd that listens there, and is it healthy? check DOCKER_HOST or %docker <host>');
  if (/CERT|SSL|TLS|certificate/i.test(`${code} ${e.message}`)) return new MagicError(`TLS failure talking to the Docker engine at ${target.shown}: ${e.message}`, 'check DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem) and DOCKER_TLS_VERIFY');
  return new MagicError(`cannot reach the Docker engine at ${target.shown}: ${e.message}`, 'check DOCKER_HOST or %docker <host>');
}

/**
 * Asks the engine for /_ping, aborting after PING_TIMEOUT_MS: a listener that accepts and never answers, a host that
 * drops packets, and one that closes the connection all become one line (unreachable) within that time.
 */
async function ping(docker: Docker, target: DockerTarget): Promise<void> {
  const timer = new AbortController();
  const timeout = setTimeout(() => timer.abort(), PING_TIMEOUT_MS);
  try {
    await (docker as unknown as AbortablePing).ping({ abortSignal: timer.signal });
  } catch (e) {
    throw unreachable(target, e as NodeJS.ErrnoException, timer.signal.aborted);
  } finally {
    clearTimeout(timeout);
  }
}

/** Docker clients by host; each is pinged before its first use after a failure. */
export class DockerConnection {
  private readonly clients = new Map<string, { docker: Docker; target: DockerTarget; alive: boolean }>();

  constructor(private readonly config: NotebookConfig, private readonly env: NodeJS.ProcessEnv = process.env) {}

  /** The engine for this notebook, answering: pinged (≤ 3 s) unless it answered before. */
  async engine(): Promise<{ docker: Docker; target: DockerTarget }> {
    const host = this.config.docker().host;
    const key = host ?? '';
    let client = this.clients.get(key);
    if (!client) {
      const target = dockerTarget(host, this.env);
      const Client = dockerode();
      client = { docker: new Client(target.options), target, alive: false };
      this.clients.set(key, client);
    }
    if (!client.alive) {
      await ping(client.docker, client.target);
      client.alive = true;
    }
    return { docker: client.docker, target: client.target };
  }

  /** After a connection failure mid-work, the next use pings again. */
  forget(): void {
    for (const c of this.clients.values()) c.alive = false;
  }

  /**
   * The magic, with an engine lost after it once answered (dockerd stopped, the connection cut) reported as the one
   * line an unreachable engine gets, and pinged again on the next use; other errors pass as they are.
   */
  guard(magic: Magic): Magic {
    return {
      ...magic,
      run: async (call) => {
        try {
          return await magic.run(call);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code ?? '';
          if (isExpectedError(e) || !LOST_CONNECTION.test(`${code} ${(e as Error).message}`)) throw e;
          this.forget();
          throw unreachable(dockerTarget(this.config.docker().host, this.env), e as NodeJS.ErrnoException);
        }
      },
    };
  }
}

/** Errors that mean the engine went away mid-work, not that it refused a request. */
const LOST_CONNECTION = /ECONNREFUSED|ECONNRESET|EPIPE|ENOENT.*\.sock|socket hang up|ETIMEDOUT/;
