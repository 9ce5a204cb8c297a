// Plotly figures for %promql: a Grafana-like time series chart for range queries (lines or stacked areas,
// gaps kept as gaps, unit ticks, thresholds, deploy markers) and a sorted bar chart for instant queries.
// Output is plain JSON ({ data, layout }) for application/vnd.plotly.v1+json; x values are milliseconds since
// the epoch given as x0 + dx per trace (no x arrays), which Plotly draws on a date axis in UTC. Pure.
// One file (about 400 lines) on purpose: the range and the instant figure share the axis, unit and legend helpers,
// which other charts (a canary rollout's, magics/docker/deploy/rollout-figure.ts) build on too: the layout, axes,
// threshold lines and markers are exported, and a figure may have more value axes (rows) than one.

import type { InstantRow, Series } from './series';
import { axisTicks, formatValue, plotlyHoverFormat, type UnitName } from './units';

export interface Marker {
  /** Seconds since the epoch. */
  time: number;
  label: string;
}

export interface ChartOptions {
  title?: string;
  unit?: UnitName;
  /** Stacked areas instead of lines. */
  stack?: boolean;
  /** Logarithmic value axis. */
  log?: boolean;
  /** Values drawn as dashed lines across the chart, labelled with the value in the unit. */
  thresholds?: number[];
  /** Moments drawn as dotted vertical lines with a label on top (deploys). */
  markers?: Marker[];
  /** The queried range in seconds: the time axis shows all of it, even where there is no data. */
  range?: { start: number; end: number };
  width?: number;
  height?: number;
}

export interface LineTrace {
  type: 'scatter';
  mode: 'lines' | 'lines+markers';
  name: string;
  /** Milliseconds since the epoch of y[0]; point i is at x0 + i * dx. */
  x0?: number;
  dx?: number;
  /** Milliseconds since the epoch, only for series whose points are not evenly spaced. */
  x?: number[];
  y: (number | null)[];
  connectgaps: false;
  line: { width: number };
  /** One colour per point, or one for all. */
  marker?: { size: number; color?: string | string[] };
  stackgroup?: string;
  /** The value axis of a figure with several rows ('y2', 'y3'...); the first row's by default. */
  yaxis?: `y${number}`;
  /** Each point's value as hovers show it; when given, the chart's HTML keeps it (see bundle.ts). */
  text?: string[];
  hovertemplate: string;
}

export interface BarTrace {
  type: 'bar';
  orientation: 'h';
  name: string;
  x: (number | null)[];
  y: string[];
  marker: { color: string };
  /** Each bar's value written on it (d3 format here; the chart's HTML writes formatValue's text instead). */
  texttemplate: string;
  textposition: 'auto';
  hovertemplate: string;
}

export type Trace = LineTrace | BarTrace;

export interface ShapeLabel {
  text: string;
  textposition: 'start' | 'middle' | 'end';
  textangle?: number;
  xanchor?: 'auto' | 'left' | 'center' | 'right';
  yanchor?: 'top' | 'middle' | 'bottom';
  font: { size: number; color: string };
}

export interface LineShape {
  type: 'line';
  xref: 'x' | 'paper';
  yref: 'y' | 'paper' | `y${number}`;
  x0: number;
  x1: number;
  y0: number;
  y1: number;
  line: { color: string; width: number; dash: 'dash' | 'dot' };
  label: ShapeLabel;
}

export interface Axis {
  type: 'date' | 'linear' | 'log' | 'category';
  range?: [number, number];
  tickmode?: 'array';
  tickvals?: number[];
  ticktext?: string[];
  hoverformat?: string;
  showgrid: boolean;
  gridcolor: string;
  linecolor: string;
  zeroline: false;
  automargin: true;
  /** For rows: the share of the plot's height the axis takes, and the axis it is drawn against. */
  domain?: [number, number];
  anchor?: 'x' | 'y' | `y${number}`;
  title?: { text: string; font: { size: number } };
}

export interface Layout {
  title?: { text: string; x: number; xanchor: 'left'; font: { size: number } };
  width?: number;
  height: number;
  autosize: boolean;
  margin: { l: number; r: number; t: number; b: number; pad: number };
  paper_bgcolor: string;
  plot_bgcolor: string;
  font: { family: string; size: number; color: string };
  colorway: string[];
  hovermode: 'x unified' | 'closest';
  hoverlabel: { bgcolor: string; bordercolor: string; font: { color: string; size: number } };
  xaxis: Axis;
  yaxis: Axis;
  /** The value axes of the rows below the first, in figures with several. */
  [row: `yaxis${number}`]: Axis | undefined;
  showlegend: boolean;
  legend: { orientation: 'h'; x: number; xanchor: 'left'; font: { size: number }; bgcolor: string; maxheight: number };
  shapes: LineShape[];
  /** The value unit, so the chart's HTML can format hovers exactly (see bundle.ts). */
  meta: { unit: UnitName };
}

export interface Figure {
  data: Trace[];
  layout: Layout;
}

/** Grafana's classic series colours: distinct on both dark and light backgrounds. */
export const PALETTE = [
  '#7EB26D', '#EAB839', '#6ED0E0', '#EF843C', '#E24D42', '#1F78C1', '#BA43A9', '#705DA0',
  '#508642', '#CCA300', '#447EBC', '#C15C17', '#890F02', '#0A437C', '#6D1F62', '#584477',
];

/** Mid-grey text and faint grid lines read on both light and dark notebook themes. */
const TEXT_COLOR = '#8e8e8e';
const GRID_COLOR = 'rgba(128,128,128,0.18)';
const THRESHOLD_COLORS = { upper: '#F2495C', lower: '#FF9830' };
const MARKER_COLOR = '#8AB8FF';
const DEFAULT_HEIGHT = 380;
const AXIS_TICKS = 5;

/** Range query series → a time series chart. */
export function rangeFigure(series: Series[], options: ChartOptions = {}): Figure {
  const unit = options.unit ?? 'none';
  const extent = valueExtent(series, options);
  const maxAbs = Math.max(Math.abs(extent.min), Math.abs(extent.max));
  const hovertemplate = `%{fullData.name}: ${plotlyHoverFormat(unit, 'y', maxAbs)}<extra></extra>`;
  const data = series.map((one) => lineTrace(one, hovertemplate, options.stack === true));
  const layout = baseLayout(options, 'x unified');
  layout.xaxis = { ...axisStyle('date'), hoverformat: '%Y-%m-%d %H:%M:%S UTC' };
  const timeRange = options.range ?? seriesTimeRange(series);
  if (timeRange !== undefined) layout.xaxis.range = [timeRange.start * 1000, timeRange.end * 1000];
  layout.yaxis = valueAxis(extent, unit, options.log === true);
  layout.shapes = [
    ...thresholdShapes(drawableThresholds(options), unit, 'y'),
    ...markerShapes(options.markers ?? [], timeRange),
  ];
  return { data, layout };
}

/** Instant query rows → horizontal bars, largest on top. */
export function instantFigure(rows: InstantRow[], options: ChartOptions = {}): Figure {
  const unit = options.unit ?? 'none';
  const sorted = [...rows].sort((left, right) => barOrder(left.value, right.value));
  const values = sorted.map((row) => (Number.isFinite(row.value) ? row.value : null));
  const barBase = options.log === true ? [] : [0];
  const extent = finiteExtent([values, barBase, drawableThresholds(options)], options.log !== true);
  const maxAbs = Math.max(Math.abs(extent.min), Math.abs(extent.max));
  const trace: BarTrace = {
    type: 'bar',
    orientation: 'h',
    name: plotlyText(options.title ?? 'value'),
    x: values,
    y: uniqueNames(sorted.map((row) => plotlyText(row.name))),
    marker: { color: PALETTE[0] },
    texttemplate: plotlyHoverFormat(unit, 'x', maxAbs),
    textposition: 'auto',
    hovertemplate: `%{y}: ${plotlyHoverFormat(unit, 'x', maxAbs)}<extra></extra>`,
  };
  const layout = baseLayout({ ...options, height: options.height ?? barChartHeight(rows.length) }, 'closest');
  layout.showlegend = false;
  layout.xaxis = valueAxis(extent, unit, options.log === true);
  layout.yaxis = axisStyle('category');
  layout.yaxis.showgrid = false;
  layout.shapes = thresholdShapes(drawableThresholds(options), unit, 'x');
  return { data: [trace], layout };
}

/** Ascending, so Plotly (which lists categories bottom-up) puts the largest bar on top; non-finite at the bottom. */
function barOrder(left: number, right: number): number {
  const leftKey = Number.isFinite(left) ? left : -Infinity;
  const rightKey = Number.isFinite(right) ? right : -Infinity;
  return leftKey === rightKey ? 0 : leftKey < rightKey ? -1 : 1;
}

function barChartHeight(rowCount: number): number {
  return Math.min(Math.max(160, 80 + 24 * rowCount), 1200);
}

/** Categories must differ or Plotly merges their bars: repeated names get " (2)", " (3)"... */
function uniqueNames(names: string[]): string[] {
  const seen = new Map<string, number>();
  return names.map((name) => {
    const count = (seen.get(name) ?? 0) + 1;
    seen.set(name, count);
    return count === 1 ? name : `${name} (${count})`;
  });
}

function lineTrace(series: Series, hovertemplate: string, stacked: boolean): LineTrace {
  const trace: LineTrace = {
    type: 'scatter',
    mode: !stacked && hasIsolatedPoint(series.values) ? 'lines+markers' : 'lines',
    name: plotlyText(series.name),
    ...xPlacement(series.timestamps),
    y: chartPrecision(series.values),
    connectgaps: false,
    line: { width: stacked ? 1 : 1.5 },
    hovertemplate,
  };
  if (trace.mode === 'lines+markers') trace.marker = { size: 3 };
  if (stacked) trace.stackgroup = 'stack';
  return trace;
}

/** Significant digits a chart keeps: far below a pixel, far above what a hover shows (the bound data keep all). */
const CHART_DIGITS = 7;

/**
 * Values rounded to CHART_DIGITS significant digits of the series' largest magnitude. Prometheus writes rates
 * like 0.016666666666666666: rounding halves the bundle and the time to serialise it twice (Plotly JSON and
 * HTML), with no visible change. A scale-and-round per value, not toPrecision, which allocates a string each.
 */
function chartPrecision(values: (number | null)[]): (number | null)[] {
  let largest = 0;
  for (const v of values) if (v !== null && Math.abs(v) > largest) largest = Math.abs(v);
  if (largest === 0) return values;
  const scale = 10 ** (CHART_DIGITS - Math.ceil(Math.log10(largest)));
  if (!Number.isFinite(scale) || scale < 1e-300) return values;
  return values.map((v) => (v === null ? null : Math.round(v * scale) / scale));
}

/** Evenly spaced timestamps (always, from matrixToSeries) become x0 + dx; anything else an explicit x array. */
function xPlacement(timestamps: number[]): Pick<LineTrace, 'x0' | 'dx' | 'x'> {
  if (timestamps.length === 0) return { x: [] };
  const x0 = Math.round(timestamps[0] * 1000);
  const dx = timestamps.length > 1 ? Math.round(timestamps[1] * 1000) - x0 : 1000;
  for (let index = 2; index < timestamps.length; index++) {
    if (Math.round(timestamps[index] * 1000) !== x0 + index * dx) {
      return { x: timestamps.map((seconds) => Math.round(seconds * 1000)) };
    }
  }
  return { x0, dx };
}

/** A value with gaps on both sides is invisible as a line: such series also get small markers (unless stacked). */
function hasIsolatedPoint(values: (number | null)[]): boolean {
  for (let index = 0; index < values.length; index++) {
    const before = index === 0 ? null : values[index - 1];
    const after = index === values.length - 1 ? null : values[index + 1];
    if (values[index] !== null && before === null && after === null) return true;
  }
  return false;
}

export interface Extent {
  min: number;
  max: number;
}

/** The values the y axis must show: all finite values (stack sums when stacked) and the thresholds. */
function valueExtent(series: Series[], options: ChartOptions): Extent {
  const valueLists = options.stack === true ? [stackedTotals(series)] : series.map((one) => one.values);
  return finiteExtent([...valueLists, drawableThresholds(options)], options.log !== true);
}

/** Per timestamp, the sums of the positive and of the negative values, as Plotly stacks them. */
function stackedTotals(series: Series[]): number[] {
  const positive = new Map<number, number>();
  const negative = new Map<number, number>();
  for (const one of series) {
    one.values.forEach((value, index) => {
      if (value === null) return;
      const totals = value >= 0 ? positive : negative;
      const time = one.timestamps[index];
      totals.set(time, (totals.get(time) ?? 0) + value);
    });
  }
  return [...positive.values(), ...negative.values(), 0];
}

/** Smallest and largest finite value over the lists (only positive ones for a log axis). */
function finiteExtent(valueLists: (number | null)[][], allowNonPositive: boolean): Extent {
  let min = Infinity;
  let max = -Infinity;
  for (const values of valueLists) {
    for (const value of values) {
      if (value === null || !Number.isFinite(value) || (!allowNonPositive && value <= 0)) continue;
      if (value < min) min = value;
      if (value > max) max = value;
    }
  }
  if (min > max) return allowNonPositive ? { min: 0, max: 1 } : { min: 1, max: 10 };
  return { min, max };
}

function seriesTimeRange(series: Series[]): { start: number; end: number } | undefined {
  const times = series.flatMap((one) => (one.timestamps.length === 0 ? [] : [one.timestamps[0], one.timestamps.at(-1) ?? 0]));
  if (times.length === 0) return undefined;
  return { start: Math.min(...times), end: Math.max(...times) };
}

/**
 * A value axis with unit ticks. Linear: the range is the ticks' span, so the outer ticks sit on the frame.
 * Log: the range is the data's (in log10 units, as Plotly wants), padded a little; ticks outside are not drawn.
 */
export function valueAxis(extent: Extent, unit: UnitName, log: boolean): Axis {
  const axis = axisStyle(log ? 'log' : 'linear');
  if (unit === 'none' && !log) return axis;
  const ticks = axisTicks(extent.min, extent.max, unit, AXIS_TICKS, log);
  axis.tickmode = 'array';
  axis.tickvals = ticks.tickvals;
  axis.ticktext = ticks.ticktext;
  axis.range = log ? paddedLogRange(extent) : [ticks.tickvals[0], ticks.tickvals[ticks.tickvals.length - 1]];
  return axis;
}

function paddedLogRange(extent: Extent): [number, number] {
  const low = Math.log10(extent.min);
  const high = Math.log10(extent.max);
  const padding = Math.max((high - low) * 0.05, 0.05);
  return [tidyNumber(low - padding), tidyNumber(high + padding)];
}

function tidyNumber(value: number): number {
  return Number(value.toPrecision(6));
}

export function axisStyle(type: Axis['type']): Axis {
  return { type, showgrid: true, gridcolor: GRID_COLOR, linecolor: GRID_COLOR, zeroline: false, automargin: true };
}

export function baseLayout(options: ChartOptions, hovermode: Layout['hovermode']): Layout {
  const layout: Layout = {
    height: options.height ?? DEFAULT_HEIGHT,
    autosize: options.width === undefined,
    margin: { l: 8, r: 16, t: options.title === undefined ? 16 : 40, b: 8, pad: 4 },
    paper_bgcolor: 'rgba(0,0,0,0)',
    plot_bgcolor: 'rgba(0,0,0,0)',
    font: { family: 'Inter, "Helvetica Neue", Arial, sans-serif', size: 12, color: TEXT_COLOR },
    colorway: PALETTE,
    hovermode,
    hoverlabel: { bgcolor: 'rgba(24,27,31,0.92)', bordercolor: '#444', font: { color: '#e6e6e6', size: 12 } },
    xaxis: axisStyle('linear'),
    yaxis: axisStyle('linear'),
    showlegend: true,
    legend: { orientation: 'h', x: 0, xanchor: 'left', font: { size: 11 }, bgcolor: 'rgba(0,0,0,0)', maxheight: 0.3 },
    shapes: [],
    meta: { unit: options.unit ?? 'none' },
  };
  if (options.title !== undefined) {
    layout.title = { text: plotlyText(options.title), x: 0, xanchor: 'left', font: { size: 14 } };
  }
  if (options.width !== undefined) layout.width = options.width;
  return layout;
}

/** Thresholds that can be drawn: finite, and positive on a log axis. */
function drawableThresholds(options: ChartOptions): number[] {
  return (options.thresholds ?? []).filter((value) => Number.isFinite(value) && (options.log !== true || value > 0));
}

/** Dashed lines across the plot at each threshold; the highest is red, the others orange. `yAxis`: a row's axis. */
export function thresholdShapes(thresholds: number[], unit: UnitName, valueAxisLetter: 'x' | 'y', yAxis: LineShape['yref'] = 'y'): LineShape[] {
  const sorted = [...thresholds].sort((left, right) => left - right);
  return sorted.map((threshold, index) => {
    const color = index === sorted.length - 1 ? THRESHOLD_COLORS.upper : THRESHOLD_COLORS.lower;
    const label: ShapeLabel = {
      text: plotlyText(formatValue(threshold, unit)),
      textposition: 'end',
      font: { size: 10, color },
      ...(valueAxisLetter === 'x' ? { textangle: 0, xanchor: 'left', yanchor: 'bottom' } : {}),
    };
    const across = { line: { color, width: 1, dash: 'dash' as const }, label };
    return valueAxisLetter === 'y'
      ? { type: 'line', xref: 'paper', yref: yAxis, x0: 0, x1: 1, y0: threshold, y1: threshold, ...across }
      : { type: 'line', xref: 'x', yref: 'paper', x0: threshold, x1: threshold, y0: 0, y1: 1, ...across };
  });
}

/** Dotted vertical lines at each marker inside the time range, labelled at the top. */
export function markerShapes(markers: Marker[], timeRange: { start: number; end: number } | undefined): LineShape[] {
  return markers
    .filter((marker) => timeRange === undefined || (marker.time >= timeRange.start && marker.time <= timeRange.end))
    .map((marker) => ({
      type: 'line',
      xref: 'x',
      yref: 'paper',
      x0: marker.time * 1000,
      x1: marker.time * 1000,
      y0: 0,
      y1: 1,
      line: { color: MARKER_COLOR, width: 1, dash: 'dot' },
      label: {
        text: plotlyText(marker.label),
        textposition: 'end',
        textangle: 0,
        xanchor: 'left',
        yanchor: 'bottom',
        font: { size: 10, color: MARKER_COLOR },
      },
    }));
}

/** Plotly reads <b>, <br>, &amp;... in names and labels: escape so label values show as written. */
export function plotlyText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
