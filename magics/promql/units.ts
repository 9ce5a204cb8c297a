// Units for %promql --unit (Grafana's names): how a value reads in tables and hovers ("512 MiB", "250 ms",
// "99.5%", "1.2k req/s") and where an axis puts its ticks (nice values of the unit: 256 MiB steps for bytes,
// 100 ms or 15 min steps for seconds). A unit is data (UnitSpec) so the chart's HTML can format hovers in the
// browser with the same rules (FORMAT_VALUE_JS). Pure.

export const UNIT_NAMES = ['none', 'short', 'seconds', 'bytes', 'percent', 'percentunit', 'reqps', 'ops'] as const;
export type UnitName = (typeof UNIT_NAMES)[number];

export interface UnitScale {
  /** Divide the (multiplied) value by this... */
  factor: number;
  /** ...and write this after it. */
  suffix: string;
}

/** How tick steps are chosen: 1-2-5 decimals, clock intervals (15 s, 5 min, 6 h), or powers of two. */
export type TickFamily = 'decimal' | 'time' | 'binary';

export interface UnitSpec {
  name: UnitName;
  /** Applied before scaling: 100 for percentunit (0.5 → 50%). */
  multiplier: number;
  /** Ascending factors; a value uses the largest one not above it. The factor-1 scale is used for zero. */
  scales: UnitScale[];
  /** Significant digits shown (integer parts are never rounded away). */
  significant: number;
  ticks: TickFamily;
}

const SI_PREFIXES: readonly [number, string][] = [
  [1, ''],
  [1e3, 'k'],
  [1e6, 'M'],
  [1e9, 'G'],
  [1e12, 'T'],
  [1e15, 'P'],
];

function siScales(unitText: string): UnitScale[] {
  return SI_PREFIXES.map(([factor, prefix]) => ({ factor, suffix: prefix === '' ? unitText : `${prefix}${unitText}` }));
}

const SECONDS_SCALES: UnitScale[] = [
  { factor: 1e-9, suffix: ' ns' },
  { factor: 1e-6, suffix: ' µs' },
  { factor: 1e-3, suffix: ' ms' },
  { factor: 1, suffix: ' s' },
  { factor: 60, suffix: ' min' },
  { factor: 3600, suffix: ' h' },
  { factor: 86400, suffix: ' d' },
];

const BYTES_SCALES: UnitScale[] = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'].map((suffix, power) => ({
  factor: 1024 ** power,
  suffix: ` ${suffix}`,
}));

const UNIT_SPECS: Record<UnitName, UnitSpec> = {
  none: { name: 'none', multiplier: 1, scales: [{ factor: 1, suffix: '' }], significant: 4, ticks: 'decimal' },
  short: { name: 'short', multiplier: 1, scales: siScales(''), significant: 3, ticks: 'decimal' },
  seconds: { name: 'seconds', multiplier: 1, scales: SECONDS_SCALES, significant: 3, ticks: 'time' },
  bytes: { name: 'bytes', multiplier: 1, scales: BYTES_SCALES, significant: 3, ticks: 'binary' },
  percent: { name: 'percent', multiplier: 1, scales: [{ factor: 1, suffix: '%' }], significant: 3, ticks: 'decimal' },
  percentunit: {
    name: 'percentunit',
    multiplier: 100,
    scales: [{ factor: 1, suffix: '%' }],
    significant: 3,
    ticks: 'decimal',
  },
  reqps: { name: 'reqps', multiplier: 1, scales: siScales(' req/s'), significant: 3, ticks: 'decimal' },
  ops: { name: 'ops', multiplier: 1, scales: siScales(' ops/s'), significant: 3, ticks: 'decimal' },
};

/** The unit named by --unit; no text means 'none'. */
export function parseUnit(text: string | undefined): UnitName {
  if (text === undefined || text === '') return 'none';
  const known = UNIT_NAMES.find((name) => name === text);
  if (known === undefined) throw new Error(`unknown unit "${text}": use one of ${UNIT_NAMES.join(', ')}`);
  return known;
}

export function unitSpec(unit: UnitName = 'none'): UnitSpec {
  const spec = UNIT_SPECS[unit];
  if (spec === undefined) throw new Error(`unknown unit "${String(unit)}": use one of ${UNIT_NAMES.join(', ')}`);
  return spec;
}

/** A value as text in its unit: "512 MiB", "250 ms", "1.5 h", "99.5%", "1.2k req/s"; NaN/±Inf as Prometheus. */
export function formatValue(value: number, unit: UnitName = 'none'): string {
  return formatWithSpec(value, unitSpec(unit));
}

function formatWithSpec(value: number, spec: UnitSpec): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  const shown = value * spec.multiplier;
  const scale = scaleFor(Math.abs(shown), spec.scales);
  return significantText(shown / scale.factor, spec.significant) + scale.suffix;
}

function scaleFor(magnitude: number, scales: UnitScale[]): UnitScale {
  if (magnitude === 0) return scales.find((scale) => scale.factor === 1) ?? scales[0];
  let chosen = scales[0];
  for (const scale of scales) if (magnitude >= scale.factor) chosen = scale;
  return chosen;
}

/** `digits` significant digits, but never rounding away integer digits (1023.9 → "1024", not "1020"). */
function significantText(value: number, digits: number): string {
  if (value === 0) return '0';
  if (Math.abs(value) >= 10 ** digits) return String(Math.round(value));
  return String(Number(value.toPrecision(digits)));
}

/**
 * The same formatting as formatValue, as a JavaScript function expression `(value, spec) => text` for the
 * chart's HTML (hover text in the browser). Kept in step with formatWithSpec by a unit test.
 */
export const FORMAT_VALUE_JS = `function (value, spec) {
  if (value !== value) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  var shown = value * spec.multiplier, magnitude = Math.abs(shown), scales = spec.scales, scale = scales[0], i;
  if (magnitude === 0) { for (i = 0; i < scales.length; i++) if (scales[i].factor === 1) scale = scales[i]; }
  else { for (i = 0; i < scales.length; i++) if (magnitude >= scales[i].factor) scale = scales[i]; }
  var scaled = shown / scale.factor, text;
  if (scaled === 0) text = '0';
  else if (Math.abs(scaled) >= Math.pow(10, spec.significant)) text = String(Math.round(scaled));
  else text = String(Number(scaled.toPrecision(spec.significant)));
  return text + scale.suffix;
}`;

export interface AxisTicks {
  /** Data values (before the unit's multiplier), ascending. The first and last enclose [min, max]. */
  tickvals: number[];
  ticktext: string[];
}

/**
 * About `count` ticks at nice values of the unit, enclosing [min, max]. On a log axis (min > 0), ticks sit on
 * decades (1-2-5 inside them when the range is short) or, for bytes, on powers of two (1 KiB, 1 MiB...); there
 * the outer ticks may lie well outside the data, so a log axis should span the data, not the ticks.
 */
export function axisTicks(min: number, max: number, unit: UnitName = 'none', count = 5, log = false): AxisTicks {
  if (!Number.isFinite(min) || !Number.isFinite(max)) throw new Error(`axis bounds must be finite, got ${min}, ${max}`);
  const spec = unitSpec(unit);
  const [low, high] = min <= max ? [min, max] : [max, min];
  const wantedTicks = Math.max(1, Math.round(count));
  return log ? logTicks(low, high, spec, wantedTicks) : linearTicks(low, high, spec, wantedTicks);
}

function linearTicks(min: number, max: number, spec: UnitSpec, count: number): AxisTicks {
  const [low, high] = widenFlatRange(min * spec.multiplier, max * spec.multiplier);
  const step = niceTickStep((high - low) / count, spec.ticks);
  const first = Math.floor(low / step + 1e-9);
  const last = Math.ceil(high / step - 1e-9);
  const shownValues: number[] = [];
  for (let index = first; index <= last; index++) shownValues.push(tidy(index * step));
  return {
    tickvals: shownValues.map((shown) => tidy(shown / spec.multiplier)),
    ticktext: shownValues.map((shown) => tickText(shown, step, spec)),
  };
}

/** A flat line (min = max) still gets an axis: from 0 to a bit above the value, or -1..1 around zero. */
function widenFlatRange(min: number, max: number): [number, number] {
  if (max > min) return [min, max];
  if (min === 0) return [0, 1];
  const padded = min * 1.2;
  return padded > 0 ? [0, padded] : [padded, 0];
}

const TIME_TICK_STEPS: readonly number[] = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800,
  1209600, 2592000,
];

/** The smallest nice step not below `rough` (in shown units) for the unit's tick family. */
function niceTickStep(rough: number, family: TickFamily): number {
  if (family === 'time' && rough >= 1) {
    return TIME_TICK_STEPS.find((step) => step >= rough) ?? niceDecimalStep(rough / 86400) * 86400;
  }
  if (family === 'binary' && rough >= 1) return 2 ** Math.ceil(Math.log2(rough) - 1e-9);
  return niceDecimalStep(rough);
}

function niceDecimalStep(rough: number): number {
  const power = 10 ** Math.floor(Math.log10(rough));
  const mantissa = [1, 2, 5, 10].find((candidate) => candidate * power >= rough * (1 - 1e-9)) ?? 10;
  return tidy(mantissa * power);
}

/** Removes floating-point dust (0.30000000000000004 → 0.3) so JSON stays short and ticks compare equal. */
function tidy(value: number): number {
  return Number(value.toPrecision(12));
}

/** A tick's text: its own scale, with just enough decimals to tell it from its neighbours. */
function tickText(shown: number, step: number, spec: UnitSpec): string {
  const scale = scaleFor(Math.abs(shown), spec.scales);
  const decimals = decimalsToShow(step / scale.factor);
  const number = Number((shown / scale.factor).toFixed(decimals));
  return `${number === 0 ? 0 : number}${scale.suffix}`;
}

function decimalsToShow(step: number): number {
  for (let decimals = 0; decimals < 9; decimals++) {
    const scaled = step * 10 ** decimals;
    if (Math.abs(scaled - Math.round(scaled)) < 1e-6 * Math.max(1, scaled)) return decimals;
  }
  return 9;
}

function logTicks(min: number, max: number, spec: UnitSpec, count: number): AxisTicks {
  const high = max > 0 ? max * spec.multiplier : 1;
  const low = min > 0 ? min * spec.multiplier : high / 1000;
  const shownValues =
    spec.ticks === 'binary' && high >= 1 ? binaryLogTicks(low, high, count) : decimalLogTicks(low, high, count);
  const tickvals = shownValues.map((shown) => tidy(shown / spec.multiplier));
  return { tickvals, ticktext: tickvals.map((value) => formatWithSpec(value, spec)) };
}

/** Decades enclosing [low, high]; 1-2-5 within them when there are few, every n-th decade when many. */
function decimalLogTicks(low: number, high: number, count: number): number[] {
  const firstDecade = Math.floor(Math.log10(low) + 1e-9);
  const lastDecade = Math.ceil(Math.log10(high) - 1e-9);
  const decades = Math.max(lastDecade - firstDecade, 1);
  const mantissas = decades <= 2 ? [1, 2, 5] : [1];
  const stride = Math.max(1, Math.ceil(decades / count));
  const ticks: number[] = [];
  for (let decade = firstDecade; decade <= lastDecade; decade++) {
    if ((decade - firstDecade) % stride !== 0 && decade !== lastDecade) continue;
    for (const mantissa of mantissas) ticks.push(tidy(mantissa * 10 ** decade));
  }
  return ticks.filter((tick, index) => index === 0 || tick <= tidy(10 ** lastDecade));
}

/** Powers of two enclosing [low, high], every doubling, every second, or every tenth (1 KiB, 1 MiB, 1 GiB). */
function binaryLogTicks(low: number, high: number, count: number): number[] {
  const lowExponent = Math.floor(Math.log2(Math.max(low, 1)) + 1e-9);
  const highExponent = Math.ceil(Math.log2(high) - 1e-9);
  const span = Math.max(highExponent - lowExponent, 1);
  const stride = [1, 2].find((candidate) => span / candidate <= count) ?? 10 * Math.ceil(span / (10 * count));
  const first = Math.floor(lowExponent / stride) * stride;
  const last = Math.ceil(highExponent / stride) * stride;
  const ticks: number[] = [];
  for (let exponent = first; exponent <= last; exponent += stride) ticks.push(2 ** exponent);
  return ticks;
}

/**
 * A Plotly hovertemplate fragment for a value field ('x' or 'y') in the unit, for renderers that only read the
 * figure JSON (JupyterLab's Plotly extension). d3-format cannot do IEC bytes or minutes, so this is the nearest
 * d3 form for values up to `maxAbs`; the chart's HTML replaces it with formatValue's text.
 */
export function plotlyHoverFormat(unit: UnitName, field: 'x' | 'y', maxAbs: number): string {
  const big = maxAbs >= 1000;
  switch (unit) {
    case 'seconds':
      return big ? `%{${field}:,.0f} s` : `%{${field}:.3~s}s`;
    case 'bytes':
      return big ? `%{${field}:.3~s}B` : `%{${field}:,.3~r} B`;
    case 'percent':
      return `%{${field}:,.3~r}%`;
    case 'percentunit':
      return `%{${field}:.3~p}`;
    case 'short':
      return big ? `%{${field}:.3~s}` : `%{${field}:,.3~r}`;
    case 'reqps':
      return big ? `%{${field}:.3~s} req/s` : `%{${field}:,.3~r} req/s`;
    case 'ops':
      return big ? `%{${field}:.3~s} ops/s` : `%{${field}:,.3~r} ops/s`;
    case 'none':
      return `%{${field}:,.4~r}`;
  }
}
