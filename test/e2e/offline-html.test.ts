// notebooks/quickstart.ipynb executed headless into HTML, then opened from disk in Debian's Chromium with every request
// that is not file:// aborted: the chart must draw from the plotly.js the HTML carries (once), and the page must not
// even try the network. First with `python3 -m nbconvert --to html --execute` (Debian's nbconvert, whose template
// loads require.js and MathJax from file:///usr/share/javascript), then with the HTML report of
// `opsbook run <in> <out> --html <report>` (kernel/runner).
// Real Prometheus, real Docker, an isolated Jupyter; screenshots in test-results/e2e/. Skipped with a warning when
// Chromium, nbconvert, Prometheus or Docker is missing, except with CI=true (then it fails).
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BrowserSession, blockNetwork, launchChromium, saveScreenshot, waitForChart } from '../support/browser';
import { PYTHON, describeRun, processesMentioning, run } from '../support/jupyter-env';
import { CLI } from '../support/kernel-process';
import { plotlyCopies } from '../support/plotly-copies';
import { QuickstartStack, describeWhenInstalled, missingParts, processesWithMarker, requireParts, startQuickstartStack } from './quickstart-fixture';

const problems = missingParts({ nbconvert: true });
const describeE2e = describeWhenInstalled('e2e offline-html', problems);

describeE2e('quickstart.ipynb as offline HTML, in Chromium with the network blocked', () => {
  let stack: QuickstartStack | undefined;
  let browser: BrowserSession | undefined;
  let outDir = '';

  /** Opens an HTML file with the network blocked; returns what the page tried to fetch and the errors it threw. */
  async function openOffline(file: string, shot: string): Promise<{ attempted: string[]; pageErrors: string[] }> {
    if (!browser) throw new Error('the browser did not start (see beforeAll)');
    const page = await browser.context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    const attempted = await blockNetwork(page);
    try {
      await page.goto(pathToFileURL(file).href, { waitUntil: 'load', timeout: 60_000 });
      const chart = await waitForChart(page.locator('body'), 20_000);
      expect(chart.plots).toBe(1);
      expect(chart.drawnLines).toBeGreaterThanOrEqual(1);
      await saveScreenshot(page, `offline-${shot}`);
      return { attempted, pageErrors };
    } catch (error) {
      const shotFile = await saveScreenshot(page, `offline-${shot}-FAILED`);
      const tried = attempted.length > 0 ? `\nthe page tried the network: ${attempted.join(', ')}` : '';
      const errors = pageErrors.length > 0 ? `\nJavaScript errors: ${pageErrors.join(' | ')}` : '';
      (error as Error).message += `${tried}${errors}\nscreenshot: ${shotFile ?? '(none)'}`;
      throw error;
    } finally {
      await page.close();
    }
  }

  beforeAll(async () => {
    requireParts(problems);
    stack = await startQuickstartStack('offline');
    outDir = path.join(stack.jupyter.root, 'out');
    mkdirSync(outDir);
    browser = await launchChromium({ screenshotPrefix: 'offline' });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  }, 60_000);

  it('nbconvert --execute: the chart draws from file:// with every other request aborted, and none is attempted', async () => {
    const html = path.join(outDir, 'quickstart.html');
    const r = await run(PYTHON, ['-m', 'nbconvert', '--to', 'html', '--execute', '--ExecutePreprocessor.kernel_name=opsbook', '--ExecutePreprocessor.timeout=60', '--output-dir', outDir, stack!.notebookFile], { env: stack!.env, cwd: stack!.notebookDir, timeoutMs: 90_000 });
    if (r.code !== 0 || !existsSync(html)) throw new Error(`expected nbconvert to execute quickstart.ipynb (no cell may fail) and write ${html}; ${describeRun('nbconvert --to html --execute', r)}`);
    // the notebook runs unattended in under a minute
    expect(r.ms).toBeLessThan(60_000);
    const text = readFileSync(html, 'utf8');
    expect(plotlyCopies(text)).toBe(1);
    expect(text).toContain('class="opsbook-ps"');
    expect(text).toContain(stack!.service);

    const { attempted, pageErrors } = await openOffline(html, 'nbconvert');
    expect(attempted).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it('opsbook run --html: the chart in the report draws from file:// with every other request aborted, and none is attempted', async () => {
    const report = path.join(outDir, 'report.html');
    const executed = path.join(outDir, 'quickstart.run.ipynb');
    const r = await run(process.execPath, [CLI, 'run', stack!.notebookFile, executed, '--html', report], { env: stack!.env, cwd: stack!.notebookDir, timeoutMs: 90_000 });
    if (r.code !== 0 || !existsSync(report)) throw new Error(`expected \`opsbook run ${stack!.notebookFile} ${executed} --html ${report}\` to run every cell and write the report; ${describeRun('opsbook run', r)}`);
    expect(r.ms).toBeLessThan(60_000);
    const text = readFileSync(report, 'utf8');
    expect(plotlyCopies(text)).toBe(1);
    expect(text).toContain('class="opsbook-ps"');
    expect(text).toContain(stack!.service);

    const { attempted, pageErrors } = await openOffline(report, 'runner-report');
    expect(attempted).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it('leaves no kernel running after nbconvert and opsbook run', async () => {
    // every process they started inherited the stack's env, marker included
    expect(await processesWithMarker(stack!.marker)).toEqual([]);
    expect(processesMentioning(stack!.jupyter.root)).toEqual([]);
  });

  it('closing the browser leaves no browser process', async () => {
    expect(await browser!.close()).toEqual([]);
  }, 30_000);
});

