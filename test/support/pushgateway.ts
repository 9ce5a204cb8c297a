// A real Prometheus Pushgateway for integration tests: the stack's launcher (notebooks/stack/server.ts) starts
// Debian's /usr/bin/prometheus-pushgateway on a free loopback port, metrics in memory only (no persistence file),
// its log in a temporary folder that stop() removes. Also reads its groups back.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PUSHGATEWAY_BIN, pushgatewayCommand } from '../../notebooks/stack/prometheus';
import { startServer } from '../../notebooks/stack/server';

export interface PushgatewayHandle {
  /** http://127.0.0.1:PORT (no trailing slash). */
  url: string;
  port: number;
  /** SIGTERM (SIGKILL after 5 s). Safe to call more than once. */
  stop(): Promise<void>;
  /** Everything the Pushgateway logged so far (the last 256 KiB). */
  logs(): string;
}

/** One group of GET /api/v1/metrics: its grouping labels, and each metric by name. */
export interface PushedGroup {
  labels: Record<string, string>;
  metrics: Record<string, { type: string; metrics: Array<{ labels: Record<string, string>; value?: string }> }>;
}

/** Temporary folders of running test Pushgateways, removed if the test process exits without stop(). */
const folders = new Set<string>();
process.once('exit', () => folders.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

export function pushgatewayAvailable(): boolean {
  return existsSync(PUSHGATEWAY_BIN);
}

export function pushgatewayMissingMessage(): string {
  const install = 'install the Debian package `prometheus-pushgateway` (apt-get install -y --no-install-recommends prometheus-pushgateway; notebooks/stack/install-system-deps.sh does it)';
  const ci = process.env.CI === 'true' ? ' CI=true: Pushgateway integration tests must run here, never skip.' : '';
  return `${PUSHGATEWAY_BIN} not found: ${install}.${ci}`;
}

export async function startPushgateway(): Promise<PushgatewayHandle> {
  if (!pushgatewayAvailable()) throw new Error(pushgatewayMissingMessage());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'opsbook-pushgateway-'));
  folders.add(dir);
  const removeFolder = (): void => {
    rmSync(dir, { recursive: true, force: true });
    folders.delete(dir);
  };
  try {
    const server = await startServer({ ...pushgatewayCommand({ logLevel: 'warn' }), cwd: dir, log: path.join(dir, 'pushgateway.log') });
    return {
      url: server.url,
      port: server.port,
      logs: server.logs,
      stop: async () => {
        await server.stop(5000);
        removeFolder();
      },
    };
  } catch (error) {
    removeFolder();
    throw error;
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
