// What a %promql line or %%promql cell asks for: the queries (one per body line, with an optional `# legend`
// after it), the time range and the step, from the options and the clock.
import { MagicError, UsageError } from '../../kernel/io/errors';
import { autoStep, formatDuration, MAX_POINTS_PER_SERIES, parseDuration, parseTime } from '../lib/time';

export interface PromqlQuery {
  expr: string;
  /** Legend template for this query's series (`# {{instance}}` after it, else --legend). */
  legend?: string;
}

export interface QueryRange {
  start: number;
  end: number;
  step: number;
  /** For messages: "the last 1h", "2026-11-25 10:00 to 12:00 UTC". */
  text: string;
}

/** `rate(x[5m])  # {{instance}}`: the query and its legend. PromQL comments start with `#` too. */
function splitLegend(line: string): PromqlQuery {
  const hash = line.indexOf('#');
  if (hash < 0) return { expr: line.trim() };
  const legend = line.slice(hash + 1).trim();
  return { expr: line.slice(0, hash).trim(), legend: legend === '' ? undefined : legend };
}

/** The queries of a line magic (its positional text) or a cell magic (one per non-empty body line). */
export function queriesOf(lineText: string, body: string | undefined, legend: string | undefined): PromqlQuery[] {
  const queries: PromqlQuery[] = [];
  if (lineText.trim() !== '') queries.push({ expr: lineText.trim(), legend });
  for (const line of (body ?? '').split('\n')) {
    if (line.trim() === '' || line.trim().startsWith('#')) continue;
    const q = splitLegend(line);
    queries.push({ expr: q.expr, legend: q.legend ?? legend });
  }
  if (queries.length === 0) throw new UsageError('%promql: no query given', 'usage: %promql [options] <query>, or %%promql [options] with one query per line below');
  return queries;
}

function utc(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, ' UTC');
}

/** The range and step from --since / --start / --end / --step and the chart width (Grafana's automatic step). */
export function rangeOf(options: Record<string, unknown>, nowSeconds: number, widthPixels: number): QueryRange {
  const time = (name: string): number | undefined => {
    const v = options[name];
    if (typeof v !== 'string') return undefined;
    try {
      return parseTime(v, nowSeconds);
    } catch (e) {
      throw new UsageError(`%promql: --${name}: ${(e as Error).message}`);
    }
  };
  const duration = (name: string): number | undefined => {
    const v = options[name];
    if (typeof v !== 'string') return undefined;
    try {
      return parseDuration(v);
    } catch (e) {
      throw new UsageError(`%promql: --${name}: ${(e as Error).message}`);
    }
  };
  const end = time('end') ?? nowSeconds;
  const since = duration('since');
  const startOption = time('start');
  if (startOption !== undefined && since !== undefined) throw new UsageError('%promql: give --since or --start, not both');
  const start = startOption ?? end - (since ?? 3600);
  if (!(start < end)) throw new UsageError(`%promql: the range is empty: start ${utc(start)} is not before end ${utc(end)}`);
  const step = duration('step') ?? autoStep(start, end, widthPixels);
  if (step <= 0) throw new UsageError('%promql: --step must be positive');
  if ((end - start) / step > MAX_POINTS_PER_SERIES) {
    throw new MagicError(`%promql: ${formatDuration(end - start)} at --step ${formatDuration(step)} is over ${MAX_POINTS_PER_SERIES.toLocaleString('en-US')} points per series`, `use a --step of at least ${formatDuration(Math.ceil((end - start) / MAX_POINTS_PER_SERIES))}, or leave --step out`);
  }
  const text = startOption === undefined && options.end === undefined ? `the last ${formatDuration(end - start)}` : `${utc(start)} to ${utc(end)}`;
  return { start, end, step, text };
}
