// The health gate of a deploy: waits until a container is healthy (the image's HEALTHCHECK or --health-cmd as
// Docker reports it, an HTTP probe for --health-url, or merely still running when there is no check), and when it
// is not, gathers why: its last log lines and its health-check log, for the cell's error.
import * as http from 'node:http';
import type Docker from 'dockerode';
import { demuxLines } from '../engine/log-streams';
import { sleep } from '../../lib/sleep';

export type HealthGate = { kind: 'image' } | { kind: 'cmd'; command: string } | { kind: 'url'; path: string } | { kind: 'none' };

/** `reason` completes "the new version …" (e.g. "failed its health check"). */
export type HealthOutcome = { healthy: true; ms: number } | { healthy: false; reason: string };

const POLL_MS = 200;
/** Without any health check, a container counts as healthy once it has kept running this long. */
const RUNNING_IS_HEALTHY_MS = 2000;
const PROBE_TIMEOUT_MS = 1000;

/** The label text for a gate, and what %deploy prints. */
export function describeGate(gate: HealthGate): string {
  return gate.kind === 'cmd' ? `cmd:${gate.command}` : gate.kind === 'url' ? `url:${gate.path}` : gate.kind;
}

/** One HTTP GET, true on 2xx/3xx; never throws, gives up after PROBE_TIMEOUT_MS. */
export function probe(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: PROBE_TIMEOUT_MS }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/** Whether anything answers HTTP on the port (any status): the service is reachable again after a cutover. */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', timeout: PROBE_TIMEOUT_MS, agent: false }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/** Polls a published port until it answers (every 25 ms); false at the deadline or on interrupt. */
export async function waitAnswering(port: number, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!signal.aborted && Date.now() < deadline) {
    if (await answers(port)) return true;
    await sleep(25, signal);
  }
  return false;
}

/**
 * Waits for a container to pass its gate. `url` is where the HTTP probe goes (for a --health-url gate).
 * Resolves unhealthy as soon as Docker says unhealthy or the container stops, or at the deadline.
 */
export async function waitHealthy(container: Docker.Container, gate: HealthGate, timeoutMs: number, signal: AbortSignal, url?: string): Promise<HealthOutcome> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  for (;;) {
    if (signal.aborted) return { healthy: false, reason: 'was interrupted' };
    const state = (await container.inspect()).State;
    if (!state.Running) return { healthy: false, reason: `stopped (exit code ${state.ExitCode}${state.OOMKilled ? ', out of memory' : ''})` };
    if (gate.kind === 'image' || gate.kind === 'cmd') {
      const status = state.Health?.Status;
      if (status === 'healthy') return { healthy: true, ms: Date.now() - started };
      if (status === 'unhealthy') return { healthy: false, reason: 'failed its health check' };
      if (status === undefined) return { healthy: false, reason: 'has no HEALTHCHECK in its image: pass --health-cmd or --health-url' };
    } else if (gate.kind === 'url') {
      if (url && (await probe(url))) return { healthy: true, ms: Date.now() - started };
    } else if (Date.now() - started >= RUNNING_IS_HEALTHY_MS) {
      return { healthy: true, ms: Date.now() - started };
    }
    if (Date.now() >= deadline) return { healthy: false, reason: `was not healthy within ${Math.round(timeoutMs / 1000)} s` };
    await sleep(POLL_MS, signal);
  }
}

/** The container's last log lines and the outputs of its last health checks, for a failed deploy's error. */
export async function whyUnhealthy(container: Docker.Container, lines = 15): Promise<{ logs: string[]; healthLog: string[] }> {
  let logs: string[] = [];
  try {
    const raw = (await container.logs({ stdout: true, stderr: true, tail: lines, follow: false })) as unknown as Buffer;
    logs = demuxLines(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw)));
  } catch {
    logs = ['(logs not available)'];
  }
  let healthLog: string[] = [];
  try {
    const health = (await container.inspect()).State.Health;
    healthLog = (health?.Log ?? []).slice(-3).map((h) => `exit ${h.ExitCode}: ${h.Output.trim().split('\n').slice(-2).join(' / ')}`);
  } catch {
    healthLog = [];
  }
  return { logs, healthLog };
}
