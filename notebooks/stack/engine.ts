// The Docker engine the local stack, the demo and the Docker tests use: checks that it answers and starts dockerd
// when it can (root, Debian's docker.io, the local socket), detached, its output appended to a log.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tail } from './commands';
import { withHostLock } from './host-lock';

export const DOCKERD_BIN = '/usr/sbin/dockerd';
/** Where ensureDocker() sends the output of a dockerd it starts. */
export const DOCKERD_LOG = path.join(os.tmpdir(), 'opsbook-dockerd.log');
const DOCKER_INFO_TIMEOUT_MS = 5000;
const DOCKERD_START_TIMEOUT_MS = 30000;

/** True when the docker CLI exists and `docker info` answers within a few seconds. */
export function dockerAvailable(): boolean {
  const info = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: DOCKER_INFO_TIMEOUT_MS, stdio: 'ignore' });
  return info.error === undefined && info.status === 0;
}

/** True when the engine is not running but ensureDocker() could start it (root, dockerd and the CLI installed, local socket). */
export function dockerStartable(): boolean {
  const localHost = process.env.DOCKER_HOST === undefined || process.env.DOCKER_HOST === '' || process.env.DOCKER_HOST === 'unix:///var/run/docker.sock';
  return localHost && process.getuid?.() === 0 && existsSync(DOCKERD_BIN) && dockerCliPresent();
}

function dockerCliPresent(): boolean {
  const version = spawnSync('docker', ['--version'], { timeout: DOCKER_INFO_TIMEOUT_MS, stdio: 'ignore' });
  return version.error === undefined && version.status === 0;
}

export interface EnsureDockerOptions {
  /** Where a dockerd this starts writes its output (appended); default DOCKERD_LOG. */
  log?: string;
}

/** What ensureDocker() did: the pid of the dockerd it started, or undefined when an engine already answered. */
export interface EnsuredDocker {
  startedPid: number | undefined;
}

/**
 * Makes sure the engine answers: starts dockerd (detached, appending to DOCKERD_LOG or options.log) when it can,
 * else throws why not.
 */
export async function ensureDocker(options: EnsureDockerOptions = {}): Promise<EnsuredDocker> {
  if (dockerAvailable()) return { startedPid: undefined };
  if (!dockerStartable()) throw new Error(dockerUnavailableMessage());
  const logFile = options.log ?? DOCKERD_LOG;
  return withHostLock('dockerd', async () => {
    if (dockerAvailable()) return { startedPid: undefined };
    const logFd = openSync(logFile, 'a');
    let exited: string | undefined;
    let pid: number | undefined;
    try {
      const dockerd = spawn(DOCKERD_BIN, [], { detached: true, stdio: ['ignore', logFd, logFd] });
      pid = dockerd.pid;
      dockerd.on('exit', (code, signal) => { exited = `exited (${code ?? signal})`; });
      dockerd.on('error', (error) => { exited = `failed to start (${error.message})`; });
      dockerd.unref();
    } finally {
      closeSync(logFd);
    }
    const deadline = Date.now() + DOCKERD_START_TIMEOUT_MS;
    while (Date.now() < deadline && exited === undefined) {
      await sleep(500);
      if (dockerAvailable()) return { startedPid: pid };
    }
    const log = existsSync(logFile) ? tail(readFileSync(logFile, 'utf8'), 20) : '(no log)';
    const outcome = exited ?? `did not answer \`docker info\` within ${DOCKERD_START_TIMEOUT_MS / 1000} s`;
    throw new Error(`started ${DOCKERD_BIN}, which ${outcome}; the end of ${logFile}:\n${log}`);
  });
}

/** Why the engine cannot be used or started here, and what to install or run. */
export function dockerUnavailableMessage(): string {
  const reasons: string[] = [];
  if (!dockerCliPresent()) reasons.push('the docker CLI is not installed');
  else reasons.push('`docker info` does not answer');
  if (!existsSync(DOCKERD_BIN)) reasons.push(`${DOCKERD_BIN} is missing`);
  else if (process.getuid?.() !== 0) reasons.push('dockerd can only be started as root');
  if (process.env.DOCKER_HOST) reasons.push(`DOCKER_HOST=${process.env.DOCKER_HOST} is not the local socket`);
  const install = 'install the Debian package docker.io (apt-get install -y --no-install-recommends docker.io; notebooks/stack/install-system-deps.sh does it) and start `dockerd >/tmp/dockerd.log 2>&1 &` as root';
  const ci = process.env.CI === 'true' ? ' CI=true: Docker integration tests must run here, never skip.' : '';
  return `Docker engine not available: ${reasons.join(', ')}. To fix: ${install}.${ci}`;
}
