// notebooks/quickstart.ipynb in Debian's classic Jupyter Notebook 6, driven in Debian's Chromium like a person
// would: Cell > Run All, then the page must show every prompt number, a drawn Plotly chart, the %ps table (with the
// container this suite started) and no error output; a cell added through the UI asks input() and gets the answer
// typed into the page's raw_input box; saved with File > Save and Checkpoint, `jupyter trust`ed and reloaded, the
// chart draws again without running anything, and so it does after the chart cell is re-run, saved and reopened.
// Real Prometheus, real Docker, an isolated Jupyter; screenshots in test-results/e2e/. Skipped with a warning when
// Chromium, the Notebook server, Prometheus or Docker is missing, except with CI=true (then it fails).
import { readFileSync } from 'node:fs';
import type { Locator, Page } from 'playwright-core';
import { BrowserSession, launchChromium, waitForChart } from '../support/browser';
import { JUPYTER, describeRun, run } from '../support/jupyter-env';
import { NotebookServer, startNotebookServer } from '../support/notebook-server';
import { plotlyCopies } from '../support/plotly-copies';
import { addCellAndType, cellContaining, codeCells, interruptFromMenu, kernelNames, notebookFlags, openNotebook, runAllFromMenu, runCellFromMenu, saveFromMenu, waitForAllExecuted, waitForKernelIdle, waitForNotebook } from './classic-notebook';
import { QuickstartStack, describeWhenInstalled, missingParts, processesWithMarker, requireParts, startQuickstartStack } from './quickstart-fixture';

const problems = missingParts({ notebookServer: true });
const describeE2e = describeWhenInstalled('e2e notebook-browser', problems);

const INPUT_CELL = 'const name = await input("Your name? ");\nconsole.log(`Hello, ${name}!`);';
const ANSWER = 'Ada Lovelace';

interface SavedNotebook {
  cells: Array<{ cell_type: string; source: string | string[]; execution_count?: number | null; outputs?: Array<Record<string, unknown>> }>;
}

const joined = (value: unknown): string => (Array.isArray(value) ? value.join('') : typeof value === 'string' ? value : '');
const codeCellWith = (nb: SavedNotebook | undefined, text: string) => nb?.cells.find((c) => c.cell_type === 'code' && joined(c.source).includes(text));
const savedPrompts = (nb: SavedNotebook | undefined): string[] =>
  (nb?.cells ?? []).filter((c) => c.cell_type === 'code').map((c) => (typeof c.execution_count === 'number' ? String(c.execution_count) : ''));

/**
 * Polls the notebook file until `ready` accepts what it holds (a save is written atomically, but an autosave may
 * have written an older state before it); returns the parsed notebook and its text.
 */
async function waitForSaved(file: string, ready: (nb: SavedNotebook) => boolean, what: string, timeoutMs = 15_000): Promise<{ nb: SavedNotebook; text: string }> {
  const deadline = Date.now() + timeoutMs;
  let seen = '(not read yet)';
  for (;;) {
    try {
      const text = readFileSync(file, 'utf8');
      const nb = JSON.parse(text) as SavedNotebook;
      if (ready(nb)) return { nb, text };
      seen = `prompts ${savedPrompts(nb).join(', ')}`;
    } catch (error) {
      seen = (error as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`expected ${file} to hold ${what} within ${timeoutMs} ms of File > Save and Checkpoint; it has ${seen}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describeE2e('quickstart.ipynb in classic Notebook, in Chromium', () => {
  let stack: QuickstartStack | undefined;
  let server: NotebookServer | undefined;
  let browser: BrowserSession | undefined;
  const pageErrors: string[] = [];

  const page = (): Page => {
    if (!browser) throw new Error('the browser did not start (see beforeAll)');
    return browser.page;
  };

  /**
   * Runs one stage of the walk-through; a screenshot after it (with the cell containing `focus` in view), or one
   * named ...-FAILED when it throws.
   */
  async function stage(name: string, focus: string | undefined, body: () => Promise<void>): Promise<void> {
    const where = (): Locator | undefined => (browser && focus ? cellContaining(browser.page, focus) : undefined);
    try {
      await body();
      await browser?.screenshot(name, where());
    } catch (error) {
      const shot = await browser?.screenshot(`${name}-FAILED`, where());
      const errors = pageErrors.length > 0 ? `\nJavaScript errors in the page:\n${pageErrors.join('\n')}` : '';
      (error as Error).message += `${errors}\nscreenshot: ${shot ?? '(none)'}${server ? `\nnotebook server log tail:\n${server.logs().split('\n').slice(-15).join('\n')}` : ''}`;
      throw error;
    }
  }

  beforeAll(async () => {
    requireParts(problems);
    stack = await startQuickstartStack('notebook');
    server = await startNotebookServer({ jupyter: stack.jupyter, notebookDir: stack.notebookDir, env: stack.env });
    browser = await launchChromium({ screenshotPrefix: 'notebook' });
    browser.page.on('pageerror', (error) => pageErrors.push(error.message));
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await stack?.stop();
  }, 90_000);

  it('serves only the opsbook kernelspec, the one installed into the isolated Jupyter', async () => {
    const specs = await server!.api<{ kernelspecs: Record<string, { name: string; spec: { display_name: string; language: string; argv: string[] } }> }>('/api/kernelspecs');
    expect(Object.keys(specs.kernelspecs)).toEqual(['opsbook']);
    expect(specs.kernelspecs.opsbook.spec.language).toBe('typescript');
    // the same environment resolves "opsbook" to the isolated prefix, not to a kernelspec installed on this machine
    const list = await run(JUPYTER, ['kernelspec', 'list', '--json'], { env: stack!.env, timeoutMs: 30_000 });
    if (list.code !== 0) throw new Error(describeRun('jupyter kernelspec list --json', list));
    const listed = JSON.parse(list.stdout) as { kernelspecs: Record<string, { resource_dir: string }> };
    expect(listed.kernelspecs.opsbook?.resource_dir).toBe(stack!.jupyter.kernelDir);
  });

  it('runs every cell from Cell > Run All: prompt numbers, a drawn chart, the %ps table, no error output', async () => {
    await stage('opened', undefined, async () => {
      await openNotebook(page(), server!.notebookUrl('quickstart.ipynb'));
      const kernel = await kernelNames(page());
      expect(kernel.name).toBe('opsbook');
      expect(kernel.displayName).toContain('opsbook');
    });
    let cells = await codeCells(page());
    expect(cells.length).toBeGreaterThanOrEqual(5);
    expect(cells.map((c) => c.prompt)).toEqual(cells.map(() => ''));

    await stage('ran-all', '%promql up', async () => {
      await runAllFromMenu(page());
      cells = await waitForAllExecuted(page(), 60_000);
      // Run All executes the cells in order, each once, in a fresh kernel
      expect(cells.map((c) => c.prompt)).toEqual(cells.map((_, i) => String(i + 1)));
      expect(cells.filter((c) => c.errors.length > 0 || c.stderr.length > 0).map((c) => ({ cell: c.index, source: c.source, errors: c.errors, stderr: c.stderr }))).toEqual([]);

      const chart = await waitForChart(cellContaining(page(), '%promql up'), 20_000);
      expect(chart.plots).toBe(1);
      expect(chart.drawnLines).toBeGreaterThanOrEqual(1);

      const psTable = cellContaining(page(), '%ps').locator('.output_area table.opsbook-ps');
      await psTable.waitFor({ state: 'visible', timeout: 10_000 }).catch(() => {
        throw new Error('expected the %ps cell to show a table (table.opsbook-ps) listing the container this suite started');
      });
      expect(await psTable.locator('tr', { hasText: stack!.service }).count()).toBe(1);
      expect(await psTable.locator('th').allInnerTexts()).toEqual(expect.arrayContaining(['service', 'container', 'image', 'status']));
      await browser?.screenshot('ran-all-ps', psTable);

      // the rich display was updated in place, and the last expression rendered as a table
      await expect(cellContaining(page(), 'status.update').locator('.output_area').first().innerText()).resolves.toContain('updated in place');
      expect(pageErrors).toEqual([]);
    });
  }, 120_000);

  it('a cell added through the UI asks input(); the answer typed into the page reaches the kernel', async () => {
    let cell = cellContaining(page(), 'Your name?');
    await stage('input-typed', 'Your name?', async () => {
      cell = await addCellAndType(page(), INPUT_CELL);
    });
    await stage('input-asked', 'Your name?', async () => {
      // Ctrl-Enter runs the cell and keeps it selected (Shift-Enter would add an empty cell below the last one)
      await page().keyboard.press('Control+Enter');
      const box = cell.locator('input.raw_input');
      await box.waitFor({ state: 'visible', timeout: 15_000 }).catch(() => {
        throw new Error('expected the running cell to show the raw_input box (input.raw_input) for input("Your name? ")');
      });
      await expect(cell.locator('.raw_input_prompt').innerText()).resolves.toBe('Your name? ');
      await box.click();
      await box.pressSequentially(ANSWER);
    });
    await stage('input-answered', 'Your name?', async () => {
      await cell.locator('input.raw_input').press('Enter');
      const printed = cell.locator('.output_area .output_stdout', { hasText: `Hello, ${ANSWER}!` });
      await printed.waitFor({ state: 'visible', timeout: 15_000 }).catch(async () => {
        // leave the kernel usable for the next test: it is still waiting for the answer
        await interruptFromMenu(page()).catch(() => undefined);
        throw new Error(`expected the cell to print "Hello, ${ANSWER}!" after the answer was typed and Enter pressed; its output: ${JSON.stringify(await cell.locator('.output_area').allInnerTexts())}${server ? `; kernel log: ${server.logs().split('\n').filter((l) => l.includes('[opsbook')).slice(-5).join(' | ')}` : ''}`);
      });
      await waitForAllExecuted(page(), 15_000);
      const last = (await codeCells(page())).at(-1);
      expect(last?.source).toContain('input("Your name? ")');
      expect(last?.errors).toEqual([]);
      expect(last?.prompt).toMatch(/^\d+$/);
    });
  }, 60_000);

  it('saved with File > Save and Checkpoint, trusted with `jupyter trust` and reloaded, the chart draws again without running anything', async () => {
    const file = stack!.notebookFile;
    let promptsBefore: string[] = [];
    let saved: SavedNotebook | undefined;
    await stage('saved', 'Your name?', async () => {
      promptsBefore = (await codeCells(page())).map((c) => c.prompt);
      await saveFromMenu(page());
      // the file holds what the page shows: the new cell and every prompt number
      ({ nb: saved } = await waitForSaved(
        file,
        (nb) => codeCellWith(nb, 'input("Your name? ")') !== undefined && JSON.stringify(savedPrompts(nb)) === JSON.stringify(promptsBefore),
        `the new input() cell and the prompts the page shows (${promptsBefore.join(', ')})`,
      ));
      const chartCell = codeCellWith(saved, '%promql up');
      const chartHtml = (chartCell?.outputs ?? []).map((o) => joined((o.data as Record<string, unknown> | undefined)?.['text/html'])).join('');
      if (!chartHtml.includes('window.Plotly')) {
        throw new Error(`expected the saved chart cell's text/html to draw with window.Plotly; the saved cell: ${JSON.stringify(chartCell).slice(0, 800)}`);
      }
      expect(await notebookFlags(page())).toMatchObject({ dirty: false });
    });

    // the real `jupyter trust` (Debian's jupyter-nbformat), with the isolated data dir and so its signing key
    const trust = await run(JUPYTER, ['trust', file], { env: stack!.env, timeoutMs: 30_000 });
    if (trust.code !== 0) throw new Error(`expected \`jupyter trust ${file}\` to succeed (apt-get install -y jupyter-nbformat); ${describeRun('jupyter trust', trust)}`);
    expect(`${trust.stdout}${trust.stderr}`).toMatch(/Signing notebook|already signed/);

    await stage('reloaded', '%promql up', async () => {
      await page().reload({ waitUntil: 'domcontentloaded' });
      await waitForNotebook(page());
      expect(await notebookFlags(page())).toEqual({ trusted: true, dirty: false });
      const chart = await waitForChart(cellContaining(page(), '%promql up'), 20_000);
      expect(chart.drawnLines).toBeGreaterThanOrEqual(1);
      // nothing ran again: the same prompt numbers, and the kernel still idle
      expect((await codeCells(page())).map((c) => c.prompt)).toEqual(promptsBefore);
      expect(await page().locator('#kernel_indicator_icon.kernel_idle_icon').count()).toBe(1);
      expect(pageErrors).toEqual([]);
    });
    // checked last, so the reload above is checked even when input() did not get its answer
    const inputCell = codeCellWith(saved, 'input("Your name? ")');
    if (!(inputCell?.outputs ?? []).some((o) => joined(o.text).includes(`Hello, ${ANSWER}!`))) {
      throw new Error(`expected the saved input() cell to hold the printed "Hello, ${ANSWER}!"; the saved cell: ${JSON.stringify(inputCell)}`);
    }
  }, 90_000);

  it('re-run, saved and reopened, the chart cell still draws (the saved notebook must still carry plotly.js)', async () => {
    const chartCell = cellContaining(page(), '%promql up');
    const chartPrompt = async (): Promise<string> => (await codeCells(page())).find((c) => c.source.includes('%promql up'))?.prompt ?? '';
    const before = await chartPrompt();
    let after = '';
    await stage('rerun-chart', '%promql up', async () => {
      await runCellFromMenu(page(), chartCell);
      const deadline = Date.now() + 30_000;
      while (((after = await chartPrompt()) === before || !/^\d+$/.test(after)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
      if (after === before || !/^\d+$/.test(after)) throw new Error(`expected the chart cell to run again (its prompt was In [${before}], now In [${after}])`);
      await waitForKernelIdle(page(), 30_000);
      await waitForChart(chartCell, 20_000);
    });
    await stage('rerun-reopened', '%promql up', async () => {
      await saveFromMenu(page());
      const { text } = await waitForSaved(stack!.notebookFile, (nb) => String(codeCellWith(nb, '%promql up')?.execution_count) === after, `the re-run chart cell (In [${after}])`);
      const copies = plotlyCopies(text);
      await page().reload({ waitUntil: 'domcontentloaded' });
      await waitForNotebook(page());
      expect(await notebookFlags(page())).toEqual({ trusted: true, dirty: false });
      await waitForChart(chartCell, 10_000).catch((error: Error) => {
        const cause = copies === 0 ? ': the re-run replaced the output that carried the library with one that does not' : '';
        throw new Error(`${error.message}\nthe saved notebook carries ${copies} copies of plotly.js${cause}`);
      });
    });
  }, 90_000);

  it('closing the browser and stopping the server leaves no browser, server or kernel process', async () => {
    const browserLeft = await browser!.close();
    const serverLeft = await server!.stop();
    // the server, and every kernel it started, inherited the stack's marker
    const markedLeft = await processesWithMarker(stack!.marker);
    expect({ browserLeft, serverLeft, markedLeft }).toEqual({ browserLeft: [], serverLeft: [], markedLeft: [] });
  }, 60_000);
});
