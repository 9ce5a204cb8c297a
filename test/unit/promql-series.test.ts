// Unit tests of Prometheus results → series and rows: string samples, NaN/Inf and missing steps as gaps, a stable
// order by label set, legend names (Grafana templates, Prometheus UI selectors, the query as fallback).
import {
  chartValue,
  legendName,
  matrixToSeries,
  parseSampleValue,
  scalarToRows,
  vectorToRows,
  type MatrixSeries,
} from '../../magics/promql/series';

const start = 1764064800;
const grid = { start, end: start + 60, step: 15 };

describe('sample values', () => {
  it('parses Prometheus spellings', () => {
    expect(parseSampleValue('1.5')).toBe(1.5);
    expect(parseSampleValue('+Inf')).toBe(Infinity);
    expect(parseSampleValue('-Inf')).toBe(-Infinity);
    expect(parseSampleValue('NaN')).toBeNaN();
    expect(parseSampleValue('1e+21')).toBe(1e21);
  });

  it('makes NaN and ±Inf gaps on charts', () => {
    expect(chartValue('NaN')).toBeNull();
    expect(chartValue('+Inf')).toBeNull();
    expect(chartValue('-Inf')).toBeNull();
    expect(chartValue('0')).toBe(0);
  });
});

describe('matrixToSeries', () => {
  it('parses string values and turns NaN/±Inf into null', () => {
    const result: MatrixSeries[] = [
      {
        metric: { __name__: 'up', job: 'api' },
        values: [
          [start, '1'],
          [start + 15, 'NaN'],
          [start + 30, '+Inf'],
          [start + 45, '-Inf'],
          [start + 60, '0.25'],
        ],
      },
    ];
    const [series] = matrixToSeries(result, grid);
    expect(series.values).toEqual([1, null, null, null, 0.25]);
    expect(series.timestamps).toEqual([start, start + 15, start + 30, start + 45, start + 60]);
  });

  it('a step missing in the middle (staleness) becomes null so the line breaks', () => {
    const result: MatrixSeries[] = [
      { metric: { __name__: 'up' }, values: [[start, '1'], [start + 15, '1'], [start + 45, '1'], [start + 60, '1']] },
    ];
    const [series] = matrixToSeries(result, grid);
    expect(series.timestamps).toEqual([start, start + 15, start + 30, start + 45, start + 60]);
    expect(series.values).toEqual([1, 1, null, 1, 1]);
  });

  it('starts and ends each series at its own first and last sample, on the grid', () => {
    const result: MatrixSeries[] = [{ metric: { __name__: 'up' }, values: [[start + 30, '2'], [start + 60, '3']] }];
    const [series] = matrixToSeries(result, grid);
    expect(series.timestamps).toEqual([start + 30, start + 45, start + 60]);
    expect(series.values).toEqual([2, null, 3]);
  });

  it('keeps sub-second steps exact', () => {
    const fine = { start: 1764064800.1, end: 1764064800.5, step: 0.1 };
    const values: [number, string][] = [[1764064800.1, '1'], [1764064800.2, '2'], [1764064800.4, '4']];
    const [series] = matrixToSeries([{ metric: {}, values }], fine);
    expect(series.timestamps).toEqual([1764064800.1, 1764064800.2, 1764064800.3, 1764064800.4]);
    expect(series.values).toEqual([1, 2, null, 4]);
  });

  it('sorts by metric name first, then by labels in key order, whatever order they came in', () => {
    const result: MatrixSeries[] = [
      { metric: { __name__: 'b_metric', instance: 'a' }, values: [[start, '1']] },
      { metric: { __name__: 'a_metric', job: 'z', instance: 'b' }, values: [[start, '1']] },
      { metric: { __name__: 'a_metric', job: 'a', instance: 'b' }, values: [[start, '1']] },
      { metric: { __name__: 'a_metric', instance: 'a' }, values: [[start, '1']] },
      { metric: { __name__: 'a_metric', Instance: 'z' }, values: [[start, '1']] },
    ];
    const names = (input: MatrixSeries[]): string[] => matrixToSeries(input, grid).map((series) => series.name);
    const expected = [
      'a_metric{Instance="z"}',
      'a_metric{instance="a"}',
      'a_metric{instance="b", job="a"}',
      'a_metric{instance="b", job="z"}',
      'b_metric{instance="a"}',
    ];
    expect(names(result)).toEqual(expected);
    expect(names([...result].reverse())).toEqual(expected);
  });

  it('names series from the legend template, else like Prometheus, else the query', () => {
    const result: MatrixSeries[] = [
      { metric: { __name__: 'http_requests_total', instance: 'web-1', code: '500' }, values: [[start, '1']] },
      { metric: {}, values: [[start, '1']] },
    ];
    expect(matrixToSeries(result, grid, '{{instance}} {{code}}', 'sum(x)').map((s) => s.name)).toEqual([
      'sum(x)',
      'web-1 500',
    ]);
    expect(matrixToSeries(result, grid, undefined, 'sum(x)').map((s) => s.name)).toEqual([
      'sum(x)',
      'http_requests_total{code="500", instance="web-1"}',
    ]);
  });

  it('gives native-histogram-only series (no float values) an empty line instead of failing', () => {
    const [series] = matrixToSeries([{ metric: { __name__: 'h' }, histograms: [[start, {}]] }], grid);
    expect(series).toMatchObject({ name: 'h', timestamps: [], values: [] });
  });

  it('rejects a step that is not positive', () => {
    expect(() => matrixToSeries([], { start, end: start, step: 0 })).toThrow('step must be positive');
  });
});

describe('legendName', () => {
  const labels = { __name__: 'http_requests_total', instance: 'web-1:9100', code: '200' };

  it('fills {{label}} and {{ label }}, unknown labels empty', () => {
    expect(legendName('{{instance}} {{code}}', labels, 'q')).toBe('web-1:9100 200');
    expect(legendName('{{ instance }}/{{missing}}/{{__name__}}', labels, 'q')).toBe('web-1:9100//http_requests_total');
  });

  it('falls back to the selector when the template renders blank', () => {
    expect(legendName('{{missing}}', labels, 'q')).toBe('http_requests_total{code="200", instance="web-1:9100"}');
  });

  it('writes label sets like Prometheus, escaping quotes', () => {
    expect(legendName(undefined, { __name__: 'up' }, 'q')).toBe('up');
    expect(legendName(undefined, { job: 'a"b' }, 'q')).toBe('{job="a\\"b"}');
    expect(legendName(undefined, {}, 'sum(rate(x[5m]))')).toBe('sum(rate(x[5m]))');
  });
});

describe('instant results', () => {
  it('vectorToRows keeps values (NaN/Inf too) and sorts by labels', () => {
    const rows = vectorToRows([
      { metric: { __name__: 'up', instance: 'b' }, value: [start, '+Inf'] },
      { metric: { __name__: 'up', instance: 'a' }, value: [start, '0.5'] },
    ]);
    expect(rows.map((row) => [row.name, row.value, row.timestamp])).toEqual([
      ['up{instance="a"}', 0.5, start],
      ['up{instance="b"}', Infinity, start],
    ]);
  });

  it('scalarToRows gives one unlabelled row', () => {
    expect(scalarToRows([start, '42'], 'scalar(1)')).toEqual([{ labels: {}, name: 'scalar(1)', timestamp: start, value: 42 }]);
  });
});
