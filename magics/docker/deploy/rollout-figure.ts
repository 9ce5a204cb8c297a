// The chart a canary rollout ends with: every analysis over the rollout, one row each (an error ratio and a latency
// do not share a scale), its threshold as a dashed line across the row, failed measurements in red, and the step
// boundaries as dotted vertical lines labelled with the new version's share ("20%"), then "promoted" or "rolled
// back". Built on %promql's chart parts (magics/promql/figure.ts: layout, axes, threshold lines and markers), so it
// looks like the notebook's other charts and its bundle is made the same way. Pure.
import { type Axis, type Figure, type LineShape, type LineTrace, type Marker, PALETTE, axisStyle, baseLayout, markerShapes, plotlyText, thresholdShapes, valueAxis } from '../../promql/figure';
import { formatValue, type UnitName } from '../../promql/units';
import type { Analysis, Measurement } from './analysis';
import type { RolloutTimeline } from './timeline';

/** A rollout's figure: line traces only, one per analysis. */
export interface RolloutFigure extends Figure {
  data: LineTrace[];
}

export interface RolloutChartOptions {
  title?: string;
  width?: number;
}

const FAILURE_COLOR = '#E24D42';
const ROW_HEIGHT = 170;
/** The gap between rows, as a share of the plot's height. */
const ROW_GAP = 0.08;

/** The unit an analysis is charted in, from how its threshold is written: 1% a ratio, 300ms or 0.3s seconds. */
export function analysisUnit(a: Analysis): UnitName {
  if (a.thresholdText.endsWith('%')) return 'percentunit';
  if (/(\d|\.)(ms|s)$/.test(a.thresholdText)) return 'seconds';
  return 'none';
}

/** What a point shows on hover: the value in the unit, or why there is none. */
function pointText(m: Measurement, unit: UnitName): string {
  if (m.kind === 'inconclusive') return `inconclusive (${m.why})`;
  if (m.kind === 'error') return `error: ${m.message}`;
  return `${formatValue(m.value, unit)}${m.kind === 'failure' ? ' ✗' : ' ✓'}`;
}

/** Row i's axis id ('y', 'y2'...) and its layout key ('yaxis', 'yaxis2'...). */
function rowAxis(index: number): { id: 'y' | `y${number}`; key: 'yaxis' | `yaxis${number}` } {
  return index === 0 ? { id: 'y', key: 'yaxis' } : { id: `y${index + 1}`, key: `yaxis${index + 1}` };
}

/** Row i of n, from the top: its share of the plot's height. */
function rowDomain(index: number, rows: number): [number, number] {
  const height = (1 - ROW_GAP * (rows - 1)) / rows;
  const top = 1 - index * (height + ROW_GAP);
  return [Number(Math.max(0, top - height).toFixed(4)), Number(top.toFixed(4))];
}

/** The step boundaries and the end, as markers: "20%", "50%", then "promoted" or "rolled back". */
function rolloutMarkers(timeline: RolloutTimeline): Marker[] {
  const markers = timeline.steps.map((s) => ({ time: s.at / 1000, label: `${s.percent}%` }));
  const end = timeline.end;
  if (end) markers.push({ time: end.at / 1000, label: end.outcome });
  return markers;
}

function analysisTrace(a: Analysis, measurements: readonly Measurement[], unit: UnitName, color: string, axis: 'y' | `y${number}`): LineTrace {
  const y = measurements.map((m) => (m.kind === 'success' || m.kind === 'failure' ? m.value : null));
  return {
    type: 'scatter',
    mode: 'lines+markers',
    name: plotlyText(a.name),
    x: measurements.map((m) => m.at),
    y,
    connectgaps: false,
    line: { width: 1.5 },
    marker: { size: 6, color: measurements.map((m) => (m.kind === 'failure' ? FAILURE_COLOR : color)) },
    ...(axis === 'y' ? {} : { yaxis: axis }),
    text: measurements.map((m) => plotlyText(pointText(m, unit))),
    hovertemplate: '%{fullData.name}: %{text}<extra></extra>',
  };
}

/** The rollout's analyses over time, one row each, with thresholds and step markers. */
export function rolloutFigure(timeline: RolloutTimeline, options: RolloutChartOptions = {}): RolloutFigure {
  const analyses = timeline.analyses;
  const rows = Math.max(1, analyses.length);
  const layout = baseLayout({ ...(options.title === undefined ? {} : { title: options.title }), ...(options.width === undefined ? {} : { width: options.width }), height: 90 + ROW_HEIGHT * rows }, 'closest');
  layout.showlegend = false;
  const endMs = timeline.end?.at ?? Math.max(timeline.startedAt, ...analyses.flatMap((a) => timeline.measurements(a).map((m) => m.at)));
  const timeRange = { start: timeline.startedAt / 1000, end: Math.max(endMs, timeline.startedAt + 1000) / 1000 };
  const bottom = rowAxis(rows - 1).id;
  layout.xaxis = { ...axisStyle('date'), hoverformat: '%H:%M:%S UTC', range: [timeRange.start * 1000, timeRange.end * 1000], anchor: bottom };
  const data: LineTrace[] = [];
  const shapes: LineShape[] = [];
  analyses.forEach((a, index) => {
    const { id, key } = rowAxis(index);
    const unit = analysisUnit(a);
    const measurements = timeline.measurements(a);
    const values = measurements.flatMap((m) => (m.kind === 'success' || m.kind === 'failure') && Number.isFinite(m.value) ? [m.value] : []);
    const extent = { min: Math.min(0, a.threshold, ...values), max: Math.max(a.threshold, ...values) };
    const axis: Axis = { ...valueAxis(extent.max > extent.min ? extent : { min: extent.min, max: extent.min + 1 }, unit, false), domain: rowDomain(index, rows), anchor: 'x', title: { text: plotlyText(a.name), font: { size: 11 } } };
    layout[key] = axis;
    data.push(analysisTrace(a, measurements, unit, PALETTE[index % PALETTE.length], id));
    shapes.push(...thresholdShapes([a.threshold], unit, 'y', id).map((s) => ({ ...s, label: { ...s.label, text: plotlyText(`${a.op} ${a.thresholdText}`) } })));
  });
  layout.shapes = [...shapes, ...markerShapes(rolloutMarkers(timeline), timeRange)];
  return { data, layout };
}
