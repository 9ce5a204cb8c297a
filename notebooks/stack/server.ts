// The one launcher for the servers of the local stack and of the tests (Prometheus, the Pushgateway): starts a
// binary on a free loopback port, its stdout and stderr appended to a log file, and waits until its ready URL
// answers; a failure says why with the end of that log. A server is either detached (its own session, left running
// when this process exits: the stack CLI) or attached (killed when this process exits: tests). Also stops a server
// by pid, and tells whether a pid still runs the command we started, so a reused pid is never mistaken for ours.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePorts } from '../../kernel/protocol/connection';
import { tail } from './commands';

const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
/** A port freePorts() picked can be taken before the server binds it: that many ports are tried. */
const START_ATTEMPTS = 3;
/** How much of its log a server keeps for logs() and error messages. */
const LOG_TAIL_BYTES = 256 * 1024;

/** A server binary and its command line for a port (the listen address 127.0.0.1:<port> inside). */
export interface ServerCommand {
  binary: string;
  args(port: number): string[];
}

export interface ServerLaunch extends ServerCommand {
  /** Its working folder. */
  cwd: string;
  /** Its stdout and stderr are appended to this file. */
  log: string;
  /** Called with the port before each start, e.g. to write a config file that names it. */
  beforeStart?(port: number): void;
  /** Answers 200 once the server is ready; default /-/ready (Prometheus and the Pushgateway). */
  readyPath?: string;
  /** Default 30 s. */
  readyTimeoutMs?: number;
  /** Own session, left running when this process exits (the stack CLI); default false: killed at exit. */
  detached?: boolean;
}

/** How stopPid() ended a process. */
export type StopOutcome = 'stopped' | 'killed' | 'gone';

export interface RunningServer {
  pid: number;
  port: number;
  /** http://127.0.0.1:PORT (no trailing slash). */
  url: string;
  /** The log file (appended). */
  log: string;
  startedAt: string;
  /** What the server wrote to its log since it started (the last 256 KiB). */
  logs(): string;
  /** SIGTERM, SIGKILL after the timeout (default 10 s); resolves when it is gone. Safe to call more than once. */
  stop(timeoutMs?: number): Promise<StopOutcome>;
  /** SIGKILL right now. */
  kill(): void;
}

// ---------------------------------------------------------------------------------------------------------------
// Processes by pid

/** The command line of a live, non-zombie process, or undefined. */
function commandLine(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z') return undefined;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
  } catch {
    return undefined;
  }
}

/** True when `pid` still runs `binary` with every one of `args` (so a reused pid is never mistaken for ours). */
export function isOurProcess(pid: number, binary: string, args: string[]): boolean {
  const argv = commandLine(pid);
  if (!argv || argv.length === 0) return false;
  const exe = path.basename(argv[0]);
  return (argv[0] === binary || exe === path.basename(binary)) && args.every((a) => argv.includes(a));
}

const killAtExit = new Set<number>();
let exitHookInstalled = false;

function killOnExit(pid: number): void {
  killAtExit.add(pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const p of killAtExit) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone
      }
    }
  });
}

/** SIGTERM, then SIGKILL after the timeout; resolves when the process is gone. */
export async function stopPid(pid: number, timeoutMs = STOP_TIMEOUT_MS): Promise<StopOutcome> {
  if (!commandLine(pid)) return 'gone';
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return 'gone';
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!commandLine(pid)) {
      killAtExit.delete(pid);
      return 'stopped';
    }
    await sleep(100);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone meanwhile
  }
  killAtExit.delete(pid);
  return 'killed';
}

/** The status of an HTTP GET (2 s), or 0 when it fails (refused, reset, timed out). */
export async function httpStatus(url: string): Promise<number> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Starting

function fileSize(file: string): number {
  return existsSync(file) ? statSync(file).size : 0;
}

/** What was appended to `file` from byte `from` on (at most the last LOG_TAIL_BYTES). */
function logSince(file: string, from: number): string {
  if (!existsSync(file)) return '';
  const text = readFileSync(file);
  return text.subarray(Math.max(from, text.length - LOG_TAIL_BYTES)).toString('utf8');
}

type Attempt = { server: RunningServer } | { failed: string; addressInUse: boolean };

async function startOnce(launch: ServerLaunch, port: number): Promise<Attempt> {
  launch.beforeStart?.(port);
  const url = `http://127.0.0.1:${port}`;
  const logStart = fileSize(launch.log);
  const logFd = openSync(launch.log, 'a');
  let exited: string | undefined;
  let pid: number | undefined;
  try {
    const child = spawn(launch.binary, launch.args(port), { cwd: launch.cwd, detached: launch.detached === true, stdio: ['ignore', logFd, logFd] });
    pid = child.pid;
    child.on('exit', (code, signal) => { exited = `exited (${code ?? signal})`; });
    child.on('error', (error) => { exited = `could not start (${error.message})`; });
    if (launch.detached) child.unref();
  } finally {
    closeSync(logFd);
  }
  if (pid !== undefined && !launch.detached) killOnExit(pid);
  const readyUrl = `${url}${launch.readyPath ?? '/-/ready'}`;
  const timeoutMs = launch.readyTimeoutMs ?? READY_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && exited === undefined) {
    if (pid !== undefined && (await httpStatus(readyUrl)) === 200) {
      const serverPid = pid;
      const server: RunningServer = {
        pid: serverPid,
        port,
        url,
        log: launch.log,
        startedAt: new Date().toISOString(),
        logs: () => logSince(launch.log, logStart),
        stop: (stopTimeoutMs) => stopPid(serverPid, stopTimeoutMs),
        kill: () => {
          if (!commandLine(serverPid)) return;
          try {
            process.kill(serverPid, 'SIGKILL');
          } catch {
            // gone meanwhile
          }
        },
      };
      return { server };
    }
    await sleep(100);
  }
  const output = logSince(launch.log, logStart);
  if (exited === undefined && pid !== undefined) await stopPid(pid);
  const why = exited ?? `was not ready at ${readyUrl} within ${timeoutMs / 1000} s`;
  return { failed: `${launch.binary} ${why}; the end of ${launch.log}:\n${tail(output, 20)}`, addressInUse: /address already in use/.test(output) };
}

/** Starts the server on a free loopback port and waits until it is ready; throws why not, with the end of its log. */
export async function startServer(launch: ServerLaunch): Promise<RunningServer> {
  for (let attempt = 1; ; attempt++) {
    const [port] = await freePorts(1);
    const result = await startOnce(launch, port);
    if ('server' in result) return result.server;
    if (!result.addressInUse || attempt >= START_ATTEMPTS) throw new Error(result.failed);
  }
}
