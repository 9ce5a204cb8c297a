// MIME bundles for %promql results. A chart is application/vnd.plotly.v1+json (JupyterLab's Plotly extension,
// VS Code) + text/html that draws the same figure with plotly.js (classic Notebook, nbconvert HTML, JupyterLab
// without the extension) + text/plain (summary, warnings). plotly.js itself rides in the first chart's HTML
// only (PlotlyLibrary); later charts wait briefly for window.Plotly and otherwise say how to get it back.
// Also the "no data" bundle and instant-query tables. Pure apart from a random id per chart.
import { randomBytes } from 'node:crypto';

import { escapeHtml } from '../../kernel/io/html';
import { PLOTLY_READY_EVENT, type PlotlyLibrary } from '../plotly-library';
import { plotlyText, type Figure } from './figure';
import type { InstantRow } from './series';
import { FORMAT_VALUE_JS, formatValue, unitSpec, type UnitName } from './units';

export const PLOTLY_MIME = 'application/vnd.plotly.v1+json';

export interface ChartBundle {
  [PLOTLY_MIME]: Figure;
  'text/html': string;
  'text/plain': string;
}

export interface TextBundle {
  'text/html': string;
  'text/plain': string;
}

/** What Prometheus said besides the data (the `warnings` and `infos` of its answer). */
export interface QueryNotes {
  warnings?: string[];
  infos?: string[];
}

export interface ChartBundleOptions extends QueryNotes {
  /** One line for text/plain, e.g. "rate(http_requests_total[5m]): 12 series, last 1h, step 15s". */
  summary: string;
  plotly: PlotlyLibrary;
  /** Passed to PlotlyLibrary.scriptOnce: the output that carried plotly.js gets it again when re-run. */
  owner?: string;
  /** The chart element's id; a fresh random one by default. */
  id?: string;
}

/** Shown in the chart's place when plotly.js is not in the page (its carrier output is gone). */
export const PLOTLY_MISSING_TEXT =
  'plotly.js is not loaded in this page: re-run the first chart cell (or open the notebook in JupyterLab with the Plotly extension)';

/** In the chart's place until it is drawn: stays if scripts do not run (an untrusted notebook). */
const PLACEHOLDER_TEXT = 'chart loading&hellip; if it stays like this, trust the notebook or re-run the cell';

/** How long a chart waits for window.Plotly before showing PLOTLY_MISSING_TEXT (it still draws if it comes). */
const PLOTLY_WAIT_MS = 3000;

export function chartBundle(figure: Figure, options: ChartBundleOptions): ChartBundle {
  const id = options.id ?? newChartId();
  const library = options.plotly.scriptOnce(options.owner) ?? '';
  const width = figure.layout.width === undefined ? '100%' : `${figure.layout.width}px`;
  const size = `width:${width};height:${figure.layout.height}px`;
  const placeholder = `${escapeHtml(options.summary)} (${PLACEHOLDER_TEXT})`;
  const html =
    `<div class="opsbook-chart">${library}` +
    `<div id="${escapeHtml(id)}" style="${size}">${placeholder}</div>` +
    `<script>${drawScript(id, figure)}</script>` +
    notesHtml(options) +
    `</div>`;
  return { [PLOTLY_MIME]: figure, 'text/html': html, 'text/plain': withNotesText(options.summary, options) };
}

function newChartId(): string {
  return `opsbook-chart-${randomBytes(8).toString('hex')}`;
}

/**
 * The browser side of a chart: find the element (it may be attached to the page after the script runs, as in
 * classic Notebook), wait for window.Plotly (polling, and on the event the library's script fires), give each
 * trace hover text formatted in the unit, draw. Without plotly.js after PLOTLY_WAIT_MS, show the message.
 * Everything data-dependent goes through scriptJson, so nothing in it can close the <script>.
 */
function drawScript(id: string, figure: Figure): string {
  const constants = [
    `id = ${scriptJson(id)}`,
    `figure = ${scriptJson(figure)}`,
    `spec = ${scriptJson(unitSpec(figure.layout.meta.unit))}`,
    `missingText = ${scriptJson(PLOTLY_MISSING_TEXT)}`,
    `format = ${FORMAT_VALUE_JS}`,
  ];
  return `(function () {
var ${constants.join(',\n  ')};
var drawn = false, waitedMs = 0;
function withHoverText(trace) {
  if (Array.isArray(trace.text)) return;
  var bar = trace.type === 'bar', values = bar ? trace.x : trace.y;
  trace.text = values.map(function (value) { return value === null ? '' : format(value, spec); });
  trace.hovertemplate = (bar ? '%{y}' : '%{fullData.name}') + ': %{text}<extra></extra>';
  if (bar) trace.texttemplate = '%{text}';
}
function draw() {
  var element = document.getElementById(id);
  if (drawn || !element || !window.Plotly) return drawn;
  drawn = true;
  element.textContent = '';
  figure.data.forEach(withHoverText);
  window.Plotly.newPlot(element, figure.data, figure.layout, { responsive: true, displaylogo: false });
  return true;
}
function wait() {
  if (draw()) return;
  waitedMs += 100;
  if (waitedMs < ${PLOTLY_WAIT_MS}) { setTimeout(wait, 100); return; }
  var element = document.getElementById(id);
  if (element) element.textContent = missingText;
}
window.addEventListener(${scriptJson(PLOTLY_READY_EVENT)}, draw);
wait();
})();`;
}

/**
 * JSON that can sit inside <script>: `<` as \u003c (so no `</script` or `<!--`), and every non-ASCII character
 * (U+2028 and U+2029 among them) as \uXXXX, so the script reads the same whatever charset the page declares.
 */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<\u007f-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}


function notesHtml(notes: QueryNotes): string {
  const lines = [
    ...(notes.warnings ?? []).map((text) => `<div style="color:#d68a00">&#9888; warning: ${escapeHtml(text)}</div>`),
    ...(notes.infos ?? []).map((text) => `<div style="opacity:0.75">&#8505; info: ${escapeHtml(text)}</div>`),
  ];
  return lines.length === 0 ? '' : `<div class="opsbook-notes" style="font-size:12px">${lines.join('')}</div>`;
}

function withNotesText(text: string, notes: QueryNotes): string {
  const lines = [
    text,
    ...(notes.warnings ?? []).map((warning) => `warning: ${warning}`),
    ...(notes.infos ?? []).map((info) => `info: ${info}`),
  ];
  return lines.join('\n');
}

/**
 * What a --watch display shows for a moment between two charts (see replaceShown in magic.ts): no Plotly JSON, so
 * JupyterLab retires the Plotly renderer that drew the previous chart, and an empty box of the chart's height in
 * text/html, so the page does not jump when a frontend paints it.
 */
export function redrawingBundle(chart: Record<string, unknown>): TextBundle {
  const figure = chart[PLOTLY_MIME] as Figure | undefined;
  const height = figure?.layout.height ?? 0;
  return { 'text/html': `<div class="opsbook-chart-redrawing" style="height:${height}px"></div>`, 'text/plain': String(chart['text/plain'] ?? '') };
}

/** A note on a chart's Plotly figure: a line of text at the top of the plot. */
interface NoteAnnotation {
  text: string;
  xref: 'paper';
  yref: 'paper';
  x: number;
  y: number;
  xanchor: 'center';
  yanchor: 'top';
  showarrow: false;
  font: { color: string; size: number };
  bgcolor: string;
  bordercolor: string;
}

const NOTE_COLOR = '#d62728';

/**
 * `bundle` with `note` (e.g. why a --watch refresh failed) in every form it has, since each frontend shows only one:
 * a line above the text/html, a line under the text/plain, and an annotation at the top of the Plotly figure.
 */
export function withNote(bundle: Record<string, unknown>, note: string): Record<string, unknown> {
  const noted: Record<string, unknown> = { ...bundle };
  if (typeof bundle['text/html'] === 'string') {
    noted['text/html'] = `<div class="opsbook-note" style="color:${NOTE_COLOR};font-size:12px">&#9888; ${escapeHtml(note)}</div>${bundle['text/html']}`;
  }
  noted['text/plain'] = `${String(bundle['text/plain'] ?? '')}\n${note}`;
  const figure = bundle[PLOTLY_MIME] as (Figure & { layout: { annotations?: NoteAnnotation[] } }) | undefined;
  if (figure !== undefined) {
    const annotation: NoteAnnotation = {
      text: `&#9888; ${plotlyText(note)}`,
      xref: 'paper',
      yref: 'paper',
      x: 0.5,
      y: 1,
      xanchor: 'center',
      yanchor: 'top',
      showarrow: false,
      font: { color: NOTE_COLOR, size: 12 },
      bgcolor: 'rgba(255,255,255,0.85)',
      bordercolor: NOTE_COLOR,
    };
    noted[PLOTLY_MIME] = { ...figure, layout: { ...figure.layout, annotations: [...(figure.layout.annotations ?? []), annotation] } };
  }
  return noted;
}

/** "no data for <query> in <range>", with whatever Prometheus noted. */
export function emptyBundle(query: string, rangeText: string, notes: QueryNotes = {}): TextBundle {
  const html =
    `<div class="opsbook-empty">no data for <code>${escapeHtml(query)}</code> in ${escapeHtml(rangeText)}</div>` +
    notesHtml(notes);
  return { 'text/html': html, 'text/plain': withNotesText(`no data for ${query} in ${rangeText}`, notes) };
}

interface Table {
  header: string[];
  cells: string[][];
  /** The exact values, for the HTML cells' tooltips. */
  rawValues: string[];
}

/** Columns: metric name (if any row has one), each label key, then the value in the unit. */
function instantTable(rows: InstantRow[], unit: UnitName): Table {
  const hasMetricName = rows.some((row) => (row.labels.__name__ ?? '') !== '');
  const keys = [...new Set(rows.flatMap((row) => Object.keys(row.labels)))].filter((key) => key !== '__name__').sort();
  const identify = !hasMetricName && keys.length === 0;
  const header = [...(identify ? ['series'] : []), ...(hasMetricName ? ['metric'] : []), ...keys, 'value'];
  const cells = rows.map((row) => [
    ...(identify ? [row.name] : []),
    ...(hasMetricName ? [row.labels.__name__ ?? ''] : []),
    ...keys.map((key) => row.labels[key] ?? ''),
    formatValue(row.value, unit),
  ]);
  return { header, cells, rawValues: rows.map((row) => rawValueText(row.value)) };
}

function rawValueText(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/** An instant query result as an HTML table (every cell escaped); the value column is right-aligned. */
export function tableHtml(rows: InstantRow[], unit: UnitName = 'none'): string {
  const table = instantTable(rows, unit);
  const valueColumn = table.header.length - 1;
  const headerCells = table.header
    .map((title, column) => `<th${column === valueColumn ? ' style="text-align:right"' : ''}>${escapeHtml(title)}</th>`)
    .join('');
  const bodyRows = table.cells.map((cells, rowIndex) => {
    const labelCells = cells.slice(0, valueColumn).map((cell) => `<td style="text-align:left">${escapeHtml(cell)}</td>`);
    const valueCell = `<td style="text-align:right" title="${escapeHtml(table.rawValues[rowIndex])}">${escapeHtml(cells[valueColumn])}</td>`;
    return `<tr>${labelCells.join('')}${valueCell}</tr>`;
  });
  return `<table class="opsbook-table"><thead><tr>${headerCells}</tr></thead><tbody>${bodyRows.join('')}</tbody></table>`;
}

/** The same table as aligned plain text. */
export function tableText(rows: InstantRow[], unit: UnitName = 'none'): string {
  const table = instantTable(rows, unit);
  const lines = [table.header, ...table.cells];
  const widths = table.header.map((_, column) => Math.max(...lines.map((line) => line[column].length)));
  const valueColumn = table.header.length - 1;
  return lines
    .map((line) =>
      line
        .map((cell, column) => (column === valueColumn ? cell.padStart(widths[column]) : cell.padEnd(widths[column])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Table bundle for an instant query, with Prometheus's warnings and infos under it. */
export function tableBundle(rows: InstantRow[], unit: UnitName = 'none', notes: QueryNotes = {}): TextBundle {
  return {
    'text/html': tableHtml(rows, unit) + notesHtml(notes),
    'text/plain': withNotesText(tableText(rows, unit), notes),
  };
}

