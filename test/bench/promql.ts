// %promql benchmarks, against the real Prometheus: (1) 100 series x 1,000 points, the query result turned into
// the chart bundle (parse + series + figure + bundle + serialise; Prometheus's own time excluded) and the
// bundle's size against the raw answer; (2) a notebook with 10 charts (9 range, 1 instant) executed by `jupyter
// nbconvert --execute`: how many copies of plotly.js the saved notebook carries, and the bytes of the <script>
// elements that hold them, measured in the saved .ipynb.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { CLI } from '../support/kernel-process';
import { startPrometheus } from '../support/prometheus';
import { PLOTLY_PACKAGE, PlotlyLibrary } from '../../magics/plotly-library';
import { chartBundle } from '../../magics/promql/bundle';
import { rangeFigure } from '../../magics/promql/figure';
import { MatrixSeries, matrixToSeries } from '../../magics/promql/series';
import { plotlyBanner } from '../support/plotly-copies';
import { Summary, summarize } from './stats';

export const SERIES = 100;
export const POINTS = 1000;
const STEP = 60;
export const NOTEBOOK_CHARTS = 10;

export interface PromqlBench {
  series: number;
  points: number;
  /** Bytes of Prometheus's answer to the query_range. */
  rawBytes: number;
  /** Bytes of the bundle as the kernel sends it (JSON), without the plotly.js script the first chart carries. */
  bundleBytes: number;
  /** Answer body → bundle JSON, p50 of warm runs, and the first run of this process. */
  toBundle: Summary;
  /** The bundle to JSON, as the kernel's wire encoding does for any output (not part of toBundle). */
  serialise: Summary;
  /** First conversion of the process, serialisation included. */
  firstMs: number;
  /** Prometheus's own time for the same query (not part of toBundle). */
  prometheusMs: number;
  notebook: NotebookBench | { error: string };
}

export interface NotebookBench {
  charts: number;
  /** plotly.js copies found in the executed notebook (its announce line is written once per copy). */
  copies: number;
  /** Bytes (UTF-8) of the <script> elements in the saved notebook's outputs that hold plotly.js. */
  libraryBytes: number;
  /** The npm package and version of the library measured. */
  library: string;
  notebookBytes: number;
  nbconvertMs: number;
}

/** 100 gauges with 1,000 one-minute samples each, values with the many digits real rates have. */
function history(end: number): string {
  const lines = ['# TYPE opsbook_bench_load gauge'];
  const start = end - (POINTS - 1) * STEP;
  for (let s = 0; s < SERIES; s++) {
    for (let i = 0; i < POINTS; i++) {
      const v = (s + 1) / 7 + Math.sin((i + s) / 37) / 3;
      lines.push(`opsbook_bench_load{instance="host-${String(s).padStart(3, '0')}:9100",job="node"} ${v} ${start + i * STEP}`);
    }
  }
  lines.push('# EOF');
  return `${lines.join('\n')}\n`;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** Bytes of the <script> elements, in the text/html of a saved notebook's outputs, that hold plotly.js. */
function libraryScriptBytes(notebookJson: string): number {
  const banner = plotlyBanner();
  const notebook = JSON.parse(notebookJson) as { cells: { outputs?: { data?: Record<string, string | string[]> }[] }[] };
  let bytes = 0;
  for (const cell of notebook.cells) {
    for (const output of cell.outputs ?? []) {
      const html = output.data?.['text/html'];
      const text = Array.isArray(html) ? html.join('') : html ?? '';
      for (const [script] of text.matchAll(/<script>[\s\S]*?<\/script>/g)) if (script.includes(banner)) bytes += Buffer.byteLength(script);
    }
  }
  return bytes;
}

/** Executes a 10-chart notebook with nbconvert in a Jupyter that sees only a temporary opsbook kernelspec. */
async function notebookBench(prometheusUrl: string, start: number, end: number): Promise<NotebookBench> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'opsbook-bench-nb-'));
  try {
    const prefix = path.join(root, 'prefix');
    const env: NodeJS.ProcessEnv = { ...process.env, JUPYTER_PATH: path.join(prefix, 'share', 'jupyter'), JUPYTER_DATA_DIR: path.join(root, 'data'), JUPYTER_RUNTIME_DIR: path.join(root, 'runtime'), JUPYTER_CONFIG_DIR: path.join(root, 'config'), JUPYTER_NO_CONFIG: '1', PROMETHEUS_URL: prometheusUrl, OPSBOOK_HISTORY_FILE: path.join(root, 'history.jsonl') };
    for (const d of ['data', 'runtime', 'config']) mkdirSync(path.join(root, d), { recursive: true });
    const install = await run(process.execPath, [CLI, 'install', '--prefix', prefix], env, 30_000);
    if (install.code !== 0) throw new Error(`opsbook install failed: ${install.output}`);
    const cells = Array.from({ length: NOTEBOOK_CHARTS }, (_, i) => ({
      cell_type: 'code',
      execution_count: null,
      id: `chart-${i}`,
      metadata: {},
      outputs: [],
      source:
        i === NOTEBOOK_CHARTS - 1
          ? `%promql opsbook_bench_load --instant --end ${end} --title "chart ${i + 1}"`
          : `%promql opsbook_bench_load{instance=~"host-${String(i).padStart(2, '0')}.*"} --start ${start} --end ${end} --title "chart ${i + 1}"`,
    }));
    const notebook = { cells, metadata: { kernelspec: { name: 'opsbook', display_name: 'opsbook', language: 'typescript' } }, nbformat: 4, nbformat_minor: 5 };
    const input = path.join(root, 'charts.ipynb');
    writeFileSync(input, JSON.stringify(notebook));
    const t0 = performance.now();
    const r = await run('/usr/bin/python3', ['-m', 'jupyter', 'nbconvert', '--to', 'notebook', '--execute', '--ExecutePreprocessor.kernel_name=opsbook', '--ExecutePreprocessor.timeout=120', input, '--output', 'executed'], env, 180_000);
    const nbconvertMs = performance.now() - t0;
    if (r.code !== 0) throw new Error(`nbconvert failed: ${r.output.slice(-2000)}`);
    const text = readFileSync(path.join(root, 'executed.ipynb'), 'utf8');
    // each copy of the library is followed by one announce script; count those in the saved JSON
    const copies = text.split('opsbook-plotly-ready\\"));').length - 1;
    return { charts: NOTEBOOK_CHARTS, copies, libraryBytes: libraryScriptBytes(text), library: `${PLOTLY_PACKAGE} ${/v(\d+\.\d+\.\d+)$/.exec(plotlyBanner())?.[1] ?? '?'}`, notebookBytes: Buffer.byteLength(text), nbconvertMs };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

export async function promqlBench(runs: number): Promise<PromqlBench> {
  const end = Math.floor(Date.now() / 1000 / STEP) * STEP - 3600;
  const start = end - (POINTS - 1) * STEP;
  const prometheus = await startPrometheus({ history: history(end) });
  try {
    const params = new URLSearchParams({ query: 'opsbook_bench_load', start: String(start), end: String(end), step: String(STEP) });
    const t0 = performance.now();
    const response = await fetch(`${prometheus.url}/api/v1/query_range`, { method: 'POST', body: params });
    const body = await response.text();
    const prometheusMs = performance.now() - t0;
    const plotly = new PlotlyLibrary();
    plotly.scriptOnce(); // as in a session whose first chart already carried the library
    /** The answer's text → the bundle object %promql displays (the magic's whole work after the answer arrives). */
    const convert = () => {
      const answer = JSON.parse(body) as { data: { result: MatrixSeries[] } };
      const series = matrixToSeries(answer.data.result, { start, end, step: STEP }, '{{instance}}', 'opsbook_bench_load');
      const figure = rangeFigure(series, { range: { start, end } });
      return chartBundle(figure, { summary: `opsbook_bench_load: ${series.length} series`, plotly });
    };
    const f0 = performance.now();
    const first = JSON.stringify(convert());
    const firstMs = performance.now() - f0;
    const samples: number[] = [];
    const serialise: number[] = [];
    for (let i = 0; i < runs; i++) {
      const s = performance.now();
      const bundle = convert();
      const m = performance.now();
      JSON.stringify(bundle);
      samples.push(m - s);
      serialise.push(performance.now() - m);
    }
    const result = JSON.parse(body) as { data: { result: MatrixSeries[] } };
    if (result.data.result.length !== SERIES || result.data.result[0].values?.length !== POINTS) throw new Error(`expected ${SERIES} x ${POINTS} points from Prometheus, got ${result.data.result.length} x ${result.data.result[0]?.values?.length}`);
    let notebook: PromqlBench['notebook'];
    try {
      notebook = await notebookBench(prometheus.url, start, end);
    } catch (e) {
      notebook = { error: (e as Error).message };
    }
    return { series: SERIES, points: POINTS, rawBytes: Buffer.byteLength(body), bundleBytes: Buffer.byteLength(first), toBundle: summarize(samples), serialise: summarize(serialise), firstMs, prometheusMs, notebook };
  } finally {
    await prometheus.stop();
  }
}

/** The %promql rows of the report, with the targets. */
export function promqlRows(b: PromqlBench): { metric: string; value: string; target: string; pass: boolean | undefined }[] {
  const ratio = b.bundleBytes / b.rawBytes;
  const rows = [
    { metric: `${b.series} series × ${b.points} points: answer → chart bundle, p50 (Prometheus time excluded)`, value: `${b.toBundle.p50.toFixed(1)} ms`, target: '≤ 50 ms', pass: b.toBundle.p50 <= 50 },
    { metric: '… then the bundle to JSON for the wire, p50', value: `${b.serialise.p50.toFixed(1)} ms`, target: '—', pass: undefined },
    { metric: '… the first conversion of the process, JSON included', value: `${b.firstMs.toFixed(1)} ms`, target: '—', pass: undefined },
    { metric: '… Prometheus answering the query_range (not included above)', value: `${b.prometheusMs.toFixed(1)} ms`, target: '—', pass: undefined },
    { metric: '… bundle bytes / raw answer bytes (plotly.js excluded)', value: `${ratio.toFixed(3)}× (${b.bundleBytes.toLocaleString('en-US')} / ${b.rawBytes.toLocaleString('en-US')} B)`, target: '≤ 1.2×', pass: ratio <= 1.2 },
  ];
  if ('error' in b.notebook) rows.push({ metric: `notebook with ${NOTEBOOK_CHARTS} charts (nbconvert --execute)`, value: `failed: ${b.notebook.error.slice(0, 200)}`, target: 'one copy, ≤ 1.2 MB', pass: false });
  else {
    const n = b.notebook;
    rows.push({ metric: `plotly.js in the saved notebook with ${n.charts} charts, range and instant (nbconvert --execute)`, value: `${n.copies} cop${n.copies === 1 ? 'y' : 'ies'}, ${(n.libraryBytes / 1e6).toFixed(2)} MB (${n.library})`, target: 'one copy, ≤ 1.2 MB', pass: n.copies === 1 && n.libraryBytes <= 1.2e6 });
    rows.push({ metric: '… whole executed notebook', value: `${(n.notebookBytes / 1e6).toFixed(2)} MB in ${(n.nbconvertMs / 1000).toFixed(1)} s`, target: '—', pass: undefined });
  }
  return rows;
}
