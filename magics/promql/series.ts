// Prometheus HTTP API results (the `data` field of /api/v1/query and /api/v1/query_range) turned into
// chart-ready series and table rows: string samples parsed, NaN/±Inf and missing steps made gaps (null) so
// lines break, series in a stable order, and Grafana-style legend names. Pure: no I/O, no clock.

export type Labels = Record<string, string>;

/** A sample as the API sends it: [unix seconds, value as a string ("1.5", "NaN", "+Inf")]. */
export type SamplePair = [number, string];

export interface MatrixSeries {
  metric: Labels;
  /** Float samples. A series of native histograms has `histograms` instead; those are not charted. */
  values?: SamplePair[];
  histograms?: [number, unknown][];
}

export interface VectorSample {
  metric: Labels;
  value: SamplePair;
}

export interface MatrixData {
  resultType: 'matrix';
  result: MatrixSeries[];
}

export interface VectorData {
  resultType: 'vector';
  result: VectorSample[];
}

export interface ScalarData {
  resultType: 'scalar';
  result: SamplePair;
}

export interface StringData {
  resultType: 'string';
  result: SamplePair;
}

export type QueryData = MatrixData | VectorData | ScalarData | StringData;

/** The envelope of every Prometheus API answer. */
export interface PrometheusResponse<Data = QueryData> {
  status: 'success' | 'error';
  data?: Data;
  errorType?: string;
  error?: string;
  warnings?: string[];
  infos?: string[];
}

/** One line of a chart: values on the query's step grid, null where there is no finite sample. */
export interface Series {
  labels: Labels;
  name: string;
  /** Seconds since the epoch, every step from the series' first sample to its last. */
  timestamps: number[];
  values: (number | null)[];
}

/** One row of an instant query: value may be NaN or ±Infinity (shown as Prometheus writes them). */
export interface InstantRow {
  labels: Labels;
  name: string;
  /** Seconds since the epoch of the sample. */
  timestamp: number;
  value: number;
}

export interface StepGrid {
  /** Seconds since the epoch, as sent to query_range. */
  start: number;
  end: number;
  /** Seconds. */
  step: number;
}

const METRIC_NAME = '__name__';

/** A sample value as a number, with Prometheus's spellings of infinity ("+Inf", "-Inf", "NaN"). */
export function parseSampleValue(text: string): number {
  switch (text) {
    case '+Inf':
    case 'Inf':
      return Infinity;
    case '-Inf':
      return -Infinity;
    default:
      return Number(text);
  }
}

/** A sample value for a chart: NaN, ±Inf (and anything unparsable) become null, a gap. */
export function chartValue(text: string): number | null {
  // Number() reads "+Inf", "-Inf" and "NaN" as NaN: all of them are gaps, no need to tell them apart here
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}

/** Range query result → series sorted by label set, each on the step grid with gaps as null. */
export function matrixToSeries(result: MatrixSeries[], grid: StepGrid, legend?: string, query?: string): Series[] {
  const stepMs = toMilliseconds(grid.step);
  if (!(stepMs > 0)) throw new Error(`the step must be positive, got ${grid.step}`);
  const startMs = toMilliseconds(grid.start);
  return sortByLabels(result).map((entry) => ({
    labels: entry.metric,
    name: legendName(legend, entry.metric, query ?? '{}'),
    ...placeOnGrid(entry.values ?? [], startMs, stepMs),
  }));
}

function toMilliseconds(seconds: number): number {
  return Math.round(seconds * 1000);
}

/** Samples → one slot per step between the first and last sample; steps without a sample stay null. */
function placeOnGrid(samples: SamplePair[], startMs: number, stepMs: number): Pick<Series, 'timestamps' | 'values'> {
  if (samples.length === 0) return { timestamps: [], values: [] };
  const slotOf = (seconds: number): number => Math.round((seconds * 1000 - startMs) / stepMs);
  const firstSlot = slotOf(samples[0][0]);
  const slots = Math.max(slotOf(samples[samples.length - 1][0]) - firstSlot + 1, 0);
  // packed arrays (push / fill), not holey ones: V8 keeps them fast to fill and to serialise
  const timestamps: number[] = [];
  for (let index = 0; index < slots; index++) timestamps.push((startMs + (firstSlot + index) * stepMs) / 1000);
  const values: (number | null)[] = new Array<number | null>(slots).fill(null);
  for (let i = 0; i < samples.length; i++) {
    const sample = samples[i];
    const index = slotOf(sample[0]) - firstSlot;
    if (index >= 0 && index < slots) {
      const value = Number(sample[1]);
      values[index] = Number.isFinite(value) ? value : null;
    }
  }
  return { timestamps, values };
}

/** Instant query result → rows sorted by label set. */
export function vectorToRows(result: VectorSample[], legend?: string, query?: string): InstantRow[] {
  return sortByLabels(result).map((entry) => ({
    labels: entry.metric,
    name: legendName(legend, entry.metric, query ?? '{}'),
    timestamp: entry.value[0],
    value: parseSampleValue(entry.value[1]),
  }));
}

/** A scalar (or string) result as one unlabelled row, so it can share the table code. */
export function scalarToRows(result: SamplePair, query?: string): InstantRow[] {
  return [{ labels: {}, name: query ?? 'scalar', timestamp: result[0], value: parseSampleValue(result[1]) }];
}

/** A sorted copy, in a deterministic order: metric name first, then labels by key. */
function sortByLabels<Entry extends { metric: Labels }>(entries: Entry[]): Entry[] {
  return [...entries].sort((left, right) => compareLabelSets(left.metric, right.metric));
}

/** Orders label sets by __name__, then by their (key, value) pairs in key order; fewer pairs first on a tie. */
export function compareLabelSets(left: Labels, right: Labels): number {
  const byName = compareText(left[METRIC_NAME] ?? '', right[METRIC_NAME] ?? '');
  if (byName !== 0) return byName;
  const leftPairs = sortedPairs(left);
  const rightPairs = sortedPairs(right);
  for (let index = 0; index < Math.min(leftPairs.length, rightPairs.length); index++) {
    const byKey = compareText(leftPairs[index][0], rightPairs[index][0]);
    if (byKey !== 0) return byKey;
    const byValue = compareText(leftPairs[index][1], rightPairs[index][1]);
    if (byValue !== 0) return byValue;
  }
  return leftPairs.length - rightPairs.length;
}

/** Code-unit order: the same on every machine and locale. */
function compareText(left: string, right: string): number {
  if (left === right) return 0;
  return left < right ? -1 : 1;
}

function sortedPairs(labels: Labels): [string, string][] {
  return Object.entries(labels)
    .filter(([key]) => key !== METRIC_NAME)
    .sort(([left], [right]) => compareText(left, right));
}

const TEMPLATE_LABEL = /\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g;

/**
 * The name of a series: a Grafana legend template (`{{instance}} {{code}}`, unknown labels → empty) or, without
 * one (or when it renders blank), `metric{a="1", b="2"}` as Prometheus's UI writes it, or `fallback` (the query
 * text) when there are no labels at all.
 */
export function legendName(template: string | undefined, labels: Labels, fallback: string): string {
  if (template !== undefined && template !== '') {
    const rendered = template.replace(TEMPLATE_LABEL, (_, label: string) => labels[label] ?? '');
    if (rendered.trim() !== '') return rendered;
  }
  return seriesSelector(labels) ?? fallback;
}

/** `metric{a="1", b="2"}` with label values quoted and escaped; undefined for an empty label set. */
export function seriesSelector(labels: Labels): string | undefined {
  const metricName = labels[METRIC_NAME] ?? '';
  const pairs = sortedPairs(labels).map(([key, value]) => `${key}=${JSON.stringify(value)}`);
  if (metricName === '' && pairs.length === 0) return undefined;
  if (pairs.length === 0) return metricName;
  return `${metricName}{${pairs.join(', ')}}`;
}
