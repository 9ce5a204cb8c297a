// Every kind of %promql chart drawn by the plotly.js charts carry (a partial bundle, magics/plotly-library.ts) in
// Debian's Chromium, offline: one page from file:// with the text/html of a line chart with thresholds and a deploy
// marker, one with lone points (markers), stacked areas, a log axis and the instant bar chart, as a notebook shows
// them (the first carries the library). Each must draw its traces and shapes, with no script error and no network.
// Needs Chromium only (no kernel, no Prometheus); screenshots in test-results/e2e/.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PlotlyLibrary } from '../../magics/plotly-library';
import { chartBundle } from '../../magics/promql/bundle';
import { instantFigure, rangeFigure, type Figure } from '../../magics/promql/figure';
import type { Series } from '../../magics/promql/series';
import { BrowserSession, blockNetwork, chromiumProblem, launchChromium, saveScreenshot } from '../support/browser';
import { describeWhenInstalled, requireParts } from './quickstart-fixture';

const chromium = chromiumProblem();
const problems = chromium === undefined ? [] : [chromium];
const describeE2e = describeWhenInstalled('e2e chart kinds', problems);

const start = 1764064800;
const step = 60;

function series(name: string, values: (number | null)[]): Series {
  return { labels: { instance: name }, name, timestamps: values.map((_, index) => start + index * step), values };
}

const twoSeries = [series('a', [1, 3, 2, 5, 4, 6]), series('b', [2, 2, 3, 1, 2, 3])];

interface ChartKind {
  name: string;
  figure: Figure;
  /** What must be drawn in it. */
  expect: { lines?: number; fills?: number; bars?: number; shapes?: number };
}

const KINDS: ChartKind[] = [
  {
    name: 'lines with thresholds and a deploy marker',
    figure: rangeFigure(twoSeries, { unit: 'bytes', title: 'lines', thresholds: [4, 5], markers: [{ time: start + 120, label: 'deploy v2' }] }),
    expect: { lines: 2, shapes: 3 },
  },
  { name: 'lone points', figure: rangeFigure([series('lone', [1, null, 2, null, 3, 4])]), expect: { lines: 1 } },
  { name: 'stacked areas', figure: rangeFigure(twoSeries, { stack: true, unit: 'reqps' }), expect: { fills: 2 } },
  { name: 'log axis', figure: rangeFigure(twoSeries, { log: true }), expect: { lines: 2 } },
  {
    name: 'instant bars with a threshold',
    figure: instantFigure([1, 5, 3].map((value, index) => ({ labels: { instance: `h${index}` }, name: `h${index}`, timestamp: start, value })), { unit: 'percent', thresholds: [4] }),
    expect: { bars: 3, shapes: 1 },
  },
];

/** The few DOM members read here (this project compiles without the DOM lib). */
interface DomNode {
  querySelectorAll(selector: string): ArrayLike<DomNode>;
  getAttribute(name: string): string | null;
}

interface Drawn {
  plots: number;
  lines: number;
  fills: number;
  bars: number;
  shapes: number;
}

describeE2e('every kind of chart draws from the plotly.js it carries, offline in Chromium', () => {
  let browser: BrowserSession | undefined;
  let folder = '';

  beforeAll(async () => {
    requireParts(problems);
    folder = mkdtempSync(path.join(os.tmpdir(), 'opsbook-chart-kinds-'));
    browser = await launchChromium({ screenshotPrefix: 'chart-kinds' });
  }, 90_000);

  afterAll(async () => {
    const left = (await browser?.close()) ?? [];
    if (folder !== '') rmSync(folder, { recursive: true, force: true });
    expect(left).toEqual([]);
  }, 30_000);

  it('draws lines, markers, stacked areas, a log axis, bars and shapes with no error and no request', async () => {
    const plotly = new PlotlyLibrary();
    const outputs = KINDS.map((kind, index) => chartBundle(kind.figure, { summary: kind.name, plotly, id: `chart-${index}` })['text/html']);
    const file = path.join(folder, 'charts.html');
    writeFileSync(file, `<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>${outputs.map((html) => `<div class="output">${html}</div>`).join('\n')}</body></html>`);

    const page = await browser!.context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    const attempted = await blockNetwork(page);
    try {
      await page.goto(pathToFileURL(file).href, { waitUntil: 'load', timeout: 60_000 });
      const drawn = async (): Promise<Drawn[]> =>
        page.locator('body').evaluate((body, count): Drawn[] => {
          const root = body as unknown as DomNode;
          const drawnPaths = (scope: DomNode, selector: string): number =>
            Array.from(scope.querySelectorAll(selector)).filter((node) => (node.getAttribute('d') ?? '').replace(/M0,0Z?/g, '').trim().length > 0).length;
          return Array.from({ length: count }, (_, index) => {
            const chart = Array.from(root.querySelectorAll(`[id="chart-${index}"]`))[0];
            if (chart === undefined) return { plots: 0, lines: 0, fills: 0, bars: 0, shapes: 0 };
            return {
              plots: chart.getAttribute('class')?.includes('js-plotly-plot') === true ? 1 : 0,
              lines: drawnPaths(chart, 'path.js-line'),
              fills: drawnPaths(chart, 'path.js-fill'),
              bars: drawnPaths(chart, '.bars .point path'),
              shapes: drawnPaths(chart, '.shapelayer path'),
            };
          });
        }, KINDS.length);
      const deadline = Date.now() + 20_000;
      let state = await drawn();
      while (state.some((one) => one.plots === 0) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        state = await drawn();
      }
      await saveScreenshot(page, 'chart-kinds-offline');
      KINDS.forEach((kind, index) => {
        const found = state[index];
        const wanted = { plots: 1, ...kind.expect };
        const short = Object.entries(wanted).filter(([key, least]) => found[key as keyof Drawn] < least);
        if (short.length > 0) throw new Error(`the "${kind.name}" chart did not draw: expected at least ${JSON.stringify(wanted)}, found ${JSON.stringify(found)}`);
      });
      expect(pageErrors).toEqual([]);
      expect(attempted).toEqual([]);
    } catch (error) {
      const shot = await saveScreenshot(page, 'chart-kinds-offline-FAILED');
      (error as Error).message += `\nJavaScript errors: ${pageErrors.join(' | ') || '(none)'}\nscreenshot: ${shot ?? '(none)'}`;
      throw error;
    } finally {
      await page.close();
    }
  }, 90_000);
});
