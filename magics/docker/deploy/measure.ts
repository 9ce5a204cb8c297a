// One measurement of an analysis against the notebook's Prometheus (%prometheus, else PROMETHEUS_URL): an instant
// query through %promql's client (its deadline, credentials and one-line errors), its answer turned into a judged
// Measurement. And the dry evaluation a canary runs before anything moves: every query asked once, so a query that
// does not parse, answers several series or a range vector is a usage error while the old version still has all the
// traffic; no data at that point is fine (the new version has had no requests yet).
import { MagicError, UsageError } from '../../../kernel/io/errors';
import type { PrometheusSettings } from '../../lib/notebook-config';
import { RequestAborted, promRequest } from '../../promql/client';
import { Analysis, Measurement, analysisText, judge } from './analysis';

/** Where the analyses are measured: the notebook's Prometheus settings, and the environment holding its secrets. */
export interface MetricsSource {
  settings: PrometheusSettings;
  env: NodeJS.ProcessEnv;
}

/** How long one measurement may take. */
const QUERY_TIMEOUT_MS = 10_000;

/** Why an answer cannot be one analysis value (several series, a range vector); undefined when it can. */
type Reading = { value: number | undefined } | { shape: string };

function sampleValue(text: unknown): number {
  // Prometheus writes NaN, +Inf and -Inf as strings, which Number() reads as NaN, Infinity and -Infinity
  return Number(text);
}

/** The one value of an instant query's `data`, none (empty vector), or why it is not one value. */
export function readAnswer(data: unknown): Reading {
  const d = data as { resultType?: unknown; result?: unknown };
  if (d?.resultType === 'scalar') return { value: sampleValue((d.result as [number, string])[1]) };
  if (d?.resultType === 'vector') {
    const samples = (d.result ?? []) as Array<{ metric: Record<string, string>; value: [number, string] }>;
    if (samples.length === 0) return { value: undefined };
    if (samples.length > 1) {
      const shown = samples.slice(0, 3).map((s) => `{${Object.entries(s.metric).map(([k, v]) => `${k}="${v}"`).join(', ')}}`).join(' ');
      return { shape: `answers ${samples.length} series (${shown}${samples.length > 3 ? ' ...' : ''}); it must answer one value: aggregate it, e.g. sum(...) or max(...)` };
    }
    return { value: sampleValue(samples[0].value[1]) };
  }
  if (d?.resultType === 'matrix') return { shape: 'answers a range vector; it must answer one value: use rate(...[1m]) or *_over_time(...[1m])' };
  return { shape: `answers a ${String(d?.resultType ?? 'result')} it cannot compare` };
}

async function ask(source: MetricsSource, analysis: Analysis, signal: AbortSignal): Promise<Reading> {
  const answer = await promRequest(source.settings, { path: '/api/v1/query', params: { query: analysis.query, timeout: `${QUERY_TIMEOUT_MS / 1000}s` }, timeoutMs: QUERY_TIMEOUT_MS, signal, query: analysis.query }, source.env);
  return readAnswer(answer.data);
}

/** One measurement, judged; a query Prometheus cannot answer now is an error measurement (an interrupt throws). */
export async function measure(source: MetricsSource, analysis: Analysis, signal: AbortSignal): Promise<Measurement> {
  const at = Date.now();
  try {
    const reading = await ask(source, analysis, signal);
    if ('shape' in reading) return { kind: 'error', message: `the query ${reading.shape}`, at };
    return judge(analysis, reading.value, at);
  } catch (e) {
    if (e instanceof RequestAborted) throw e;
    return { kind: 'error', message: (e as Error).message.split('\n')[0], at };
  }
}

/**
 * Asks every analysis once, before the canary starts anything: a query Prometheus refuses, or one that answers more
 * than one value, is a UsageError naming the analysis; no Prometheus, or one that cannot be reached, a MagicError.
 */
export async function checkAnalyses(source: MetricsSource, analyses: readonly Analysis[], signal: AbortSignal): Promise<void> {
  if (analyses.length === 0) return;
  if (!source.settings.url) throw new MagicError('--analysis needs a Prometheus: none is configured', 'set PROMETHEUS_URL before starting the kernel, or run %prometheus http://host:9090; nothing was changed');
  for (const a of analyses) {
    let reading: Reading;
    try {
      reading = await ask(source, a, signal);
    } catch (e) {
      if (e instanceof RequestAborted) throw e;
      const message = (e as Error).message.split('\n')[0];
      // Prometheus's own verdict on the query (bad_data: it does not parse, or a type error) is the user's to fix
      if (/^Prometheus (bad_data|execution) error/.test(message)) throw new UsageError(`--analysis ${a.name}: ${message}; nothing was changed`, `the analysis: ${analysisText(a)}`);
      throw new MagicError(`--analysis ${a.name}: ${message}`, `${(e as MagicError).hint ?? 'check Prometheus'}; nothing was changed`);
    }
    if ('shape' in reading) throw new UsageError(`--analysis ${a.name}: the query ${reading.shape}; nothing was changed`, `the analysis: ${analysisText(a)}`);
  }
}
