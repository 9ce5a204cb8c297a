// Starts a real Prometheus Pushgateway (Debian's /usr/bin/prometheus-pushgateway) on a free loopback port, metrics
// in memory only (no persistence file), for integration tests; stop() ends it. Also reads its groups back.
import { spawn, ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freePort } from './kernel-process';
import { captureLog } from './child-log';

export const PUSHGATEWAY_BIN = '/usr/bin/prometheus-pushgateway';

export interface PushgatewayHandle {
  /** http://127.0.0.1:PORT (no trailing slash). */
  url: string;
  port: number;
  /** SIGTERM (SIGKILL after 5 s). Safe to call more than once. */
  stop(): Promise<void>;
  /** Everything the Pushgateway logged so far (the last 64 KiB). */
  logs(): string;
}

/** One group of GET /api/v1/metrics: its grouping labels, and each metric by name. */
export interface PushedGroup {
  labels: Record<string, string>;
  metrics: Record<string, { type: string; metrics: Array<{ labels: Record<string, string>; value?: string }> }>;
}

const LOG_LIMIT = 64 * 1024;
const START_ATTEMPTS = 3;
const running = new Set<ChildProcess>();
process.once('exit', () => running.forEach((child) => child.kill('SIGKILL')));

export function pushgatewayAvailable(): boolean {
  return existsSync(PUSHGATEWAY_BIN);
}

export function pushgatewayMissingMessage(): string {
  const install = 'install the Debian package `prometheus-pushgateway` (apt-get install -y --no-install-recommends prometheus-pushgateway; test/support/install-system-deps.sh does it)';
  const ci = process.env.CI === 'true' ? ' CI=true: Pushgateway integration tests must run here, never skip.' : '';
  return `${PUSHGATEWAY_BIN} not found: ${install}.${ci}`;
}

export async function startPushgateway(): Promise<PushgatewayHandle> {
  if (!pushgatewayAvailable()) throw new Error(pushgatewayMissingMessage());
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = spawn(PUSHGATEWAY_BIN, [`--web.listen-address=127.0.0.1:${port}`, '--persistence.file=', '--log.level=warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    const log = captureLog(child, LOG_LIMIT);
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        running.delete(child);
        resolve();
      });
      child.once('error', (e) => {
        log.note(`spawn error: ${e.message}`);
        running.delete(child);
        resolve();
      });
    });
    const handle: PushgatewayHandle = {
      url: `http://127.0.0.1:${port}`,
      port,
      logs: log.text,
      stop: async () => {
        if (!running.has(child)) return exited;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      },
    };
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && running.has(child)) {
      try {
        const response = await fetch(`${handle.url}/-/ready`, { signal: AbortSignal.timeout(1000) });
        if (response.ok) return handle;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await handle.stop();
    if (attempt >= START_ATTEMPTS || !/address already in use/.test(log.text())) throw new Error(`the Pushgateway on port ${port} did not become ready; its log:\n${log.text().trim().split('\n').slice(-20).join('\n')}`);
  }
}

/** The groups the Pushgateway holds (GET /api/v1/metrics). */
export async function pushedGroups(url: string): Promise<PushedGroup[]> {
  const response = await fetch(`${url}/api/v1/metrics`, { signal: AbortSignal.timeout(3000) });
  if (!response.ok) throw new Error(`GET ${url}/api/v1/metrics: HTTP ${response.status}`);
  const body = (await response.json()) as { data: Array<Record<string, unknown>> };
  return body.data.map((g) => {
    const { labels, ...rest } = g;
    const metrics: PushedGroup['metrics'] = {};
    for (const [name, m] of Object.entries(rest)) if (m && typeof m === 'object' && 'metrics' in m) metrics[name] = m as PushedGroup['metrics'][string];
    return { labels: labels as Record<string, string>, metrics };
  });
}

/** The value of `name{labels ⊇ match}` in the group with exactly these grouping labels, or undefined. */
export function pushedValue(groups: PushedGroup[], grouping: Record<string, string>, name: string, match: Record<string, string> = {}): number | undefined {
  const group = groups.find((g) => Object.keys(g.labels).length === Object.keys(grouping).length && Object.entries(grouping).every(([k, v]) => g.labels[k] === v));
  const sample = group?.metrics[name]?.metrics.find((s) => Object.entries(match).every(([k, v]) => s.labels[k] === v));
  return sample?.value === undefined ? undefined : Number(sample.value);
}
