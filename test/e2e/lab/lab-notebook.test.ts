// The opsbook kernel in JupyterLab's own notebook frontend (the test page built from test/e2e/lab/page/: NotebookPanel,
// CodeCell.execute, OutputArea, rendermime, the stdin widget, the toolbar), served by Debian's classic Notebook
// server and driven in Debian's Chromium: Run All on quickstart.ipynb; a %promql chart drawn with and without the
// jupyterlab-plotly mime extension; `%promql --watch` redrawing the chart (the data plotly.js holds in the DOM changes)
// with and without it, the cell's other outputs kept; a re-run chart cell leaving one plotly.js in the saved notebook;
// display/update and clearOutput({wait}); input() answered in JupyterLab's stdin widget; interrupt and restart from
// the toolbar; a cellId in every execute_request the page sends. Real Prometheus, Docker and kernel; screenshots in
// test-results/e2e/lab-*.png. Skipped with a warning when a part (or the page's build) is missing, except with CI=true.
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { BrowserSession, launchChromium } from '../../support/browser';
import { plotlyCopies } from '../../support/plotly-copies';
import { NotebookServer, startNotebookServer } from '../../support/notebook-server';
import { QuickstartStack, describeWhenInstalled, missingParts, processesWithMarker, requireParts, startQuickstartStack } from '../quickstart-fixture';
import {
  DrawnPlot,
  LAB_SERVER_ARGS,
  LabCell,
  SentExecute,
  cellErrors,
  clickToolbar,
  drawnPlots,
  joined,
  kernelName,
  kernelStatus,
  labBuildProblem,
  labCell,
  labCells,
  labUrl,
  openLab,
  recordExecuteRequests,
  runCellFromToolbar,
  waitForAllExecuted,
  waitForIdle,
  waitForPlot,
  waitForRun,
} from './lab-page';

const build = labBuildProblem();
const problems = [...missingParts({ notebookServer: true }), ...(build ? [build] : [])];
const describeLab = describeWhenInstalled('e2e JupyterLab', problems);

/** The scratch notebook of the focused tests: one cell per behaviour, with ids the kernel sees as cellId. */
const CELLS = {
  chart: { id: 'lab-chart', source: '%promql opsbook_live_requests_total --since 2m --title "requests"' },
  // the live target's counter grows between refreshes (Prometheus scrapes it every second); the lines around the
  // magic must stay
  watch: { id: 'lab-watch', source: 'console.log("before the chart");\n%promql sum(opsbook_live_requests_total) --since 1m --watch 1s --for 8s\nconsole.log("after the chart");' },
  display: {
    id: 'lab-display',
    source: 'const shown = display(html("<b>step 1</b>"));\nawait new Promise((resolve) => setTimeout(resolve, 300));\nshown.update(html("<b>step 2</b>, updated in place"));',
  },
  clear: { id: 'lab-clear', source: 'console.log("old line");\nclearOutput({ wait: true });\nawait new Promise((resolve) => setTimeout(resolve, 300));\nconsole.log("new line");' },
  input: { id: 'lab-input', source: 'const name = await input("Your name? ");\nconsole.log(`Hello, ${name}!`);' },
  loop: { id: 'lab-loop', source: 'let spins = 0;\nwhile (true) { spins++; }' },
  fresh: { id: 'lab-fresh', source: 'typeof spins' },
};
const ANSWER = 'Ada Lovelace';

function scratchNotebook(): string {
  const cells = Object.values(CELLS).map((c) => ({ cell_type: 'code', id: c.id, metadata: {}, execution_count: null, outputs: [], source: c.source }));
  const metadata = { kernelspec: { display_name: 'TypeScript (opsbook)', language: 'typescript', name: 'opsbook' }, language_info: { name: 'typescript', file_extension: '.ts' } };
  return JSON.stringify({ cells, metadata, nbformat: 4, nbformat_minor: 5 }, null, 1);
}

interface SavedNotebook {
  cells: Array<{ cell_type: string; id?: string; execution_count?: number | null; outputs?: Array<Record<string, unknown>> }>;
}

describeLab('opsbook in JupyterLab (its notebook frontend), in Chromium', () => {
  let stack: QuickstartStack | undefined;
  let server: NotebookServer | undefined;
  let browser: BrowserSession | undefined;
  const pageErrors: string[] = [];
  let sent: SentExecute[] = [];
  let scratchFile = '';

  const page = (): Page => {
    if (!browser) throw new Error('the browser did not start (see beforeAll)');
    return browser.page;
  };

  /** Runs one stage; a screenshot after it (with `focus` in view), or one named ...-FAILED when it throws. */
  async function stage(name: string, focus: (() => Locator) | undefined, body: () => Promise<void>): Promise<void> {
    try {
      await body();
      await browser?.screenshot(name, focus?.());
    } catch (error) {
      const shot = await browser?.screenshot(`${name}-FAILED`, focus?.());
      const errors = pageErrors.length > 0 ? `\nJavaScript errors in the page:\n${pageErrors.join('\n')}` : '';
      (error as Error).message += `${errors}\nscreenshot: ${shot ?? '(none)'}${server ? `\nnotebook server log tail:\n${server.logs().split('\n').slice(-15).join('\n')}` : ''}`;
      throw error;
    }
  }

  const cellById = async (id: string): Promise<LabCell> => {
    const cell = (await labCells(page())).find((c) => c.id === id);
    if (!cell) throw new Error(`the page shows no cell with id ${id}`);
    return cell;
  };

  /** Runs one cell of the scratch notebook from the toolbar and waits for it to finish. */
  const runCell = async (cell: { id: string; source: string }, timeoutMs = 30_000): Promise<LabCell> => {
    const before = (await cellById(cell.id)).count;
    await runCellFromToolbar(page(), labCell(page(), cell.source.split('\n')[0]));
    return waitForRun(page(), cell.id, before, timeoutMs);
  };

  beforeAll(async () => {
    requireParts(problems);
    stack = await startQuickstartStack('lab');
    scratchFile = path.join(stack.notebookDir, 'lab.ipynb');
    writeFileSync(scratchFile, scratchNotebook());
    server = await startNotebookServer({ jupyter: stack.jupyter, notebookDir: stack.notebookDir, env: stack.env, extraArgs: LAB_SERVER_ARGS });
    browser = await launchChromium({ screenshotPrefix: 'lab' });
    browser.page.on('pageerror', (error) => pageErrors.push(error.message));
    sent = recordExecuteRequests(browser.page);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await stack?.stop();
  }, 90_000);

  it('runs quickstart.ipynb with the toolbar\'s Run All: every cell numbered, the chart drawn by jupyterlab-plotly, the %ps table, no error', async () => {
    await stage('quickstart-ran-all', () => labCell(page(), '%promql up'), async () => {
      await openLab(page(), labUrl(server!, 'quickstart.ipynb', { plotly: true }));
      expect(await kernelName(page())).toBe('opsbook');
      await clickToolbar(page(), 'notebook:run-all-cells');
      const cells = await waitForAllExecuted(page(), 90_000);
      expect(cells.map((c) => c.count)).toEqual(cells.map((_, i) => i + 1));
      expect(cells.filter((c) => cellErrors(c).length > 0).map((c) => ({ cell: c.index, errors: cellErrors(c) }))).toEqual([]);
      await waitForPlot(labCell(page(), '%promql up'), 'extension');
      const psTable = labCell(page(), '%ps').locator('table.opsbook-ps');
      await psTable.waitFor({ state: 'visible', timeout: 10_000 });
      expect(await psTable.locator('tr', { hasText: stack!.service }).count()).toBe(1);
      await expect(labCell(page(), 'status.update').locator('.jp-OutputArea').innerText()).resolves.toContain('updated in place');
      expect(pageErrors).toEqual([]);
    });
  }, 150_000);

  for (const plotly of [true, false]) {
    const renderer: DrawnPlot['renderer'] = plotly ? 'extension' : 'html';
    const name = plotly ? 'with-plotly' : 'without-plotly';
    const label = plotly ? 'with the jupyterlab-plotly extension' : 'without the extension (text/html and plotly.js)';

    it(`draws a %promql chart ${label}`, async () => {
      await stage(`${name}-chart`, () => labCell(page(), '%promql opsbook_live'), async () => {
        await openLab(page(), labUrl(server!, 'lab.ipynb', { plotly }));
        const cell = await runCell(CELLS.chart);
        expect(cellErrors(cell)).toEqual([]);
        const drawn = await waitForPlot(labCell(page(), '%promql opsbook_live'), renderer);
        expect(drawn.ys.flat().filter((y) => typeof y === 'number').length).toBeGreaterThan(0);
      });
    }, 90_000);

    it(`%promql --watch redraws the chart ${label}, keeping the cell's other outputs`, async () => {
      const scope = (): Locator => labCell(page(), 'console.log("before the chart")');
      await stage(`${name}-watch`, scope, async () => {
        const before = (await cellById(CELLS.watch.id)).count;
        await runCellFromToolbar(page(), scope());
        // what plotly.js holds in the drawn chart's DOM node, sampled while the cell runs
        const frames = new Set<string>();
        const seen: string[] = [];
        const started = Date.now();
        const deadline = started + 20_000;
        let running = true;
        while (running && Date.now() < deadline) {
          const plots = (await drawnPlots(scope())).filter((p) => p.renderer === renderer && p.ys.some((ys) => ys.length > 0));
          const frame = plots.length > 0 ? JSON.stringify(plots[0].ys) : undefined;
          if (frame !== undefined && !frames.has(frame)) seen.push(`${Date.now() - started} ms: last values ${plots[0].ys.map((ys) => ys.at(-1)).join(', ')}`);
          if (frame !== undefined) frames.add(frame);
          const cell = await cellById(CELLS.watch.id);
          running = !(typeof cell.count === 'number' && cell.count !== before);
          await new Promise((resolve) => setTimeout(resolve, 150));
        }
        const cell = await waitForRun(page(), CELLS.watch.id, before, 20_000);
        expect(cellErrors(cell)).toEqual([]);
        // 8 s at 1 s: the first chart and up to seven refreshes; at least three different drawn frames (a loaded
        // machine may paint fewer than every one)
        if (frames.size < 3) throw new Error(`expected the chart to show at least 3 different frames while --watch ran; it showed ${frames.size}: ${seen.join('; ')}`);
        await waitForPlot(scope(), renderer);
        const text = await scope().locator('.jp-OutputArea').innerText();
        expect(text).toContain('before the chart');
        expect(text).toContain('after the chart');
        expect(await scope().locator('.js-plotly-plot').count()).toBe(1);
      });
    }, 90_000);
  }

  it('a re-run chart cell leaves one plotly.js in the saved notebook', async () => {
    await stage('rerun-saved', () => labCell(page(), '%promql opsbook_live'), async () => {
      await runCell(CELLS.chart);
      await waitForPlot(labCell(page(), '%promql opsbook_live'), 'html');
      await clickToolbar(page(), 'notebook:save');
      const deadline = Date.now() + 15_000;
      let copies = -1;
      let count: number | null | undefined;
      const expected = (await cellById(CELLS.chart.id)).count;
      while (Date.now() < deadline) {
        const text = readFileSync(scratchFile, 'utf8');
        try {
          count = (JSON.parse(text) as SavedNotebook).cells.find((c) => c.id === CELLS.chart.id)?.execution_count;
        } catch {
          // the server is still writing it
          count = undefined;
        }
        copies = plotlyCopies(text);
        if (count === expected) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect({ count, copies }).toEqual({ count: expected, copies: 1 });
    });
  }, 60_000);

  it('display().update() replaces one output in place; clearOutput({ wait: true }) clears when the next output comes', async () => {
    await stage('display-update-clear', () => labCell(page(), 'clearOutput'), async () => {
      const shown = await runCell(CELLS.display);
      expect(shown.outputs.length).toBe(1);
      expect((await labCell(page(), 'const shown').locator('.jp-OutputArea').innerText()).trim()).toBe('step 2, updated in place');
      const cleared = await runCell(CELLS.clear);
      expect(cleared.outputs.map((o) => joined(o.text))).toEqual(['new line\n']);
      expect((await labCell(page(), 'clearOutput').locator('.jp-OutputArea').innerText()).trim()).toBe('new line');
    });
  }, 60_000);

  it('input() is answered in JupyterLab\'s stdin widget', async () => {
    const cell = (): Locator => labCell(page(), 'Your name?');
    await stage('input-asked', cell, async () => {
      const before = (await cellById(CELLS.input.id)).count;
      await runCellFromToolbar(page(), cell());
      const box = cell().locator('input.jp-Stdin-input');
      await box.waitFor({ state: 'visible', timeout: 15_000 });
      await expect(cell().locator('.jp-Stdin-prompt').innerText()).resolves.toContain('Your name?');
      await box.fill(ANSWER);
      await box.press('Enter');
      const done = await waitForRun(page(), CELLS.input.id, before, 15_000);
      expect(done.outputs.map((o) => joined(o.text)).join('')).toContain(`Hello, ${ANSWER}!`);
    });
  }, 60_000);

  it('the toolbar\'s interrupt stops a busy loop; its restart (confirmed in the dialog) gives a fresh kernel', async () => {
    await stage('interrupted', () => labCell(page(), 'let spins'), async () => {
      await runCellFromToolbar(page(), labCell(page(), 'let spins'));
      // the loop has started once the kernel is busy with it
      const deadline = Date.now() + 15_000;
      while ((await kernelStatus(page())) !== 'busy' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      await clickToolbar(page(), 'notebook:interrupt-kernel');
      await waitForIdle(page(), 15_000);
      const loop = await cellById(CELLS.loop.id);
      expect(loop.outputs.filter((o) => o.output_type === 'error').length).toBe(1);
    });
    await stage('restarted', () => labCell(page(), 'typeof spins'), async () => {
      await clickToolbar(page(), 'notebook:restart-kernel');
      await page().locator('.jp-Dialog .jp-Dialog-button.jp-mod-accept').click();
      await page().locator('.jp-Dialog').waitFor({ state: 'detached', timeout: 15_000 });
      await waitForIdle(page(), 30_000);
      const fresh = await runCell(CELLS.fresh);
      expect(fresh.outputs.map((o) => joined((o.data as Record<string, unknown> | undefined)?.['text/plain']))).toEqual(["'undefined'"]);
    });
  }, 90_000);

  it('every execute_request the page sent carries the id of the cell it ran', async () => {
    expect(sent.length).toBeGreaterThanOrEqual(10);
    const quickstart = JSON.parse(readFileSync(path.join(stack!.notebookDir, 'quickstart.ipynb'), 'utf8')) as SavedNotebook;
    const ids = new Set([...Object.values(CELLS).map((c) => c.id), ...quickstart.cells.map((c) => c.id)]);
    expect(sent.filter((s) => typeof s.cellId !== 'string' || !ids.has(s.cellId))).toEqual([]);
  });

  it('closing the browser and stopping the server leaves no browser, server or kernel process', async () => {
    const browserLeft = await browser!.close();
    const serverLeft = await server!.stop();
    const markedLeft = await processesWithMarker(stack!.marker);
    expect({ browserLeft, serverLeft, markedLeft }).toEqual({ browserLeft: [], serverLeft: [], markedLeft: [] });
  }, 60_000);
});
