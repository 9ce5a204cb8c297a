// Deterministic OpenMetrics history for backfilling a test Prometheus (`promtool tsdb create-blocks-from openmetrics`).
//
// Timeline: `end` is rounded DOWN to a multiple of `stepSeconds`; `start = end - hours * 3600`; sample i sits at
// `t_i = start + i * stepSeconds` for i = 0 .. hours * 3600 / stepSeconds (both ends included: 1441 samples for the
// defaults of 24 h at 60 s). Every series below has a sample at every t_i unless stated otherwise. Values are
// written with JavaScript's shortest round-trip form, so Prometheus stores exactly the numbers in `expected`.
//
//   opsbook_test_requests_total (counter), job="api":
//     {instance="a:1",code="200"}  value = 10  * (t - start)        -> rate() is exactly 10/s everywhere
//     {instance="a:1",code="500"}  value = 0.5 * (t - start)        -> rate() is exactly 0.5/s everywhere
//     {instance="b:2",code="200"}  value = 2   * (t - start) before the middle (`resetAt = start + hours * 1800`);
//                                  from resetAt on it restarts: value = 2 * (t - resetAt + stepSeconds), so the
//                                  sample at resetAt is 2 * stepSeconds (a counter RESET; rate() stays exactly 2/s)
//   opsbook_test_latency_seconds (gauge), job="api",instance="a:1":
//     value = round6(0.2 + 0.1 * sin(2π * (t - start) / 21600))  (a 6 h sine between 0.1 and 0.3, rounded to 6
//     decimals), except during the incident `[end - 3h, end - 3h + 10min)` where it is exactly 1.5
//   opsbook_test_gappy (gauge), job="api":
//     value = i % 10 (0..9), except: NO samples for t in the gap `[start + hours * 1800, start + hours * 1800 + 1800)`
//     (30 minutes in the middle); NaN at start + 1h, start + 2h and start + 3h; +Inf at start + 4h
//   opsbook_test_bytes (gauge), job="api":
//     value = 5 GiB + i MiB = 5368709120 + 1048576 * i  (integers, about 5.4e9 .. 6.9e9 for the defaults)
//
// Note for query assertions (checked against Prometheus 2.42): with the default 5 m lookback, a sample still answers
// for steps up to AND including 5 m after it. So a query_range of opsbook_test_gappy at step 60 (defaults) has values
// up to gap.start + 240 (from the sample at gap.start - 60), then misses the 25 steps gap.start + 300 .. gap.end - 60.
// Likewise every series keeps answering for 5 m after `end`.

export interface HistoryOptions {
  /** Unix seconds of the last sample (rounded down to a multiple of stepSeconds). Keep it a few minutes before now. */
  end: number;
  /** Length of the history; default 24. A whole number >= 10 (so the NaN/+Inf marks, gap and incident never overlap). */
  hours?: number;
  /** Spacing of samples; default 60. Must divide 1800 (so hour marks and the gap fall on samples). */
  stepSeconds?: number;
}

export type Labels = Readonly<Record<string, string>>;
/** [unix seconds, value]; value may be NaN or +Infinity for opsbook_test_gappy. */
export type Point = readonly [number, number];

export interface HistorySeries {
  name: string;
  type: 'counter' | 'gauge';
  labels: Labels;
  points: Point[];
}

export interface HistoryExpectation {
  start: number;
  end: number;
  stepSeconds: number;
  /** Every series, in the order written. */
  series: HistorySeries[];
  /** Per-second rate of each requests_total series, keyed by `${instance}/${code}`. */
  requestRates: Readonly<Record<string, number>>;
  /** The b:2/200 counter resets at this timestamp (its sample there is 2 * stepSeconds). */
  resetAt: number;
  /** opsbook_test_gappy has no samples with gap.start <= t < gap.end. */
  gap: { start: number; end: number };
  /** opsbook_test_gappy is NaN at these timestamps. */
  nanTimes: number[];
  /** opsbook_test_gappy is +Inf at this timestamp. */
  infTime: number;
  /** opsbook_test_latency_seconds is exactly `value` for start <= t < end. */
  latencyIncident: { start: number; end: number; value: number };
  /** The stored value of the series `name` whose labels equal `labels` at exactly `t`, or undefined when none. */
  valueAt(name: string, labels: Labels, t: number): number | undefined;
}

export interface History {
  /** The OpenMetrics text (ends with `# EOF\n`). */
  text: string;
  expected: HistoryExpectation;
}

const GIB = 2 ** 30;
const MIB = 2 ** 20;

export function historyOpenMetrics(options: HistoryOptions): History {
  const hours = options.hours ?? 24;
  const stepSeconds = options.stepSeconds ?? 60;
  if (!Number.isInteger(hours) || hours < 10) throw new Error(`historyOpenMetrics: hours must be an integer >= 10, got ${hours}`);
  if (!Number.isInteger(stepSeconds) || stepSeconds <= 0 || 1800 % stepSeconds !== 0) throw new Error(`historyOpenMetrics: stepSeconds must divide 1800, got ${stepSeconds}`);
  const end = Math.floor(options.end / stepSeconds) * stepSeconds;
  const start = end - hours * 3600;
  const times = sampleTimes(start, end, stepSeconds);
  const middle = start + hours * 1800;
  const gap = { start: middle, end: middle + 1800 };
  const nanTimes = [start + 3600, start + 7200, start + 10800];
  const infTime = start + 14400;
  const latencyIncident = { start: end - 10800, end: end - 10800 + 600, value: 1.5 };
  const requestRates = { 'a:1/200': 10, 'a:1/500': 0.5, 'b:2/200': 2 };

  const series: HistorySeries[] = [
    counter({ job: 'api', instance: 'a:1', code: '200' }, times.map((t) => [t, 10 * (t - start)])),
    counter({ job: 'api', instance: 'a:1', code: '500' }, times.map((t) => [t, 0.5 * (t - start)])),
    counter({ job: 'api', instance: 'b:2', code: '200' }, times.map((t) => [t, t < middle ? 2 * (t - start) : 2 * (t - middle + stepSeconds)])),
    gauge('opsbook_test_latency_seconds', { job: 'api', instance: 'a:1' }, times.map((t) => [t, latency(t, start, latencyIncident)])),
    gauge('opsbook_test_gappy', { job: 'api' }, gappyPoints(times, gap, nanTimes, infTime)),
    gauge('opsbook_test_bytes', { job: 'api' }, times.map((t, i) => [t, 5 * GIB + i * MIB])),
  ];
  const expected: HistoryExpectation = {
    start, end, stepSeconds, series, requestRates, resetAt: middle, gap, nanTimes, infTime, latencyIncident,
    valueAt: (name, labels, t) => findSeries(series, name, labels)?.points.find((p) => p[0] === t)?.[1],
  };
  return { text: toOpenMetrics(series), expected };
}

function sampleTimes(start: number, end: number, stepSeconds: number): number[] {
  const times: number[] = [];
  for (let t = start; t <= end; t += stepSeconds) times.push(t);
  return times;
}

function counter(labels: Labels, points: Point[]): HistorySeries {
  return { name: 'opsbook_test_requests_total', type: 'counter', labels, points };
}

function gauge(name: string, labels: Labels, points: Point[]): HistorySeries {
  return { name, type: 'gauge', labels, points };
}

function latency(t: number, start: number, incident: { start: number; end: number; value: number }): number {
  if (t >= incident.start && t < incident.end) return incident.value;
  const wave = 0.2 + 0.1 * Math.sin((2 * Math.PI * (t - start)) / 21600);
  return Math.round(wave * 1e6) / 1e6;
}

function gappyPoints(times: number[], gap: { start: number; end: number }, nanTimes: number[], infTime: number): Point[] {
  const points: Point[] = [];
  times.forEach((t, i) => {
    if (t >= gap.start && t < gap.end) return;
    const value = nanTimes.includes(t) ? NaN : t === infTime ? Infinity : i % 10;
    points.push([t, value]);
  });
  return points;
}

function findSeries(series: HistorySeries[], name: string, labels: Labels): HistorySeries | undefined {
  const wanted = labelText(labels);
  return series.find((s) => s.name === name && labelText(s.labels) === wanted);
}

/** `{a="1",b="2"}` with keys sorted (also used to compare label sets). */
function labelText(labels: Labels): string {
  const pairs = Object.keys(labels).sort().map((k) => `${k}="${escapeLabel(labels[k])}"`);
  return pairs.length ? `{${pairs.join(',')}}` : '';
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/** Families in first-seen order, each with one `# TYPE` line (a counter family is named without `_total`). */
function toOpenMetrics(series: HistorySeries[]): string {
  const lines: string[] = [];
  let family = '';
  for (const s of series) {
    const familyName = s.type === 'counter' ? s.name.replace(/_total$/, '') : s.name;
    if (familyName !== family) {
      lines.push(`# TYPE ${familyName} ${s.type}`);
      family = familyName;
    }
    const labels = labelText(s.labels);
    for (const [t, v] of s.points) lines.push(`${s.name}${labels} ${formatValue(v)} ${t}`);
  }
  lines.push('# EOF');
  return lines.join('\n') + '\n';
}
