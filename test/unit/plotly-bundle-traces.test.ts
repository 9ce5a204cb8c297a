// The plotly.js that charts carry is a partial bundle (magics/plotly-library.ts): it must hold every trace type and
// attribute our figures use, or a chart silently draws nothing where the Plotly extension is missing. Here the
// bundle is loaded exactly as a notebook gets it (PlotlyLibrary's <script>) in a vm, and its own module registry
// says which trace types it holds; every figure builder of magics/promql/figure.ts (and of a canary rollout's chart,
// magics/docker/deploy/rollout-figure.ts, built on the same parts) is run over every chart option,
// each chart's HTML is run to get what it hands to Plotly.newPlot, and Plotly.validate checks that against the
// bundle's schema (an unknown trace type or attribute is an error).
import { createContext, runInContext, Script, type Context } from 'node:vm';

import { PlotlyLibrary } from '../../magics/plotly-library';
import { chartBundle } from '../../magics/promql/bundle';
import * as promqlFigureBuilders from '../../magics/promql/figure';
import * as rolloutFigureBuilders from '../../magics/docker/deploy/rollout-figure';
import { parseAnalysis } from '../../magics/docker/deploy/analysis';
import { RolloutTimeline } from '../../magics/docker/deploy/timeline';
import type { ChartOptions, Figure } from '../../magics/promql/figure';
import type { InstantRow, Series } from '../../magics/promql/series';

interface ValidationError {
  code: string;
  msg: string;
}

interface LoadedPlotly {
  version: string;
  /** Trace types registered in the bundle. */
  traceTypes: string[];
  /** Plotly.validate on a figure given as JSON (parsed inside the bundle's own realm). */
  validate(figureJson: string): ValidationError[];
}

/** A browser object the bundle touches while it loads: any property, call or `new` gives another inert object. */
function inert(): unknown {
  const target = function inertObject(): void {};
  return new Proxy(target, {
    get: (_object, key) => (typeof key === 'symbol' || key === 'then' ? undefined : inert()),
    apply: () => inert(),
    construct: () => inert() as object,
  });
}

/** The name in "X is not defined", or undefined for any other error. */
function undefinedGlobal(error: unknown): string | undefined {
  return /^(\w+) is not defined$/.exec((error as Error).message)?.[1];
}

/**
 * Runs the library's script in a fresh vm context where window and self are the global. A browser global the
 * bundle reads ("document is not defined") becomes an inert stand-in and the load starts again in a new context;
 * one read later, by validate, is added to the live global and the call repeated. So this works for whichever
 * bundle is installed without a list of what it touches.
 */
function loadPlotly(source: string): LoadedPlotly {
  const script = new Script(source, { filename: 'plotly.js (as the first chart carries it)' });
  const standIns = new Set<string>();
  for (let attempt = 0; attempt < 40; attempt++) {
    const context: Context = createContext({ navigator: { userAgent: '' } });
    const global = runInContext('globalThis', context) as Record<string, unknown>;
    global.self = global;
    global.window = global;
    for (const name of standIns) global[name] = inert();
    try {
      script.runInContext(context);
    } catch (error) {
      const missing = undefinedGlobal(error);
      if (missing === undefined || standIns.has(missing)) throw error;
      standIns.add(missing);
      continue;
    }
    // the UMD wrapper, with no CommonJS module in sight, puts the library on the global as `moduleName`
    const plotly = (global.Plotly ?? global.moduleName) as {
      version: string;
      PlotSchema: { get(): { traces: Record<string, unknown> } };
      validate(data: unknown, layout: unknown): ValidationError[] | undefined;
    };
    const parse = runInContext('JSON.parse', context) as (text: string) => { data: unknown; layout: unknown };
    const withStandIns = <T>(call: () => T): T => {
      for (;;) {
        try {
          return call();
        } catch (error) {
          const missing = undefinedGlobal(error);
          if (missing === undefined || missing in global) throw error;
          global[missing] = inert();
        }
      }
    };
    return {
      version: plotly.version,
      traceTypes: Object.keys(withStandIns(() => plotly.PlotSchema.get()).traces),
      validate: (figureJson) => {
        const figure = parse(figureJson);
        return withStandIns(() => plotly.validate(figure.data, figure.layout)) ?? [];
      },
    };
  }
  throw new Error(`plotly.js did not load with stand-ins for ${[...standIns].join(', ')}`);
}

/** The library's JavaScript as the first chart's HTML carries it (made safe for <script>). */
function sentLibrarySource(): string {
  const script = new PlotlyLibrary().scriptOnce() ?? '';
  const body = /^<script>([\s\S]*?)<\/script>/.exec(script)?.[1];
  if (body === undefined) throw new Error(`expected PlotlyLibrary.scriptOnce() to start with the library's <script>, got ${script.slice(0, 200)}`);
  return body;
}

/** Runs a chart's HTML scripts with a recording window.Plotly; returns the figure it hands to newPlot, as JSON. */
function drawnFigure(figure: Figure): string {
  const plotly = new PlotlyLibrary(() => '');
  plotly.scriptOnce(); // a later chart: its HTML draws with the window.Plotly an earlier one loaded
  const html = chartBundle(figure, { summary: 'figure', plotly })['text/html'];
  const drawn: string[] = [];
  const window = {
    addEventListener: () => undefined,
    Plotly: { newPlot: (_element: unknown, data: unknown, layout: unknown) => drawn.push(JSON.stringify({ data, layout })) },
  };
  const context = createContext({ window, document: { getElementById: () => ({ textContent: '' }) }, setTimeout: () => 0 });
  for (const [, body] of html.matchAll(/<script>([\s\S]*?)<\/script>/g)) runInContext(body, context);
  if (drawn.length !== 1) throw new Error(`expected the chart's HTML to call Plotly.newPlot once, it called it ${drawn.length} times`);
  return drawn[0];
}

/**
 * The figure as Plotly.validate can take it. Plotly 4.1's validate throws ("reading 'validateFunction'") on a
 * legend container when showlegend is false, as it then builds no legend to compare with; newPlot takes either.
 * So the legend is checked with showlegend on: every attribute is still compared with the bundle's schema.
 */
function forValidation(figureJson: string): string {
  const figure = JSON.parse(figureJson) as { data: unknown[]; layout: Record<string, unknown> };
  if (figure.layout.showlegend === false) figure.layout.showlegend = true;
  return JSON.stringify(figure);
}

/**
 * Whether a validate finding says the bundle lacks something. Two kinds do not: `unused`, an attribute the schema
 * knows that has no effect with the other settings (a grid colour on an axis without grid lines), and Plotly
 * rewriting a date axis range given in milliseconds as date strings while it fills defaults (the same range).
 */
function isBundleProblem(error: ValidationError): boolean {
  if (error.code === 'unused') return false;
  const dateRange = /^In layout, key [xy]axis\d*\.range\[[01]\] \(set to '\d+'\) got reset to '\d{4}-\d\d-\d\d[^']*' during defaults\.$/;
  return !(error.code === 'dynamic' && dateRange.test(error.msg));
}

const start = 1764064800;
const step = 15;

function series(name: string, values: (number | null)[], timestamps = values.map((_, index) => start + index * step)): Series {
  return { labels: { __name__: name, instance: `${name}:9100` }, name, timestamps, values };
}

const RANGE_SERIES: Series[] = [
  series('steady', [1, 2, 3, 4, 5, 6]),
  series('gappy', [0.5, null, 2, null, null, 1]), // a lone point: lines+markers
  series('uneven', [3, 1, 2], [start, start + 10, start + 40]), // explicit x array
  series('negative', [-1, -2, 0.25, -0.5, 1, 2]),
];

const INSTANT_ROWS: InstantRow[] = [
  { labels: { instance: 'a:9100' }, name: 'a', timestamp: start, value: 0.25 },
  { labels: { instance: 'b:9100' }, name: 'b', timestamp: start, value: 3 },
  { labels: { instance: 'c:9100' }, name: 'c', timestamp: start, value: Number.NaN },
  { labels: { instance: 'd:9100' }, name: 'a', timestamp: start, value: 1e6 }, // a repeated name
];

/** Every chart option set: adding an option to ChartOptions makes this fail to compile until it is covered here. */
const EVERY_OPTION: Required<ChartOptions> = {
  title: 'every option <b>&</b>',
  unit: 'bytes',
  stack: false,
  log: false,
  thresholds: [2, 4],
  markers: [{ time: start + 30, label: 'deploy v2' }],
  range: { start: start - 60, end: start + 120 },
  width: 640,
  height: 300,
};

/** Chart options to try: none, then every option with each combination of the on/off ones. */
function optionSets(): ChartOptions[] {
  const switches = (Object.keys(EVERY_OPTION) as (keyof ChartOptions)[]).filter((key) => typeof EVERY_OPTION[key] === 'boolean');
  const sets: ChartOptions[] = [{}];
  for (let mask = 0; mask < 2 ** switches.length; mask++) {
    const options: ChartOptions = { ...EVERY_OPTION };
    switches.forEach((key, bit) => Object.assign(options, { [key]: (mask & (2 ** bit)) !== 0 }));
    sets.push(options);
  }
  return sets;
}

const figureBuilders = { ...promqlFigureBuilders, ...rolloutFigureBuilders };

/** A canary rolled back at its second step: three analyses in three units, every kind of measurement. */
function rolloutTimeline(): RolloutTimeline {
  const t0 = start * 1000;
  const analyses = ['errors: e < 1%', 'latency: l <= 300ms', 'up: u >= 1'].map(parseAnalysis);
  const timeline = new RolloutTimeline(analyses, t0);
  timeline.stepStarted(0, 10, t0 + 1000);
  timeline.stepStarted(1, 50, t0 + 10_000);
  analyses.forEach((a, index) => {
    timeline.measured(a, { kind: 'inconclusive', why: 'no data', at: t0 + 2000 });
    timeline.measured(a, { kind: 'success', value: a.threshold / 2, at: t0 + 5000 });
    timeline.measured(a, { kind: 'error', message: 'timeout', at: t0 + 8000 });
    timeline.measured(a, { kind: index === 0 ? 'failure' : 'success', value: a.threshold * (index === 0 ? 3 : 0.5), at: t0 + 12_000 });
  });
  timeline.rolledBack('errors was 0.03, not < 1%', { analysis: analyses[0], why: 'errors was 0.03, not < 1%' }, t0 + 12_400);
  return timeline;
}

/** Sample input for each figure builder; a new builder without one fails the first test below. */
const BUILDER_INPUTS: Record<string, (options: ChartOptions) => Figure> = {
  rangeFigure: (options) => figureBuilders.rangeFigure(RANGE_SERIES, options),
  instantFigure: (options) => figureBuilders.instantFigure(INSTANT_ROWS, options),
  // its options are the title and width; the switches of ChartOptions do not apply
  rolloutFigure: (options) => figureBuilders.rolloutFigure(rolloutTimeline(), { ...(options.title === undefined ? {} : { title: options.title }), ...(options.width === undefined ? {} : { width: options.width }) }),
};

describe('the plotly.js bundle charts carry holds everything our figures use', () => {
  const plotly = loadPlotly(sentLibrarySource());
  const figures = Object.entries(BUILDER_INPUTS).flatMap(([builder, build]) =>
    optionSets().map((options) => ({ label: `${builder}(${JSON.stringify(options)})`, figure: build(options) })),
  );

  it('has sample input for every figure builder in magics/promql/figure.ts and magics/docker/deploy/rollout-figure.ts', () => {
    const builders = Object.entries(figureBuilders)
      .filter(([name, value]) => typeof value === 'function' && /Figure$/.test(name))
      .map(([name]) => name)
      .sort();
    expect(builders).toEqual(Object.keys(BUILDER_INPUTS).sort());
  });

  it('registers every trace type a figure emits', () => {
    const emitted = [...new Set(figures.flatMap(({ figure }) => figure.data.map((trace) => trace.type)))].sort();
    expect(emitted.length).toBeGreaterThan(0);
    const missing = emitted.filter((type) => !plotly.traceTypes.includes(type));
    if (missing.length > 0) {
      throw new Error(
        `plotly.js ${plotly.version} as charts carry it registers the trace types ${plotly.traceTypes.join(', ')}, ` +
          `but the figures emit ${missing.join(', ')}: pick a Plotly bundle that holds them (magics/plotly-library.ts)`,
      );
    }
  });

  it.each(Object.keys(BUILDER_INPUTS))('accepts every attribute of each %s chart as its HTML draws it (Plotly.validate)', (builder) => {
    const errors = figures
      .filter(({ label }) => label.startsWith(`${builder}(`))
      .flatMap(({ label, figure }) => plotly.validate(forValidation(drawnFigure(figure))).filter(isBundleProblem).map((error) => `${label}: [${error.code}] ${error.msg}`));
    expect(errors).toEqual([]);
  });

  it('notices a trace type the bundle does not hold (the checks above can fail)', () => {
    const figure = JSON.stringify({ data: [{ type: 'opsbook-no-such-trace', x: [1], y: [1] }], layout: {} });
    expect(plotly.traceTypes).not.toContain('opsbook-no-such-trace');
    expect(plotly.validate(figure).map((error) => error.msg).join('\n')).toMatch(/invalid value \(opsbook-no-such-trace\)/);
  });
});
