// %promql and %%promql: queries Prometheus and shows the answer as a chart in the cell (a range query by
// default, a table and a bar chart with --instant), or says "no data"; --watch refreshes the same chart in
// place. `const r = %promql ...` also binds the data (labels, timestamps, numbers) for TypeScript.
import { randomUUID } from 'node:crypto';
import type { DisplayHandle, Io } from '../../kernel/io/io';
import type { NotebookConfig } from '../lib/notebook-config';
import { MagicError } from '../../kernel/io/errors';
import type { Magic, MagicCall } from '../registry';
import { PlotlyLibrary } from '../plotly-library';
import { promRequest, PromSuccess } from './client';
import { PromqlCompleter } from './completion';
import { PLOTLY_MIME, chartBundle, emptyBundle, redrawingBundle, tableBundle, withNote } from './bundle';
import { instantFigure, Marker, rangeFigure } from './figure';
import { PromqlQuery, QueryRange, queriesOf, rangeOf } from './queries';
import { InstantRow, MatrixSeries, SamplePair, Series, VectorSample, matrixToSeries, scalarToRows, vectorToRows } from './series';
import { formatDuration, parseDuration, parseTime } from '../lib/time';
import { UNIT_NAMES, UnitName, parseUnit } from './units';
import { sleep } from '../lib/sleep';

/** What `const r = %promql ...` binds. */
export interface PromqlResult {
  queries: string[];
  /** Range queries: one per series, values null where Prometheus had none (gaps). */
  series: Series[];
  /** Instant queries: one row per series. */
  rows: InstantRow[];
  start: number;
  end: number;
  step: number;
  warnings: string[];
  infos: string[];
}

const DEFAULT_TIMEOUT = '30s';
const DEFAULT_WIDTH = 1000;

const duration = (value: string): number => parseDuration(value);

export function promqlMagic(config: NotebookConfig, plotly = new PlotlyLibrary(), env: NodeJS.ProcessEnv = process.env): Magic {
  const completer = new PromqlCompleter(() => config.prometheus());
  return {
    name: 'promql',
    summary: 'chart a PromQL query from Prometheus (range by default; %%promql: one query per line, # legend)',
    kind: 'both',
    positional: { name: 'query', description: 'the PromQL expression (with %%promql: one per line below)', rest: true },
    options: [
      { name: 'since', type: 'string', valueName: 'duration', description: 'range back from --end (default 1h)', parse: (v) => (duration(v), v) },
      { name: 'start', type: 'string', valueName: 'time', description: 'range start: RFC 3339, unix seconds, now-2h', parse: (v) => (parseTime(v, 0), v) },
      { name: 'end', type: 'string', valueName: 'time', description: 'range end (or the instant), default now', parse: (v) => (parseTime(v, 0), v) },
      { name: 'step', type: 'string', valueName: 'duration', description: 'resolution (default: from the range and the chart width)', parse: (v) => (duration(v), v) },
      { name: 'instant', type: 'boolean', description: 'one value per series at --end: a table and a bar chart' },
      { name: 'legend', type: 'string', valueName: 'template', description: 'series names like "{{instance}} {{code}}"' },
      { name: 'unit', type: 'string', valueName: 'unit', description: `value unit: ${UNIT_NAMES.join(', ')}`, parse: (v) => parseUnit(v) },
      { name: 'stack', type: 'boolean', description: 'stacked areas' },
      { name: 'title', type: 'string', valueName: 'text', description: 'chart title' },
      { name: 'threshold', type: 'list', valueName: 'value', description: 'a dashed line at this value (repeatable)', parse: (v) => parseThreshold(v) },
      { name: 'mark', type: 'list', valueName: 'time[=label]', description: 'a vertical line at this time, e.g. a deploy (repeatable)' },
      { name: 'log', type: 'boolean', description: 'logarithmic value axis' },
      { name: 'timeout', type: 'string', valueName: 'duration', description: `give up on Prometheus after this long (default ${DEFAULT_TIMEOUT})`, parse: (v) => (duration(v), v) },
      { name: 'watch', type: 'string', valueName: 'interval', description: 'refresh the chart in place every interval until interrupted', parse: (v) => (duration(v), v) },
      { name: 'for', type: 'string', valueName: 'duration', description: 'with --watch: stop after this long (default 15m)', parse: (v) => (duration(v), v) },
      { name: 'width', type: 'number', valueName: 'px', description: `chart width (default: the output area's; the automatic step assumes ${DEFAULT_WIDTH} px)` },
      { name: 'height', type: 'number', valueName: 'px', description: 'chart height' },
    ],
    run: (call) => runPromql(call, config, plotly, env),
    completeArguments: (before) => completer.complete(before),
  };
}

function parseThreshold(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new Error(`"${v}" is not a number`);
  return n;
}

function markers(values: unknown, now: number): Marker[] {
  if (!Array.isArray(values)) return [];
  return values.map((v) => {
    const text = String(v);
    const eq = text.indexOf('=');
    const when = eq < 0 ? text : text.slice(0, eq);
    try {
      return { time: parseTime(when, now), label: eq < 0 ? '' : text.slice(eq + 1) };
    } catch (e) {
      throw new MagicError(`%promql: --mark ${text}: ${(e as Error).message}`);
    }
  });
}

interface Answer {
  result: PromqlResult;
  bundle: Record<string, unknown>;
}

/** One round: every query asked (in parallel), the answers turned into a chart or a table bundle. */
/**
 * One round: every query asked (in parallel), the answers turned into a chart or a table bundle. `owner` names the
 * output that may carry plotly.js (see PlotlyLibrary.scriptOnce): the cell, or the --watch display.
 */
async function ask(call: MagicCall, config: NotebookConfig, plotly: PlotlyLibrary, env: NodeJS.ProcessEnv, queries: PromqlQuery[], owner: string | undefined): Promise<Answer> {
  const o = call.args.options;
  const now = Date.now() / 1000;
  const width = typeof o.width === 'number' ? o.width : DEFAULT_WIDTH;
  const range: QueryRange = rangeOf(o, now, width);
  const instant = o.instant === true;
  const timeoutMs = parseDuration(typeof o.timeout === 'string' ? o.timeout : DEFAULT_TIMEOUT) * 1000;
  const settings = config.prometheus();
  const answers: PromSuccess[] = await Promise.all(
    queries.map((q) =>
      promRequest(
        settings,
        instant
          ? { path: '/api/v1/query', params: { query: q.expr, time: String(range.end), timeout: `${timeoutMs / 1000}s` }, timeoutMs, signal: call.io.signal, query: q.expr }
          : { path: '/api/v1/query_range', params: { query: q.expr, start: String(range.start), end: String(range.end), step: String(range.step), timeout: `${timeoutMs / 1000}s` }, timeoutMs, signal: call.io.signal, query: q.expr },
        env,
      ),
    ),
  );
  const warnings = answers.flatMap((a) => a.warnings);
  const infos = answers.flatMap((a) => a.infos);
  const series: Series[] = [];
  const rows: InstantRow[] = [];
  answers.forEach((a, i) => {
    const q = queries[i];
    const data = a.data as { resultType?: unknown; result?: unknown };
    if (data.resultType === 'matrix') series.push(...matrixToSeries(data.result as MatrixSeries[], range, q.legend, q.expr));
    else if (data.resultType === 'vector') rows.push(...vectorToRows(data.result as VectorSample[], q.legend, q.expr));
    else if (data.resultType === 'scalar' || data.resultType === 'string') rows.push(...scalarToRows(data.result as SamplePair, q.expr));
  });
  const result: PromqlResult = { queries: queries.map((q) => q.expr), series, rows, start: range.start, end: range.end, step: range.step, warnings, infos };
  const queryText = queries.map((q) => q.expr).join('; ');
  const unit = (o.unit as UnitName | undefined) ?? undefined;
  const notes = { warnings, infos };
  if (series.length === 0 && rows.length === 0) {
    return { result, bundle: { ...emptyBundle(queryText, instant ? `the instant ${new Date(range.end * 1000).toISOString()}` : range.text, notes) } };
  }
  const chartOptions = {
    title: typeof o.title === 'string' ? o.title : undefined,
    unit,
    stack: o.stack === true,
    log: o.log === true,
    thresholds: Array.isArray(o.threshold) ? (o.threshold as number[]) : undefined,
    markers: markers(o.mark, now),
    range: { start: range.start, end: range.end },
    // without --width the chart fills the output area (the default width only sets the automatic step)
    width: typeof o.width === 'number' ? o.width : undefined,
    height: typeof o.height === 'number' ? o.height : undefined,
  };
  if (instant) {
    const figure = instantFigure(rows, chartOptions);
    const table = tableBundle(rows, unit, notes);
    const chart = chartBundle(figure, { summary: `${queryText}: ${rows.length} series at ${new Date(range.end * 1000).toISOString()}`, plotly, owner, ...notes });
    return { result, bundle: { ...chart, 'text/html': `${table['text/html']}\n${chart['text/html']}`, 'text/plain': table['text/plain'] } };
  }
  const figure = rangeFigure(series, chartOptions);
  const summary = `${queryText}: ${series.length} series, ${range.text}, step ${formatDuration(range.step)}`;
  return { result, bundle: { ...chartBundle(figure, { summary, plotly, owner, ...notes }) } };
}


/**
 * Shows `next` in the --watch display that shows `previous`.
 *
 * Why a chart replacing a chart goes through a second, plain form first: JupyterLab (4.x, OutputArea._setOutput)
 * keeps the rendered widget for an update_display_data whose preferred MIME type and isolation are unchanged and only
 * calls its renderModel, and jupyterlab-plotly's renderer (5.x) returns from renderModel at once when it has drawn a
 * graph: with the Plotly extension, a chart updated by a chart stays on its first frame. An update whose preferred
 * type differs makes JupyterLab dispose of that widget and create a new renderer. So the display is first updated
 * with a form without the Plotly JSON (redrawingBundle: an empty box of the chart's height in text/html), then with
 * the new chart: JupyterLab with the extension draws it with a fresh Plotly renderer; without the extension text/html
 * is preferred both times and the HTML renderer re-renders each; classic Notebook re-renders the output on every
 * update_display_data, and VS Code replaces the output's items, which its renderers draw anew. The cell's other
 * outputs are untouched, and the last message, the whole chart, is what a saved notebook keeps. Rejected: clear_output
 * (wait) and a new display would clear the cell's other outputs; toggling the output's `isolated` metadata makes
 * JupyterLab copy the rendered HTML into an iframe, a static picture without plotly.js; a new display per refresh
 * piles up charts.
 */
function replaceShown(handle: DisplayHandle, previous: Record<string, unknown>, next: Record<string, unknown>): void {
  if (PLOTLY_MIME in previous && PLOTLY_MIME in next) handle.update({ ...redrawingBundle(next) });
  handle.update(next);
}

/** --watch: the same display updated in place every interval, until --for has passed or the cell is interrupted. */
async function watch(call: MagicCall, io: Io, first: Answer, refresh: () => Promise<Answer>): Promise<Answer> {
  const o = call.args.options;
  const everyMs = parseDuration(String(o.watch)) * 1000;
  const forMs = parseDuration(typeof o.for === 'string' ? o.for : '15m') * 1000;
  const handle = io.display(first.bundle);
  const until = Date.now() + forMs;
  let latest = first;
  let shown = first.bundle;
  const show = (bundle: Record<string, unknown>): void => {
    replaceShown(handle, shown, bundle);
    shown = bundle;
  };
  while (!io.signal.aborted && Date.now() + everyMs <= until) {
    await sleep(everyMs, io.signal);
    if (io.signal.aborted) break;
    try {
      latest = await refresh();
      show(latest.bundle);
    } catch (e) {
      if (io.signal.aborted) break;
      // a failed refresh keeps the last chart and says why in every form (each frontend shows only one), then tries
      // again at the next interval
      const note = `refresh at ${new Date().toISOString()} failed: ${(e as Error).message}; retrying every ${formatDuration(everyMs / 1000)}`;
      show(withNote(latest.bundle, note));
    }
  }
  return latest;
}

async function runPromql(call: MagicCall, config: NotebookConfig, plotly: PlotlyLibrary, env: NodeJS.ProcessEnv): Promise<PromqlResult | undefined> {
  const queries = queriesOf(call.args.rest, call.body, typeof call.args.options.legend === 'string' ? call.args.options.legend : undefined);
  const watching = typeof call.args.options.watch === 'string';
  // every refresh of a --watch display replaces it: if it carried plotly.js, each refresh must carry it again
  const owner = call.io.cellId ?? (watching ? `watch-${randomUUID()}` : undefined);
  const once = () => ask(call, config, plotly, env, queries, owner);
  let answer = await once();
  if (watching) answer = await watch(call, call.io, answer, once);
  else call.io.display(answer.bundle);
  return call.bound ? answer.result : undefined;
}
