// Starts a real Prometheus (Debian's /usr/bin/prometheus) on a free loopback port with its own config and a fresh
// TSDB in a temporary folder, optionally backfilled with OpenMetrics history through promtool, for integration tests.
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from './kernel-process';
import { captureLog } from './child-log';

export const PROMETHEUS_BIN = '/usr/bin/prometheus';
export const PROMTOOL_BIN = '/usr/bin/promtool';

export interface StartPrometheusOptions {
  /** OpenMetrics text (see prom-history.ts) backfilled into the TSDB before start; keep it strictly in the past. */
  history?: string;
  /** "127.0.0.1:PORT" targets scraped every 1 s under job "live". */
  scrapeTargets?: string[];
  /** Raw YAML appended at the top level of prometheus.yml (e.g. `rule_files:`); not `global` or `scrape_configs`. */
  extraConfig?: string;
  /** More command-line flags, e.g. `--query.timeout=2s`. */
  extraFlags?: string[];
  /** How long to wait for /-/ready; default 20000 ms. */
  readyTimeoutMs?: number;
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

const START_ATTEMPTS = 3;
/** Live Prometheus processes and their temporary folders, killed and removed if the test process exits without stop(). */
const running = new Map<ChildProcess, string>();
process.once('exit', () => running.forEach((dir, child) => {
  child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true, maxRetries: 2 });
}));

/** True when both prometheus and promtool (same Debian package) are installed. */
export function prometheusAvailable(): boolean {
  return existsSync(PROMETHEUS_BIN) && existsSync(PROMTOOL_BIN);
}

export async function startPrometheus(options: StartPrometheusOptions = {}): Promise<PrometheusHandle> {
  if (!prometheusAvailable()) throw new Error(missingMessage());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'opsbook-prometheus-'));
  try {
    const dataDir = path.join(dir, 'data');
    mkdirSync(dataDir);
    if (options.history !== undefined) backfill(dir, dataDir, options.history);
    const configFile = path.join(dir, 'prometheus.yml');
    writeFileSync(configFile, prometheusConfig(options));
    return await startWithRetries(dir, dataDir, configFile, options);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

function missingMessage(): string {
  const install = 'install the Debian package `prometheus` (apt-get install -y --no-install-recommends prometheus; test/support/install-system-deps.sh does it)';
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

function prometheusConfig(options: StartPrometheusOptions): string {
  const targets = options.scrapeTargets ?? [];
  const lines = ['global:', '  scrape_interval: 1s', '  scrape_timeout: 1s', '  evaluation_interval: 1s'];
  if (targets.length === 0) lines.push('scrape_configs: []');
  else lines.push('scrape_configs:', '  - job_name: live', '    scrape_interval: 1s', '    scrape_timeout: 1s', '    static_configs:', `      - targets: [${targets.map((t) => JSON.stringify(t)).join(', ')}]`);
  if (options.extraConfig) lines.push(options.extraConfig);
  return lines.join('\n') + '\n';
}

/** A port picked by freePort() can be taken before Prometheus binds it; try a fresh one a few times. */
async function startWithRetries(dir: string, dataDir: string, configFile: string, options: StartPrometheusOptions): Promise<PrometheusHandle> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const handle = launch(dir, dataDir, configFile, port, options.extraFlags ?? []);
    try {
      await waitReady(handle, options.readyTimeoutMs ?? 20000);
      return handle.api;
    } catch (error) {
      handle.api.kill();
      await handle.exited;
      if (attempt >= START_ATTEMPTS || !/address already in use/.test(handle.api.logs())) throw error;
    }
  }
}

interface Launched {
  api: PrometheusHandle;
  child: ChildProcess;
  exited: Promise<void>;
}

function launch(dir: string, dataDir: string, configFile: string, port: number, extraFlags: string[]): Launched {
  const args = [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${dataDir}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--storage.tsdb.retention.time=10y',
    ...extraFlags,
  ];
  const child = spawn(PROMETHEUS_BIN, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  running.set(child, dir);
  const log = captureLog(child);
  const exited = new Promise<void>((resolve) => {
    const done = (): void => {
      running.delete(child);
      resolve();
    };
    child.once('exit', done);
    child.once('error', (error) => {
      log.note(`spawn error: ${error.message}`);
      done();
    });
  });
  const api: PrometheusHandle = {
    url: `http://127.0.0.1:${port}`,
    port,
    dataDir,
    logs: log.text,
    kill: () => {
      if (isRunning(child)) child.kill('SIGKILL');
    },
    stop: async () => {
      await terminate(child, exited);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return { api, child, exited };
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null && running.has(child);
}

async function terminate(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (!isRunning(child)) return exited;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

async function waitReady(launched: Launched, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const readyUrl = `${launched.api.url}/-/ready`;
  while (Date.now() < deadline) {
    if (!isRunning(launched.child)) {
      const how = launched.child.exitCode !== null ? `exit code ${launched.child.exitCode}` : `signal ${launched.child.signalCode ?? 'unknown'}`;
      throw new Error(`Prometheus exited (${how}) before ${readyUrl} was ready; log tail:\n${tail(launched.api.logs())}`);
    }
    if ((await httpStatus(readyUrl)) === 200) return;
    await sleep(100);
  }
  throw new Error(`Prometheus at ${readyUrl} not ready after ${timeoutMs} ms; log tail:\n${tail(launched.api.logs())}`);
}

/** The HTTP status of a GET, or 0 when the request fails (refused, reset, timed out). */
function httpStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const request = get(url, { timeout: 1000 }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(0));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function tail(text: string, lines = 30): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
