// Prometheus and the Pushgateway as the local stack and the tests run them (Debian's binaries, never the packaged
// services): the one writer of prometheus.yml and the two command lines, for startServer() in ./server. Besides static
// jobs, prometheus.yml can discover the proxies opsbook puts in front of deployed services through the Docker socket
// (docker_sd_configs, in Prometheus since 2.20) and scrape HAProxy's own exporter on each, labelled by version, and
// the versions of the deployed services themselves, each container on its own address, so every version's metrics
// are scraped every time even while a canary shares the requests between two of them.
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

/** The proxies of deployed services, found through the engine's socket. */
export interface ProxyScrapeJob {
  name: string;
  /** The engine Prometheus asks, e.g. "unix:///var/run/docker.sock" (the proxies' published ports must be local). */
  dockerHost: string;
  /** How often the container list is refreshed, e.g. "2s": a proxy created by a deploy is scraped within it. */
  refreshInterval: string;
}

/** The versions of deployed services (every container labelled opsbook.service that is not a proxy), found the same way. */
export interface VersionScrapeJob {
  name: string;
  dockerHost: string;
  refreshInterval: string;
  /** The container port the service answers /metrics on (the sample app: 8080). */
  port: number;
}

/** The label on the proxy container a deploy creates (the rest is in magics/docker/proxy/proxy.ts). */
export const PROXY_ROLE_LABEL = 'opsbook.role=proxy';
/** The label key every container of a deployed service carries (its value: the service). */
const SERVICE_LABEL_KEY = 'opsbook.service';

export interface PrometheusConfig {
  /** Scrape interval, scrape timeout and rule evaluation interval, e.g. "2s". */
  interval: string;
  jobs: ScrapeJob[];
  /** Scrape every opsbook proxy on the engine (HAProxy's promex /metrics). */
  proxies?: ProxyScrapeJob;
  /** Scrape every version of every deployed service directly on its container address (not through its proxy). */
  versions?: VersionScrapeJob;
  /** A comment line at the top of the file (who wrote it). */
  comment?: string;
}

/**
 * The scrape job of the proxies. Docker SD makes one target per published port of each container labelled
 * opsbook.role=proxy. A proxy publishes the service's ports as HOST:HOST (each frontend binds the host port inside
 * the proxy too) and its metrics frontend on an engine-picked port of 127.0.0.1, so the metrics target is the one
 * whose public port differs from its private port (dropequal, Prometheus ≥ 2.41); it is scraped on
 * 127.0.0.1:<public port>. Targets get service (the container's opsbook.service label) and container. Each series of
 * a server gets version: promex names it server="<version>:<container>" (see serverName in magics/docker/proxy/
 * config.ts), so `sum by (version) (rate(haproxy_server_http_responses_total[20s]))` tells versions apart.
 */
function proxyJob(job: ProxyScrapeJob): Record<string, unknown> {
  return {
    job_name: job.name,
    metrics_path: '/metrics',
    docker_sd_configs: [{ host: job.dockerHost, refresh_interval: job.refreshInterval, filters: [{ name: 'label', values: [PROXY_ROLE_LABEL] }] }],
    relabel_configs: [
      // exposed but unpublished ports have no public port: nothing to scrape from the host
      { source_labels: ['__meta_docker_port_public'], regex: '', action: 'drop' },
      // the service's own ports (HOST:HOST) go; the metrics port (engine-picked public port) stays
      { source_labels: ['__meta_docker_port_private'], target_label: '__meta_docker_port_public', action: 'dropequal' },
      { source_labels: ['__meta_docker_port_public'], target_label: '__address__', replacement: '127.0.0.1:$1' },
      { source_labels: ['__meta_docker_container_label_opsbook_service'], target_label: 'service' },
      { source_labels: ['__meta_docker_container_name'], regex: '/?(.*)', target_label: 'container' },
    ],
    metric_relabel_configs: [
      { source_labels: ['server'], regex: '([^:]+):.+', target_label: 'version', replacement: '$1' },
    ],
  };
}

/**
 * The scrape job of the versions. Scraped through its proxy, a service would answer each scrape from one version
 * only (the one the proxy picked), so during a canary the new version's series would have a sample now and then;
 * scraped on each container's own address (its IP on the service's network, reachable from the engine's host), every
 * version is scraped every interval. Docker SD makes one target per exposed port and network of each running
 * container labelled opsbook.service; the proxies go (they have their own job), Swarm tasks go, and only the
 * service's metrics port stays. Targets get container; the service and version labels come from the service's own metrics.
 */
function versionsJob(job: VersionScrapeJob): Record<string, unknown> {
  return {
    job_name: job.name,
    metrics_path: '/metrics',
    docker_sd_configs: [{ host: job.dockerHost, refresh_interval: job.refreshInterval, filters: [{ name: 'label', values: [SERVICE_LABEL_KEY] }] }],
    relabel_configs: [
      { source_labels: ['__meta_docker_container_label_opsbook_role'], regex: '.+', action: 'drop' },
      // a Swarm service's tasks carry the label too, but sit on an overlay network the host cannot reach
      { source_labels: ['__meta_docker_container_label_com_docker_swarm_task_id'], regex: '.+', action: 'drop' },
      { source_labels: ['__meta_docker_port_private'], regex: String(job.port), action: 'keep' },
      { source_labels: ['__meta_docker_container_name'], regex: '/?(.*)', target_label: 'container' },
    ],
  };
}

/** prometheus.yml: one global interval, one static job per entry, and the proxies' and versions' jobs when asked for. */
export function prometheusConfig(config: PrometheusConfig): string {
  const document = {
    global: { scrape_interval: config.interval, scrape_timeout: config.interval, evaluation_interval: config.interval },
    scrape_configs: [
      ...config.jobs.map((job) => ({
        job_name: job.name,
        ...(job.honorLabels ? { honor_labels: true } : {}),
        static_configs: [{ targets: job.targets }],
      })),
      ...(config.proxies ? [proxyJob(config.proxies)] : []),
      ...(config.versions ? [versionsJob(config.versions)] : []),
    ],
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
