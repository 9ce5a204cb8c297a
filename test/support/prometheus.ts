// A real Prometheus for integration tests: the stack's launcher (notebooks/stack/server.ts) starts Debian's
// /usr/bin/prometheus on a free loopback port with its own config and a fresh TSDB in a temporary folder, optionally
// backfilled with OpenMetrics history (prom-history.ts) through promtool first. stop() removes the folder.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tail } from '../../notebooks/stack/commands';
import { PROMETHEUS_BIN, PROMTOOL_BIN, prometheusCommand, prometheusConfig } from '../../notebooks/stack/prometheus';
import { startServer } from '../../notebooks/stack/server';

export interface StartPrometheusOptions {
  /** OpenMetrics text (see prom-history.ts) backfilled into the TSDB before start; keep it strictly in the past. */
  history?: string;
  /** "127.0.0.1:PORT" targets scraped every 1 s under job "live". */
  scrapeTargets?: string[];
  /**
   * Also scrape every opsbook proxy on this engine ("unix:///var/run/docker.sock"), found through the Docker socket
   * every second, as the local stack does (job "opsbook-proxy": haproxy_server_* labelled service and version).
   */
  proxiesOn?: string;
  /**
   * Also scrape every version of every deployed service on this engine on its container's address, port 8080, as
   * the local stack does (job "sample-app": the sample app's metrics, labelled service and version by the app).
   */
  versionsOn?: string;
}

export interface PrometheusHandle {
  /** http://127.0.0.1:PORT (no trailing slash). */
  url: string;
  port: number;
  /** The TSDB folder (inside the temporary folder removed by stop()). */
  dataDir: string;
  /** SIGTERM (SIGKILL after 5 s), then removes the temporary folder. Safe to call more than once, and after kill(). */
  stop(): Promise<void>;
  /** SIGKILL right now, for "Prometheus went away mid-query" tests; call stop() afterwards to remove the folder. */
  kill(): void;
  /** Everything Prometheus wrote to stdout/stderr so far (the last 256 KiB). */
  logs(): string;
}

/** Temporary folders of running test Prometheus servers, removed if the test process exits without stop(). */
const folders = new Set<string>();
process.once('exit', () => folders.forEach((dir) => rmSync(dir, { recursive: true, force: true, maxRetries: 2 })));

/** True when both prometheus and promtool (same Debian package) are installed. */
export function prometheusAvailable(): boolean {
  return existsSync(PROMETHEUS_BIN) && existsSync(PROMTOOL_BIN);
}

export async function startPrometheus(options: StartPrometheusOptions = {}): Promise<PrometheusHandle> {
  if (!prometheusAvailable()) throw new Error(missingMessage());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'opsbook-prometheus-'));
  folders.add(dir);
  try {
    const dataDir = path.join(dir, 'data');
    mkdirSync(dataDir);
    if (options.history !== undefined) backfill(dir, dataDir, options.history);
    const configFile = path.join(dir, 'prometheus.yml');
    const targets = options.scrapeTargets ?? [];
    const proxies = options.proxiesOn ? { name: 'opsbook-proxy', dockerHost: options.proxiesOn, refreshInterval: '1s' } : undefined;
    const versions = options.versionsOn ? { name: 'sample-app', dockerHost: options.versionsOn, refreshInterval: '1s', port: 8080 } : undefined;
    writeFileSync(configFile, prometheusConfig({ interval: '1s', jobs: targets.length > 0 ? [{ name: 'live', targets }] : [], ...(proxies ? { proxies } : {}), ...(versions ? { versions } : {}) }));
    const command = prometheusCommand({ configFile, dataDir, retention: '10y' });
    const server = await startServer({ ...command, cwd: dir, log: path.join(dir, 'prometheus.log') });
    return {
      url: server.url,
      port: server.port,
      dataDir,
      logs: server.logs,
      kill: server.kill,
      stop: async () => {
        await server.stop(5000);
        rmSync(dir, { recursive: true, force: true });
        folders.delete(dir);
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    folders.delete(dir);
    throw error;
  }
}

function missingMessage(): string {
  const install = 'install the Debian package `prometheus` (apt-get install -y --no-install-recommends prometheus; notebooks/stack/install-system-deps.sh does it)';
  const ci = process.env.CI === 'true' ? ' CI=true: Prometheus integration tests must run here, never skip.' : '';
  return `${PROMETHEUS_BIN} or ${PROMTOOL_BIN} not found: ${install}.${ci}`;
}

function backfill(dir: string, dataDir: string, history: string): void {
  const historyFile = path.join(dir, 'history.om');
  writeFileSync(historyFile, history);
  const result = spawnSync(PROMTOOL_BIN, ['tsdb', 'create-blocks-from', 'openmetrics', '--quiet', historyFile, dataDir], { encoding: 'utf8', timeout: 60000 });
  if (result.status !== 0) {
    const reason = result.error ? result.error.message : `exit ${result.status ?? result.signal}`;
    throw new Error(`promtool backfill failed (${reason}):\n${tail(`${result.stdout}${result.stderr}`)}`);
  }
}
