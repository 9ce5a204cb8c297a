// How the JupyterLab suite drives the test page built from test/e2e/lab/page/ (JupyterLab's notebook frontend):
// where the build is and how the classic Notebook server serves it, opening a notebook with or without the Plotly
// extension, the toolbar buttons a person clicks, and reading back what the page shows (prompts, outputs, drawn
// Plotly charts with the data in their DOM node). `window.opsbookLab` is only read, never used to run anything.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { Locator, Page, WebSocket } from 'playwright-core';
import type { NotebookServer } from '../../support/notebook-server';

export const LAB_DIR = __dirname;
/** What `npm run build` in test/e2e/lab writes; served by the Notebook server as /static/opsbook-lab/. */
export const LAB_DIST = path.join(LAB_DIR, 'dist');
const LAB_STATIC = 'opsbook-lab';

/** Why the page cannot be served (with the commands that build it), or undefined when it can. */
export function labBuildProblem(): string | undefined {
  for (const file of ['index.html', 'bundle.js', 'bundle.css']) {
    if (!existsSync(path.join(LAB_DIST, LAB_STATIC, file))) {
      return `the JupyterLab test page is not built (${path.join(LAB_DIST, LAB_STATIC, file)} is missing): cd test/e2e/lab && npm ci && npm run build (.ci/run does this before npm test)`;
    }
  }
  return undefined;
}

/** The Notebook server options that serve the page from the same origin as the notebooks and kernels. */
export const LAB_SERVER_ARGS = [`--NotebookApp.extra_static_paths=${JSON.stringify([LAB_DIST])}`];

/** The page for `notebook` (a path under the server's notebook dir), with or without jupyterlab-plotly. */
export function labUrl(server: NotebookServer, notebook: string, options: { plotly: boolean }): string {
  const query = new URLSearchParams({ notebook, plotly: options.plotly ? '1' : '0', token: server.token });
  return `${server.url}/static/${LAB_STATIC}/index.html?${query}`;
}

/** The part of the page's `window.opsbookLab` this suite reads (JupyterLab's own objects). */
interface LabWindow {
  opsbookLab?: {
    ready: Promise<void>;
    plotlyExtension: boolean;
    panel: {
      context: { model: { dirty: boolean } };
      sessionContext: { kernelDisplayStatus: string; session?: { kernel?: { name: string } | null } | null };
      content: {
        widgets: ReadonlyArray<{
          model: {
            type: string;
            id: string;
            executionCount?: number | null;
            sharedModel: { getSource(): string };
            outputs?: { toJSON(): Array<Record<string, unknown>> };
          };
        }>;
      };
    };
  };
}

export interface LabCell {
  index: number;
  id: string;
  /** The execution count, null when never run or running. */
  count: number | null;
  source: string;
  outputs: Array<Record<string, unknown>>;
}

/** Opens the page and waits until the notebook is loaded and its kernel is idle. */
export async function openLab(page: Page, url: string, timeoutMs = 60_000): Promise<void> {
  await page.goto(url, { waitUntil: 'load', timeout: timeoutMs });
  await page
    .waitForFunction(() => (globalThis as unknown as LabWindow).opsbookLab !== undefined, undefined, { timeout: timeoutMs, polling: 100 })
    .catch(async (error: Error) => {
      throw new Error(`expected the JupyterLab test page to start within ${timeoutMs} ms (window.opsbookLab); the page shows: ${(await page.locator('body').innerText()).slice(0, 300)}: ${error.message}`);
    });
  await page.evaluate(() => (globalThis as unknown as LabWindow).opsbookLab?.ready);
  await waitForIdle(page, timeoutMs);
}

/** The kernel's state as JupyterLab shows it ("idle", "busy", "restarting", ...). */
export async function kernelStatus(page: Page): Promise<string> {
  return page.evaluate(() => (globalThis as unknown as LabWindow).opsbookLab?.panel.sessionContext.kernelDisplayStatus ?? '(no page)');
}

export async function kernelName(page: Page): Promise<string> {
  return page.evaluate(() => (globalThis as unknown as LabWindow).opsbookLab?.panel.sessionContext.session?.kernel?.name ?? '');
}

export async function waitForIdle(page: Page, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let status = '';
  while ((status = await kernelStatus(page)) !== 'idle') {
    if (Date.now() > deadline) throw new Error(`expected the kernel to be idle within ${timeoutMs} ms; JupyterLab shows it ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Every code cell as JupyterLab's models hold it. */
export async function labCells(page: Page): Promise<LabCell[]> {
  return page.evaluate(() => {
    const widgets = (globalThis as unknown as LabWindow).opsbookLab?.panel.content.widgets ?? [];
    return widgets
      .filter((w) => w.model.type === 'code')
      .map((w, index) => ({ index, id: w.model.id, count: w.model.executionCount ?? null, source: w.model.sharedModel.getSource(), outputs: w.model.outputs?.toJSON() ?? [] }));
  });
}

/** Error outputs and stderr streams of a cell, as text. */
export function cellErrors(cell: LabCell): string[] {
  return cell.outputs
    .filter((o) => o.output_type === 'error' || (o.output_type === 'stream' && o.name === 'stderr'))
    .map((o) => (o.output_type === 'error' ? `${String(o.ename)}: ${String(o.evalue)}` : joined(o.text)));
}

export const joined = (value: unknown): string => (Array.isArray(value) ? value.join('') : typeof value === 'string' ? value : '');

/** Waits until every code cell has an execution count and the kernel is idle. */
export async function waitForAllExecuted(page: Page, timeoutMs: number): Promise<LabCell[]> {
  const deadline = Date.now() + timeoutMs;
  let cells: LabCell[] = [];
  for (;;) {
    cells = await labCells(page);
    if (cells.length > 0 && cells.every((c) => typeof c.count === 'number') && (await kernelStatus(page)) === 'idle') return cells;
    if (Date.now() > deadline) {
      const waiting = cells.filter((c) => typeof c.count !== 'number').map((c) => `cell ${c.index} (${c.source.split('\n')[0]})`);
      throw new Error(`expected every code cell to show an execution count and the kernel to be idle within ${timeoutMs} ms; still waiting: ${waiting.join('; ') || `kernel ${await kernelStatus(page)}`}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The code cell (its widget node) whose source shows `text`. */
export function labCell(page: Page, text: string): Locator {
  return page.locator('.jp-Notebook .jp-CodeCell').filter({ has: page.locator('.jp-InputArea-editor', { hasText: text }) }).first();
}

/** Clicks a button of the notebook's toolbar, e.g. "notebook:run-all-cells". */
export async function clickToolbar(page: Page, command: string): Promise<void> {
  await page.locator(`.jp-NotebookPanel-toolbar [data-command="${command}"]`).click();
}

/** Selects a cell (a click on its prompt, command mode) and runs it with the toolbar's ▶ (run and advance). */
export async function runCellFromToolbar(page: Page, cell: Locator): Promise<void> {
  await cell.locator('.jp-InputPrompt').click();
  await clickToolbar(page, 'notebook:run-cell-and-select-next');
}

/** Waits until the cell shows an execution count different from `before` and the kernel is idle. */
export async function waitForRun(page: Page, cellId: string, before: number | null, timeoutMs = 30_000): Promise<LabCell> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const cell = (await labCells(page)).find((c) => c.id === cellId);
    if (cell && typeof cell.count === 'number' && cell.count !== before && (await kernelStatus(page)) === 'idle') return cell;
    if (Date.now() > deadline) throw new Error(`expected cell ${cellId} to run (its count was ${before}, now ${cell?.count}) and the kernel to be idle within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface DrawnPlot {
  /** Which renderer drew it: jupyterlab-plotly's ("extension") or text/html with plotly.js ("html"). */
  renderer: 'extension' | 'html' | 'other';
  /** Each trace's y values as plotly.js holds them on the drawn element (`gd.data`). */
  ys: unknown[][];
  /** The extension's static image (a data URL prefix and length) when it shows one instead of the live chart. */
  image: string;
}

/** The members of the DOM and of plotly.js's graph div this suite reads (the project compiles without the DOM lib). */
interface PlotNode {
  querySelectorAll(selector: string): ArrayLike<PlotNode>;
  closest(selector: string): PlotNode | null;
  querySelector(selector: string): PlotNode | null;
  getAttribute(name: string): string | null;
  data?: Array<{ y?: unknown[] }>;
}

/** The Plotly charts drawn inside `scope`, with their data. */
export async function drawnPlots(scope: Locator): Promise<DrawnPlot[]> {
  return scope.evaluate((element) => {
    const root = element as unknown as PlotNode;
    return Array.from(root.querySelectorAll('.js-plotly-plot')).map((plot) => {
      const renderer = plot.closest('.jp-RenderedPlotly') ? 'extension' : plot.closest('.jp-RenderedHTMLCommon') ? 'html' : 'other';
      const img = plot.closest('.jp-RenderedPlotly')?.querySelector('img.plot-img')?.getAttribute('src') ?? '';
      return { renderer, ys: (plot.data ?? []).map((trace) => Array.from(trace.y ?? [])), image: img === '' ? '' : `${img.slice(0, 30)}… (${img.length})` } as DrawnPlot;
    });
  });
}

/** Waits until `scope` shows a drawn Plotly chart with data from `renderer`. */
export async function waitForPlot(scope: Locator, renderer: DrawnPlot['renderer'], timeoutMs = 20_000): Promise<DrawnPlot> {
  const deadline = Date.now() + timeoutMs;
  let plots: DrawnPlot[] = [];
  for (;;) {
    plots = await drawnPlots(scope);
    const drawn = plots.find((p) => p.renderer === renderer && p.ys.some((ys) => ys.length > 0));
    if (drawn) return drawn;
    if (Date.now() > deadline) {
      const text = (await scope.locator('.jp-OutputArea').innerText().catch(() => '')).slice(0, 400);
      throw new Error(`expected a Plotly chart drawn by the ${renderer} renderer with data within ${timeoutMs} ms; found ${JSON.stringify(plots.map((p) => ({ renderer: p.renderer, traces: p.ys.length })))}; the outputs read: ${text}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export interface SentExecute {
  code: string;
  cellId: unknown;
}

/** Records every execute_request the page sends on its kernel websockets (JSON frames: the classic server speaks no v1 subprotocol). */
export function recordExecuteRequests(page: Page): SentExecute[] {
  const sent: SentExecute[] = [];
  page.on('websocket', (socket: WebSocket) => {
    socket.on('framesent', ({ payload }) => {
      if (typeof payload !== 'string') return;
      try {
        const message = JSON.parse(payload) as { header?: { msg_type?: string }; metadata?: { cellId?: unknown }; content?: { code?: string } };
        if (message.header?.msg_type === 'execute_request') sent.push({ code: message.content?.code ?? '', cellId: message.metadata?.cellId });
      } catch {
        // not a Jupyter message
      }
    });
  });
  return sent;
}
