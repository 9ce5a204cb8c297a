// The kernel's own metrics, kept on the protocol thread (so a busy cell never stalls a scrape): cells executed
// and failed, magic runs by name and outcome, build durations, deploys and rollbacks by service and outcome.
// Served as Prometheus text on 127.0.0.1:$OPSBOOK_METRICS_PORT/metrics when that is set; without it nothing is
// counted and prom-client is not even loaded. A batch run (`opsbook run --pushgateway`) hands the kernel the
// counters already pushed for its notebook in OPSBOOK_METRICS_BASELINE, so the pushed counters keep counting
// across runs instead of restarting at zero.
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import type * as Prom from 'prom-client';
import type { OpsEvent } from './io/io';
import { log } from './log';

export interface KernelMetrics {
  cell(status: string): void;
  event(event: OpsEvent): void;
  close(): Promise<void>;
}

const NONE: KernelMetrics = { cell: () => undefined, event: () => undefined, close: async () => undefined };

class PromMetrics implements KernelMetrics {
  readonly registry: Prom.Registry;
  private readonly cells: Prom.Counter<'status'>;
  private readonly magics: Prom.Histogram<'magic' | 'outcome'>;
  private readonly builds: Prom.Histogram<'outcome'>;
  private readonly deploys: Prom.Counter<'service' | 'outcome'>;
  private readonly rollbacks: Prom.Counter<'service' | 'outcome'>;
  private readonly restores: Prom.Counter<'service'>;
  private readonly restoreSeconds: Prom.Counter<'service'>;
  /** The counters by name, with their label names: what a baseline may seed. */
  private readonly counters: Map<string, { counter: Prom.Counter<string>; labelNames: string[] }>;
  private readonly services = new Set<string>();
  private server: http.Server | undefined;

  constructor(prom: typeof Prom) {
    this.registry = new prom.Registry();
    const registers = [this.registry];
    this.cells = new prom.Counter({ name: 'opsbook_cells_executed_total', help: 'Cells executed, by reply status (ok, error, aborted)', labelNames: ['status'], registers });
    this.magics = new prom.Histogram({ name: 'opsbook_magic_duration_seconds', help: 'Magic runs, by magic and outcome (ok, usage, error, interrupted)', labelNames: ['magic', 'outcome'], buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300], registers });
    this.builds = new prom.Histogram({ name: 'opsbook_build_duration_seconds', help: '%build durations, by outcome', labelNames: ['outcome'], buckets: [1, 5, 10, 30, 60, 120, 300, 600], registers });
    this.deploys = new prom.Counter({ name: 'opsbook_deploys_total', help: 'Deploys, by service and outcome (deployed, failed)', labelNames: ['service', 'outcome'], registers });
    this.rollbacks = new prom.Counter({ name: 'opsbook_rollbacks_total', help: 'Rollbacks, by service and outcome (rolled back, failed)', labelNames: ['service', 'outcome'], registers });
    this.restores = new prom.Counter({ name: 'opsbook_restores_total', help: 'Services restored: the first successful deploy or rollback after a failed deploy or a rollback, or a canary that rolled itself back', labelNames: ['service'], registers });
    this.restoreSeconds = new prom.Counter({ name: 'opsbook_restore_seconds_total', help: 'Seconds from the failure to its restore, summed over restores (mean time to restore = this / opsbook_restores_total)', labelNames: ['service'], registers });
    this.counters = new Map([
      ['opsbook_cells_executed_total', { counter: this.cells, labelNames: ['status'] }],
      ['opsbook_deploys_total', { counter: this.deploys, labelNames: ['service', 'outcome'] }],
      ['opsbook_rollbacks_total', { counter: this.rollbacks, labelNames: ['service', 'outcome'] }],
      ['opsbook_restores_total', { counter: this.restores, labelNames: ['service'] }],
      ['opsbook_restore_seconds_total', { counter: this.restoreSeconds, labelNames: ['service'] }],
    ]);
  }

  /** Adds counts carried over from earlier runs; returns what it could not use, one reason per entry. */
  seed(baseline: unknown): string[] {
    if (!Array.isArray(baseline)) return ['the baseline is not a JSON array'];
    const problems: string[] = [];
    for (const entry of baseline as unknown[]) {
      const { name, labels, value } = (entry ?? {}) as { name?: unknown; labels?: unknown; value?: unknown };
      const known = typeof name === 'string' ? this.counters.get(name) : undefined;
      const labelValues = labels && typeof labels === 'object' ? (labels as Record<string, unknown>) : {};
      if (!known) problems.push(`${String(name)}: not a counter of this kernel`);
      else if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) problems.push(`${String(name)}: value ${String(value)} is not a count`);
      else if (known.labelNames.some((l) => typeof labelValues[l] !== 'string')) problems.push(`${String(name)}: needs the labels ${known.labelNames.join(', ')}`);
      else if (value > 0) known.counter.inc(Object.fromEntries(known.labelNames.map((l) => [l, labelValues[l] as string])), value);
    }
    return problems;
  }

  cell(status: string): void {
    this.cells.inc({ status });
  }

  event(e: OpsEvent): void {
    if (e.kind === 'magic') this.magics.observe({ magic: e.name, outcome: e.outcome }, e.seconds);
    else if (e.kind === 'build') this.builds.observe({ outcome: e.outcome }, e.seconds);
    else if (e.kind === 'deploy' || e.kind === 'rollback') {
      this.startService(e.service);
      (e.kind === 'deploy' ? this.deploys : this.rollbacks).inc({ service: e.service, outcome: e.outcome });
    }
    else if (e.kind === 'restore') {
      this.restores.inc({ service: e.service });
      this.restoreSeconds.inc({ service: e.service }, e.seconds);
    }
  }

  /**
   * A service's first deploy or rollback starts all its series at 0: Prometheus's increase() ignores a series'
   * first sample, so a failure or restore counted on a series that appears with 1 would never show.
   */
  private startService(service: string): void {
    if (this.services.has(service)) return;
    this.services.add(service);
    for (const outcome of ['deployed', 'failed']) this.deploys.inc({ service, outcome }, 0);
    for (const outcome of ['rolled back', 'failed']) this.rollbacks.inc({ service, outcome }, 0);
    this.restores.inc({ service }, 0);
    this.restoreSeconds.inc({ service }, 0);
  }

  serve(port: number): void {
    this.server = http.createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end('see /metrics\n');
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'Content-Type': this.registry.contentType }).end(text),
        (e: Error) => res.writeHead(500).end(`${e.message}\n`),
      );
    });
    this.server.on('error', (e) => log.warn(`metrics: cannot serve on 127.0.0.1:${port} (${e.message}); the kernel runs without /metrics`));
    this.server.listen(port, '127.0.0.1');
    this.server.unref();
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

function seedFromFile(metrics: PromMetrics, file: string): void {
  let baseline: unknown;
  try {
    baseline = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    log.warn(`metrics: OPSBOOK_METRICS_BASELINE=${file} cannot be read (${(e as Error).message}); counters start at zero`);
    return;
  }
  for (const problem of metrics.seed(baseline)) log.warn(`metrics: baseline entry skipped: ${problem}`);
}

/** The kernel's metrics: served on OPSBOOK_METRICS_PORT when it is set, nothing otherwise. */
export function kernelMetrics(env: NodeJS.ProcessEnv = process.env): KernelMetrics {
  const port = Number(env.OPSBOOK_METRICS_PORT);
  if (!env.OPSBOOK_METRICS_PORT) return NONE;
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    log.warn(`metrics: OPSBOOK_METRICS_PORT=${env.OPSBOOK_METRICS_PORT} is not a port; the kernel runs without /metrics`);
    return NONE;
  }
  const metrics = new PromMetrics(require('prom-client') as typeof Prom);
  if (env.OPSBOOK_METRICS_BASELINE) seedFromFile(metrics, env.OPSBOOK_METRICS_BASELINE);
  metrics.serve(port);
  return metrics;
}
