// Unit tests of chart and table bundles: plotly.js in the first chart's HTML only, later charts waiting for
// window.Plotly or saying how to get it back, nothing in the HTML ending a <script> early, Prometheus warnings
// shown, the "no data" text, instant tables. Ends with a size/time measurement of a 100 × 1,000 matrix.
import { readFileSync } from 'node:fs';
import { Script, createContext, runInContext } from 'node:vm';

import { installedLibraryPath, PlotlyLibrary, PLOTLY_READY_EVENT, scriptSafe } from '../../magics/plotly-library';
import {
  chartBundle,
  emptyBundle,
  PLOTLY_MIME,
  PLOTLY_MISSING_TEXT,
  redrawingBundle,
  scriptJson,
  tableBundle,
  tableHtml,
  tableText,
  withNote,
} from '../../magics/promql/bundle';
import { instantFigure, rangeFigure, type Figure } from '../../magics/promql/figure';
import { matrixToSeries, vectorToRows, type MatrixSeries, type Series } from '../../magics/promql/series';

const start = 1764064800;
const FAKE_LIBRARY = 'window.Plotly = { fake: true };';

function figureWithLabel(instance: string): Figure {
  const series: Series = { labels: { instance }, name: `up{instance=${JSON.stringify(instance)}}`, timestamps: [start, start + 15], values: [1, 0] };
  return rangeFigure([series], { unit: 'percentunit', title: instance });
}

function count(text: string, pattern: RegExp): number {
  return (text.match(pattern) ?? []).length;
}

interface FakePage {
  element: { textContent: string };
  newPlot: jest.Mock;
  listeners: Map<string, () => void>;
  runTimers: () => void;
}

/** Runs a chart's scripts against a minimal window/document, with or without plotly.js. */
function renderInFakePage(html: string, withPlotly: boolean): FakePage {
  const element = { textContent: 'loading' };
  const newPlot = jest.fn();
  const listeners = new Map<string, () => void>();
  const timers: (() => void)[] = [];
  const window: Record<string, unknown> = {
    addEventListener: (name: string, listener: () => void) => listeners.set(name, listener),
  };
  if (withPlotly) window.Plotly = { newPlot };
  const context = createContext({
    window,
    document: { getElementById: () => element },
    setTimeout: (callback: () => void) => timers.push(callback),
  });
  for (const [, body] of html.matchAll(/<script>([\s\S]*?)<\/script>/g)) runInContext(body, context);
  const runTimers = (): void => {
    while (timers.length > 0) timers.shift()?.();
  };
  return { element, newPlot, listeners, runTimers };
}

describe('PlotlyLibrary', () => {
  it('reads the library only when a chart first asks for it', () => {
    const load = jest.fn(() => FAKE_LIBRARY);
    const library = new PlotlyLibrary(load);
    expect(load).not.toHaveBeenCalled();
    library.scriptOnce();
    library.reset();
    library.scriptOnce();
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('gives the script once, then nothing until reset', () => {
    const library = new PlotlyLibrary(() => FAKE_LIBRARY);
    const first = library.scriptOnce();
    expect(first).toContain(FAKE_LIBRARY);
    expect(first).toContain(PLOTLY_READY_EVENT);
    expect(library.scriptOnce()).toBeUndefined();
    expect(library.alreadySent).toBe(true);
    library.reset();
    expect(library.scriptOnce()).toBe(first);
  });

  it('gives it again to the output that carried it (a re-run cell), not to others', () => {
    const library = new PlotlyLibrary(() => FAKE_LIBRARY);
    expect(library.scriptOnce('cell-1')).toBeDefined();
    expect(library.scriptOnce('cell-2')).toBeUndefined();
    expect(library.scriptOnce()).toBeUndefined();
    expect(library.scriptOnce('cell-1')).toBeDefined();
  });

  it('counts its bytes', () => {
    expect(new PlotlyLibrary(() => 'µ').bytes).toBe(2);
  });

  it('neutralises </script, <script and <!-- without changing what the JavaScript means', () => {
    const source = 'var a = "</script><!-- <SCRIPT>", b = /<\\/script>/.test("</script>"), c = `<!--${1}`; [a, b, c]';
    const safe = scriptSafe(source);
    expect(safe).not.toMatch(/<\/script|<script|<!--/i);
    expect(runInContext(safe, createContext({}))).toEqual(runInContext(source, createContext({})));
  });

  it('makes the installed plotly.min.js safe inside <script> and it still compiles', () => {
    const original = readFileSync(installedLibraryPath(), 'utf8');
    const library = new PlotlyLibrary();
    const script = library.scriptOnce() ?? '';
    expect(library.bytes).toBeGreaterThanOrEqual(Buffer.byteLength(original));
    expect(count(script, /<\/script/gi)).toBe(2);
    const body = script.slice('<script>'.length, script.indexOf('</script>'));
    expect(body).not.toMatch(/<script|<!--/i);
    expect(body.length).toBeGreaterThanOrEqual(original.length);
    expect(() => new Script(body)).not.toThrow();
  });

  it('keeps what every executed notebook carries at 1.2 MB at most (the partial bundle, not the 4.8 MB full one)', () => {
    expect(new PlotlyLibrary().bytes).toBeLessThanOrEqual(1_200_000);
  });
});

describe('chartBundle', () => {
  it('carries the figure, HTML and a text summary; the library only in the first chart', () => {
    const library = new PlotlyLibrary(() => FAKE_LIBRARY);
    const figure = figureWithLabel('web-1');
    const first = chartBundle(figure, { summary: 'up: 1 series', plotly: library });
    const second = chartBundle(figure, { summary: 'up: 1 series', plotly: library });
    expect(first[PLOTLY_MIME]).toBe(figure);
    expect(first['text/plain']).toBe('up: 1 series');
    expect(first['text/html']).toContain(FAKE_LIBRARY);
    expect(second['text/html']).not.toContain(FAKE_LIBRARY);
    expect(second['text/html']).toContain('window.Plotly');
  });

  it('gives every chart its own element id', () => {
    const library = new PlotlyLibrary(() => FAKE_LIBRARY);
    const ids = [1, 2, 3].map(() => /<div id="([^"]+)"/.exec(chartBundle(figureWithLabel('a'), { summary: 's', plotly: library })['text/html'])?.[1]);
    expect(new Set(ids).size).toBe(3);
  });

  it('never lets a label end the script early: no </script in the HTML but the closing tags', () => {
    const library = new PlotlyLibrary(() => FAKE_LIBRARY);
    library.scriptOnce();
    const html = chartBundle(figureWithLabel('</script><script>alert(1)</script><!--\u2028'), { summary: '</script>', plotly: library })['text/html'];
    expect(count(html, /<\/script/gi)).toBe(count(html, /<script>/g));
    expect(count(html, /<script>/g)).toBe(1);
    expect(html).not.toContain('<!--');
    expect(html).not.toContain('\u2028');
  });

  it('draws the same figure with plotly.js, with hover text in the unit', () => {
    const figure = figureWithLabel('</script>');
    const library = new PlotlyLibrary(() => FAKE_LIBRARY);
    library.scriptOnce();
    const html = chartBundle(figure, { summary: 's', plotly: library, id: 'c1' })['text/html'];
    const page = renderInFakePage(html, true);
    expect(page.newPlot).toHaveBeenCalledTimes(1);
    const [element, data, layout] = page.newPlot.mock.calls[0] as [unknown, Figure['data'], Figure['layout']];
    expect(element).toBe(page.element);
    expect(layout).toEqual(figure.layout);
    expect(data[0]).toMatchObject({ y: [1, 0], name: figure.data[0].name, text: ['100%', '0%'] });
  });

  it('waits for plotly.js announced by a later script', () => {
    const library = new PlotlyLibrary(() => FAKE_LIBRARY);
    library.scriptOnce();
    const page = renderInFakePage(chartBundle(figureWithLabel('a'), { summary: 's', plotly: library })['text/html'], false);
    expect(page.newPlot).not.toHaveBeenCalled();
    expect(page.listeners.has(PLOTLY_READY_EVENT)).toBe(true);
  });

  it('says how to get plotly.js back when it never comes', () => {
    const library = new PlotlyLibrary(() => FAKE_LIBRARY);
    library.scriptOnce();
    const page = renderInFakePage(chartBundle(figureWithLabel('a'), { summary: 's', plotly: library })['text/html'], false);
    page.runTimers();
    expect(page.element.textContent).toBe(PLOTLY_MISSING_TEXT);
    expect(PLOTLY_MISSING_TEXT).toBe(
      'plotly.js is not loaded in this page: re-run the first chart cell (or open the notebook in JupyterLab with the Plotly extension)',
    );
  });

  it('shows Prometheus warnings and infos under the chart and in the text', () => {
    const bundle = chartBundle(figureWithLabel('a'), {
      summary: 'up: 1 series',
      warnings: ['PromQL warning: <careful>'],
      infos: ['PromQL info: metric might not be a counter'],
      plotly: new PlotlyLibrary(() => FAKE_LIBRARY),
    });
    expect(bundle['text/plain']).toBe('up: 1 series\nwarning: PromQL warning: <careful>\ninfo: PromQL info: metric might not be a counter');
    expect(bundle['text/html']).toContain('warning: PromQL warning: &lt;careful&gt;');
    expect(bundle['text/html']).toContain('info: PromQL info: metric might not be a counter');
  });
});

describe('--watch refresh forms', () => {
  const chart = () => chartBundle(figureWithLabel('a:1'), { summary: 'up: 1 series', plotly: new PlotlyLibrary(() => FAKE_LIBRARY) }) as unknown as Record<string, unknown>;

  test('a note (a failed refresh) is in every form: above the HTML, under the text, at the top of the Plotly figure', () => {
    const note = 'refresh failed: <connection refused> & retrying';
    const bundle = chart();
    const noted = withNote(bundle, note);
    expect(noted['text/plain']).toBe(`${String(bundle['text/plain'])}\n${note}`);
    expect(noted['text/html']).toBe(`<div class="opsbook-note" style="color:#d62728;font-size:12px">&#9888; refresh failed: &lt;connection refused&gt; &amp; retrying</div>${String(bundle['text/html'])}`);
    const figure = noted[PLOTLY_MIME] as Figure & { layout: { annotations: Array<{ text: string }> } };
    expect(figure.layout.annotations.map((a) => a.text)).toEqual(['&#9888; refresh failed: &lt;connection refused&gt; &amp; retrying']);
    expect(figure.data).toBe((bundle[PLOTLY_MIME] as Figure).data);
    // the chart that was shown is left as it was
    expect((bundle[PLOTLY_MIME] as { layout: { annotations?: unknown } }).layout.annotations).toBeUndefined();
    expect(withNote({ 'text/plain': 'no data' }, 'x')).toEqual({ 'text/plain': 'no data\nx' });
  });

  test('the redrawing step has no Plotly JSON, only an empty box of the chart\'s height and the summary', () => {
    const bundle = chart();
    const height = (bundle[PLOTLY_MIME] as Figure).layout.height;
    expect(redrawingBundle(bundle)).toEqual({ 'text/html': `<div class="opsbook-chart-redrawing" style="height:${height}px"></div>`, 'text/plain': 'up: 1 series' });
  });
});

describe('scriptJson', () => {
  it('escapes <, U+2028, U+2029 and keeps the value', () => {
    const value = { text: '</script>\u2028\u2029µ' };
    const json = scriptJson(value);
    expect(json).not.toMatch(/[<\u2028\u2029]/);
    expect(JSON.parse(json)).toEqual(value);
  });
});

describe('emptyBundle', () => {
  it('says there is no data for the query in the range', () => {
    const bundle = emptyBundle('up{job="<x>"}', 'the last 1h', { warnings: ['w'] });
    expect(bundle['text/plain']).toBe('no data for up{job="<x>"} in the last 1h\nwarning: w');
    expect(bundle['text/html']).toContain('no data for <code>up{job=&quot;&lt;x&gt;&quot;}</code> in the last 1h');
  });
});

describe('instant tables', () => {
  const rows = vectorToRows([
    { metric: { __name__: 'mem', instance: 'b</td><script>' }, value: [start, '536870912'] },
    { metric: { __name__: 'mem', instance: 'a', zone: 'eu' }, value: [start, 'NaN'] },
  ]);

  it('escapes every cell and formats values in the unit', () => {
    const html = tableHtml(rows, 'bytes');
    expect(html).not.toContain('<script>');
    expect(html).toContain('b&lt;/td&gt;&lt;script&gt;');
    expect(html).toContain('>512 MiB</td>');
    expect(html).toContain('title="536870912"');
    expect(html).toContain('<th>metric</th><th>instance</th><th>zone</th><th style="text-align:right">value</th>');
  });

  it('has an aligned plain-text twin', () => {
    expect(tableText(rows, 'bytes').split('\n')).toEqual([
      'metric  instance        zone    value',
      'mem     a               eu        NaN',
      'mem     b</td><script>        512 MiB',
    ]);
  });

  it('bundles with notes', () => {
    const bundle = tableBundle(rows, 'bytes', { infos: ['i'] });
    expect(bundle['text/plain'].endsWith('\ninfo: i')).toBe(true);
    expect(bundle['text/html']).toContain('info: i');
  });

  it('bars and table come from the same rows', () => {
    const figure = instantFigure(rows, { unit: 'bytes' });
    expect(figure.data[0].type).toBe('bar');
  });
});

describe('measurement: 100 series × 1,000 points', () => {
  it('reports bundle time and size against the raw Prometheus JSON', () => {
    const step = 15;
    const grid = { start, end: start + step * 999, step };
    const result: MatrixSeries[] = Array.from({ length: 100 }, (_, seriesIndex) => ({
      metric: { __name__: 'http_requests', code: '200', instance: `host-${seriesIndex}:9100`, job: 'api' },
      values: Array.from({ length: 1000 }, (_, index): [number, string] => [
        start + index * step,
        String((seriesIndex * 7 + (index % 13)) / 60),
      ]),
    }));
    const raw = JSON.stringify({ status: 'success', data: { resultType: 'matrix', result } });
    const library = new PlotlyLibrary(() => FAKE_LIBRARY);
    library.scriptOnce();
    const timings: number[] = [];
    let wireSize = 0;
    for (let round = 0; round < 5; round++) {
      const began = performance.now();
      const parsed = JSON.parse(raw) as { data: { result: MatrixSeries[] } };
      const series = matrixToSeries(parsed.data.result, grid);
      const bundle = chartBundle(rangeFigure(series, { unit: 'reqps', range: grid }), { summary: 's', plotly: library });
      wireSize = JSON.stringify(bundle).length;
      timings.push(performance.now() - began);
    }
    timings.sort((left, right) => left - right);
    const ratio = wireSize / raw.length;
    process.stdout.write(
      `promql bundle, 100x1000: raw ${raw.length} B, bundle ${wireSize} B (ratio ${ratio.toFixed(3)}), ` +
        `median ${timings[2].toFixed(1)} ms (parse + series + figure + bundle + JSON.stringify)\n`,
    );
    expect(ratio).toBeLessThanOrEqual(1.2);
  });
});
