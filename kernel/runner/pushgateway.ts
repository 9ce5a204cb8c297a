// `opsbook run --pushgateway URL`: the run's metrics go to a Prometheus Pushgateway, in the group
// {job="opsbook", notebook="<name>"}. Before the run, the group's opsbook_* counters are read back (GET
// /api/v1/metrics) as the kernel's baseline, so counters keep counting across runs; after it, the kernel's own
// /metrics plus the runner's gauges replace the group (PUT /metrics/job/opsbook/notebook/<name>).
import * as Prom from 'prom-client';
import { SetupError, messageOf } from './errors';

export const JOB = 'opsbook';
const CHECK_TIMEOUT_MS = 3000;
const PUSH_TIMEOUT_MS = 10_000;

/** One counter sample of the baseline file the kernel reads (OPSBOOK_METRICS_BASELINE). */
export interface BaselineSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export class PushError extends Error {
  override name = 'PushError';
}

/** The Pushgateway's base URL without a trailing slash; a SetupError when it is not http(s). */
export function normalizeUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SetupError(`--pushgateway ${url} is not a URL (e.g. http://127.0.0.1:9091)`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new SetupError(`--pushgateway ${url} must be an http:// or https:// URL`);
  return url.replace(/\/+$/, '');
}

/** The path of a grouping-key label value: plain when it is safe, else the `@base64` form (URL-safe base64). */
function labelPath(name: string, value: string): string {
  if (/^[A-Za-z0-9_.~-]+$/.test(value)) return `${name}/${value}`;
  return `${name}@base64/${Buffer.from(value, 'utf8').toString('base64url') || '='}`;
}

/** URL of the run's group: `<base>/metrics/job/opsbook/notebook/<name>`. */
export function groupUrl(base: string, notebook: string): string {
  return `${base}/metrics/job/${JOB}/${labelPath('notebook', notebook)}`;
}

function describeFetchError(e: unknown, timeoutMs: number): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  if ((e as Error).name === 'TimeoutError' || (e as Error).name === 'AbortError') return `no answer within ${timeoutMs / 1000} s`;
  return cause?.code ?? cause?.message ?? messageOf(e);
}

interface ApiMetric {
  type?: string;
  metrics?: Array<{ labels?: Record<string, string>; value?: string }>;
}

/** The group's opsbook_* counters in the JSON of GET /api/v1/metrics, without the grouping labels. */
export function baselineFromApi(api: unknown, notebook: string): BaselineSample[] {
  const groups = (api as { data?: unknown } | null)?.data;
  if (!Array.isArray(groups)) return [];
  const group = groups.find((g) => {
    const labels = (g as { labels?: Record<string, string> }).labels ?? {};
    const keys = Object.keys(labels);
    return keys.length === 2 && labels.job === JOB && labels.notebook === notebook;
  }) as Record<string, unknown> | undefined;
  if (!group) return [];
  const out: BaselineSample[] = [];
  for (const [name, metric] of Object.entries(group)) {
    if (!name.startsWith('opsbook_') || !metric || typeof metric !== 'object') continue;
    const m = metric as ApiMetric;
    if (m.type !== 'COUNTER') continue;
    for (const sample of m.metrics ?? []) {
      const value = Number(sample.value);
      if (!Number.isFinite(value)) continue;
      const labels: Record<string, string> = {};
      for (const [k, v] of Object.entries(sample.labels ?? {})) if (k !== 'job' && k !== 'notebook' && k !== 'instance') labels[k] = v;
      out.push({ name, labels, value });
    }
  }
  return out;
}

/**
 * Checks the Pushgateway answers (3 s) and reads the group's counters. A SetupError (exit 2, before any cell
 * runs) when it does not answer or answers with something else.
 */
export async function readBaseline(base: string, notebook: string): Promise<BaselineSample[]> {
  const url = `${base}/api/v1/metrics`;
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(CHECK_TIMEOUT_MS) });
  } catch (e) {
    throw new SetupError(`the Pushgateway at ${base} does not answer (${describeFetchError(e, CHECK_TIMEOUT_MS)}): check --pushgateway and that it runs`);
  }
  if (!response.ok) throw new SetupError(`the Pushgateway at ${base} answered ${url} with HTTP ${response.status}: is this a Pushgateway (1.0 or later)?`);
  let json: unknown;
  try {
    json = await response.json();
  } catch {
    throw new SetupError(`the Pushgateway at ${base} answered ${url} with something that is not JSON: is this a Pushgateway?`);
  }
  return baselineFromApi(json, notebook);
}

/** The kernel's /metrics text, from 127.0.0.1:<port>. */
export async function scrapeKernel(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(CHECK_TIMEOUT_MS) });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.text();
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** The baseline as Prometheus text: what is pushed when the kernel could not be scraped, so no count is lost. */
export function baselineAsText(baseline: BaselineSample[]): string {
  const byName = new Map<string, BaselineSample[]>();
  for (const s of baseline) byName.set(s.name, [...(byName.get(s.name) ?? []), s]);
  const lines: string[] = [];
  for (const [name, samples] of byName) {
    lines.push(`# TYPE ${name} counter`);
    for (const s of samples) {
      const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',');
      lines.push(`${name}${labels ? `{${labels}}` : ''} ${s.value}`);
    }
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}

export interface RunSummary {
  endedAt: Date;
  success: boolean;
  durationSeconds: number;
  cells: Record<string, number>;
}

/** The runner's own gauges, rendered by a prom-client Registry. */
export async function runnerMetrics(summary: RunSummary): Promise<string> {
  const registry = new Prom.Registry();
  const registers = [registry];
  new Prom.Gauge({ name: 'opsbook_runbook_last_run_timestamp_seconds', help: 'When the last opsbook run of this notebook ended (Unix time)', registers }).set(summary.endedAt.getTime() / 1000);
  new Prom.Gauge({ name: 'opsbook_runbook_last_run_success', help: 'Whether the last opsbook run of this notebook succeeded (1) or failed (0)', registers }).set(summary.success ? 1 : 0);
  new Prom.Gauge({ name: 'opsbook_runbook_last_run_duration_seconds', help: 'How long the last opsbook run of this notebook took', registers }).set(summary.durationSeconds);
  const cells = new Prom.Gauge({ name: 'opsbook_runbook_cells', help: 'Cells of the last opsbook run of this notebook, by papermill status', labelNames: ['status'], registers });
  for (const [status, n] of Object.entries(summary.cells)) cells.set({ status }, n);
  return registry.metrics();
}

/** PUT the text to the run's group, replacing it. A PushError says what failed. */
export async function push(base: string, notebook: string, text: string): Promise<void> {
  const url = groupUrl(base, notebook);
  let response: Response;
  try {
    response = await fetch(url, { method: 'PUT', body: text, headers: { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }, signal: AbortSignal.timeout(PUSH_TIMEOUT_MS) });
  } catch (e) {
    throw new PushError(`could not push the run's metrics to ${url}: ${describeFetchError(e, PUSH_TIMEOUT_MS)}`);
  }
  if (!response.ok) {
    const body = (await response.text().catch(() => '')).trim().split('\n')[0];
    throw new PushError(`the Pushgateway refused the run's metrics (PUT ${url}: HTTP ${response.status}${body ? `, ${body}` : ''})`);
  }
}
