// Prometheus and the Pushgateway as the local stack and the tests run them (Debian's binaries, never the packaged
// services): the one writer of prometheus.yml and the two command lines, for startServer() in ./server.
import { stringify } from 'yaml';
import type { ServerCommand } from './server';

export const PROMETHEUS_BIN = '/usr/bin/prometheus';
/** Ships with Prometheus (same Debian package); backfills history into a TSDB. */
export const PROMTOOL_BIN = '/usr/bin/promtool';
export const PUSHGATEWAY_BIN = '/usr/bin/prometheus-pushgateway';

export interface ScrapeJob {
  name: string;
  /** "host:port" targets. */
  targets: string[];
  /** Keep the job/instance labels the target reports (the Pushgateway's pushed groups). */
  honorLabels?: boolean;
}

export interface PrometheusConfig {
  /** Scrape interval, scrape timeout and rule evaluation interval, e.g. "2s". */
  interval: string;
  jobs: ScrapeJob[];
  /** A comment line at the top of the file (who wrote it). */
  comment?: string;
}

/** prometheus.yml: one global interval, one static job per entry. */
export function prometheusConfig(config: PrometheusConfig): string {
  const document = {
    global: { scrape_interval: config.interval, scrape_timeout: config.interval, evaluation_interval: config.interval },
    scrape_configs: config.jobs.map((job) => ({
      job_name: job.name,
      ...(job.honorLabels ? { honor_labels: true } : {}),
      static_configs: [{ targets: job.targets }],
    })),
  };
  return `${config.comment ? `# ${config.comment}\n` : ''}${stringify(document)}`;
}

export interface PrometheusFiles {
  configFile: string;
  /** The TSDB folder. */
  dataDir: string;
  /** --storage.tsdb.retention.time, e.g. "90d". */
  retention: string;
}

/** /usr/bin/prometheus with its config, TSDB and retention, listening on 127.0.0.1:<port>. */
export function prometheusCommand(files: PrometheusFiles): ServerCommand {
  return {
    binary: PROMETHEUS_BIN,
    args: (port) => [
      `--config.file=${files.configFile}`,
      `--storage.tsdb.path=${files.dataDir}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--storage.tsdb.retention.time=${files.retention}`,
    ],
  };
}

export interface PushgatewayOptions {
  /** Where pushed metrics are saved every 5 s and read back at start; without it they live in memory only. */
  persistenceFile?: string;
  /** --log.level (default: the Pushgateway's, info). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

/** /usr/bin/prometheus-pushgateway listening on 127.0.0.1:<port>. */
export function pushgatewayCommand(options: PushgatewayOptions = {}): ServerCommand {
  const persistence = options.persistenceFile ? [`--persistence.file=${options.persistenceFile}`, '--persistence.interval=5s'] : ['--persistence.file='];
  return {
    binary: PUSHGATEWAY_BIN,
    args: (port) => [`--web.listen-address=127.0.0.1:${port}`, ...persistence, ...(options.logLevel ? [`--log.level=${options.logLevel}`] : [])],
  };
}
