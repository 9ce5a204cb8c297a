// Unit tests of the Plotly figures: compact line traces on a UTC date axis (x0 + dx in ms), gaps kept, stacked
// areas, log axis, unit ticks, thresholds and deploy markers, escaping of label text, and the instant bar chart.
import { instantFigure, rangeFigure, type BarTrace, type LineTrace } from '../../magics/promql/figure';
import type { InstantRow, Series } from '../../magics/promql/series';

const start = 1764064800;
const step = 15;
const MiB = 1024 ** 2;

function series(name: string, values: (number | null)[], first = start): Series {
  return { labels: { __name__: name }, name, timestamps: values.map((_, index) => first + index * step), values };
}

const memory = [
  series('a', [100 * MiB, 200 * MiB, null, 300 * MiB, 300 * MiB]),
  series('b', [400 * MiB, 500 * MiB, 600 * MiB, 700 * MiB, 700 * MiB]),
];

function lines(traces: unknown[]): LineTrace[] {
  return traces as LineTrace[];
}

describe('rangeFigure', () => {
  it('keeps 7 significant digits of the largest value (a hover shows 3 or 4), nulls stay gaps', () => {
    const [trace] = lines(rangeFigure([series('r', [0.016666666666666666, null, 1234.5678901, 0])]).data);
    expect(trace.y).toEqual([0.017, null, 1234.568, 0]); // relative to the largest: far below a pixel
    const [small] = lines(rangeFigure([series('s', [0.000123456789, 0.0001])]).data);
    expect(small.y).toEqual([0.0001234568, 0.0001]);
  });

  it('is plain JSON', () => {
    const figure = rangeFigure(memory, { unit: 'bytes', thresholds: [1], markers: [{ time: start, label: 'x' }] });
    expect(JSON.parse(JSON.stringify(figure))).toEqual(figure);
  });

  it('draws one line per series on a date axis, x as x0 + dx in milliseconds, gaps not joined', () => {
    const figure = rangeFigure(memory, { range: { start, end: start + 3600 } });
    const [first] = lines(figure.data);
    expect(first).toMatchObject({ type: 'scatter', mode: 'lines', name: 'a', x0: start * 1000, dx: step * 1000, connectgaps: false });
    expect(first.y).toEqual([100 * MiB, 200 * MiB, null, 300 * MiB, 300 * MiB]);
    expect(first.x).toBeUndefined();
    expect(figure.layout.xaxis.type).toBe('date');
    expect(figure.layout.xaxis.range).toEqual([start * 1000, (start + 3600) * 1000]);
  });

  it('falls back to an x array in ms when timestamps are not evenly spaced', () => {
    const uneven: Series = { labels: {}, name: 'u', timestamps: [start, start + 10, start + 30], values: [1, 2, 3] };
    const [trace] = lines(rangeFigure([uneven]).data);
    expect(trace.x).toEqual([start * 1000, (start + 10) * 1000, (start + 30) * 1000]);
    expect(trace.x0).toBeUndefined();
  });

  it('shows lone points (gaps on both sides) with markers', () => {
    const [trace] = lines(rangeFigure([series('lone', [1, null, 2, null])]).data);
    expect(trace.mode).toBe('lines+markers');
  });

  it('puts unit ticks on the value axis, spanning the data', () => {
    const { yaxis } = rangeFigure(memory, { unit: 'bytes' }).layout;
    expect(yaxis.ticktext).toEqual(['0 B', '128 MiB', '256 MiB', '384 MiB', '512 MiB', '640 MiB', '768 MiB']);
    expect(yaxis.range).toEqual([0, 768 * MiB]);
    expect(yaxis.type).toBe('linear');
  });

  it('hover shows the value with its unit', () => {
    const [trace] = lines(rangeFigure(memory, { unit: 'seconds' }).data);
    expect(trace.hovertemplate).toContain('s');
    expect(trace.hovertemplate).toContain('%{fullData.name}');
  });

  it('stacks as areas, the axis reaching the highest total', () => {
    const figure = rangeFigure(memory, { unit: 'bytes', stack: true });
    for (const trace of lines(figure.data)) {
      expect(trace.stackgroup).toBe('stack');
      expect(trace.mode).toBe('lines');
    }
    const [low, high] = figure.layout.yaxis.range ?? [NaN, NaN];
    expect(low).toBe(0);
    expect(high).toBeGreaterThanOrEqual(1000 * MiB);
  });

  it('uses a log axis with a range in log10 units around the positive data', () => {
    const figure = rangeFigure([series('l', [0, 1, 1000, null])], { log: true, unit: 'short' });
    expect(figure.layout.yaxis.type).toBe('log');
    const [low, high] = figure.layout.yaxis.range ?? [NaN, NaN];
    expect(low).toBeLessThan(0);
    expect(high).toBeGreaterThan(3);
    expect(high).toBeLessThan(3.5);
    expect(figure.layout.yaxis.tickvals).toEqual(expect.arrayContaining([1, 10, 100, 1000]));
  });

  it('draws thresholds as labelled dashed lines across the chart, within the axis', () => {
    const figure = rangeFigure(memory, { unit: 'bytes', thresholds: [900 * MiB, 600 * MiB] });
    const shapes = figure.layout.shapes;
    expect(shapes.map((shape) => [shape.y0, shape.y1, shape.xref, shape.line.dash, shape.label.text])).toEqual([
      [600 * MiB, 600 * MiB, 'paper', 'dash', '600 MiB'],
      [900 * MiB, 900 * MiB, 'paper', 'dash', '900 MiB'],
    ]);
    expect(shapes[1].line.color).not.toBe(shapes[0].line.color);
    expect(figure.layout.yaxis.range?.[1]).toBeGreaterThanOrEqual(900 * MiB);
  });

  it('marks moments with vertical lines and labels, dropping those outside the range', () => {
    const figure = rangeFigure(memory, {
      range: { start, end: start + 3600 },
      markers: [
        { time: start + 600, label: 'deploy <v2> & more' },
        { time: start - 600, label: 'too early' },
      ],
    });
    expect(figure.layout.shapes).toHaveLength(1);
    const [marker] = figure.layout.shapes;
    expect(marker).toMatchObject({ xref: 'x', yref: 'paper', x0: (start + 600) * 1000, x1: (start + 600) * 1000, y0: 0, y1: 1 });
    expect(marker.label.text).toBe('deploy &lt;v2&gt; &amp; more');
  });

  it('escapes names and titles so Plotly does not read label values as markup', () => {
    const figure = rangeFigure([series('x{instance="<b>a</b>"}', [1])], { title: '</script> & co' });
    expect(lines(figure.data)[0].name).toBe('x{instance="&lt;b&gt;a&lt;/b&gt;"}');
    expect(figure.layout.title?.text).toBe('&lt;/script&gt; &amp; co');
  });

  it('takes width and height, and keeps the legend below in a clean layout', () => {
    const { layout } = rangeFigure(memory, { width: 800, height: 300 });
    expect(layout).toMatchObject({ width: 800, height: 300, autosize: false, legend: { orientation: 'h' } });
    expect(layout.paper_bgcolor).toBe('rgba(0,0,0,0)');
    expect(rangeFigure(memory).layout).toMatchObject({ autosize: true });
  });

  it('still makes a figure without series', () => {
    const figure = rangeFigure([], { unit: 'bytes', range: { start, end: start + 60 } });
    expect(figure.data).toEqual([]);
    expect(figure.layout.yaxis.tickvals?.length).toBeGreaterThan(1);
  });
});

describe('instantFigure', () => {
  const row = (name: string, value: number): InstantRow => ({ labels: { instance: name }, name, timestamp: start, value });

  it('draws horizontal bars sorted so the largest is on top, non-finite as no bar', () => {
    const figure = instantFigure([row('a', 5), row('b', NaN), row('c', 50), row('d', 0.5)], { unit: 'percent' });
    const [bars] = figure.data as BarTrace[];
    expect(bars).toMatchObject({ type: 'bar', orientation: 'h' });
    expect(bars.y).toEqual(['b', 'd', 'a', 'c']);
    expect(bars.x).toEqual([null, 0.5, 5, 50]);
    expect(figure.layout.xaxis.ticktext?.[0]).toBe('0%');
    expect(figure.layout.showlegend).toBe(false);
    expect(JSON.parse(JSON.stringify(figure))).toEqual(figure);
  });

  it('keeps bars with the same name apart', () => {
    const [bars] = instantFigure([row('a', 1), row('a', 2)]).data as BarTrace[];
    expect(bars.y).toEqual(['a', 'a (2)']);
  });

  it('grows with the number of rows', () => {
    const many = Array.from({ length: 30 }, (_, index) => row(`r${index}`, index));
    expect(instantFigure(many).layout.height).toBeGreaterThan(instantFigure([row('a', 1)]).layout.height);
  });

  it('draws thresholds as vertical lines', () => {
    const figure = instantFigure([row('a', 1)], { thresholds: [0.8], unit: 'percentunit' });
    expect(figure.layout.shapes[0]).toMatchObject({ xref: 'x', yref: 'paper', x0: 0.8, x1: 0.8 });
    expect(figure.layout.shapes[0].label.text).toBe('80%');
  });
});
