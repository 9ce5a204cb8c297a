// Debian's Chromium driven by playwright-core for the browser suite (never a downloaded browser): /usr/bin/chromium
// headless, without sandbox, GPU, QUIC or any background traffic, with a fresh --user-data-dir, screenshots under test-results/e2e/, a network guard that
// aborts every request that is not file:// (for "this HTML works offline"), and the checks a chart needs: plotly.js
// drew line paths with a non-empty `d`.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page, type Request } from 'playwright-core';
import { processesMentioning } from './jupyter-env';
import { REPO_ROOT } from './kernel-process';

export const CHROMIUM = '/usr/bin/chromium';
/** Headless and quiet: no sandbox (root in CI), no GPU, no QUIC, no first-run or background network; the fresh --user-data-dir is added by launchPersistentContext. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
export const CHROMIUM_APT = 'apt-get install -y --no-install-recommends chromium';
/** Where screenshots go (test-results/ is git-ignored). */
export const SCREENSHOT_DIR = path.join(REPO_ROOT, 'test-results', 'e2e');

/** Why Chromium cannot be driven here (with the apt command that fixes it), or undefined when it can. */
export function chromiumProblem(): string | undefined {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is missing: ${CHROMIUM_APT} (the browser suite drives Debian's Chromium; never \`npx playwright install\`)`;
  return undefined;
}

export interface BrowserSession {
  context: BrowserContext;
  page: Page;
  userDataDir: string;
  /**
   * Saves test-results/e2e/<prefix>-<name>.png and returns its path; never throws. `focus` is scrolled into view
   * first (pages like classic Notebook scroll inside an element, so a full-page shot shows only the viewport).
   */
  screenshot(name: string, focus?: Locator): Promise<string | undefined>;
  /**
   * Closes the browser, removes the profile folder, and returns the command lines of browser processes still
   * alive afterwards (then killed). Safe to call more than once.
   */
  close(): Promise<string[]>;
}

export interface LaunchOptions {
  /** Prefix of this session's screenshot file names, e.g. "notebook". */
  screenshotPrefix: string;
  /** Timeout for each Playwright action and wait unless a call says otherwise; default 30 s. */
  timeoutMs?: number;
}

export async function launchChromium(options: LaunchOptions): Promise<BrowserSession> {
  const problem = chromiumProblem();
  if (problem) throw new Error(problem);
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'opsbook-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 1400 },
      timeout: 60_000,
    });
  } catch (error) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw new Error(`could not start ${CHROMIUM} through playwright-core: ${(error as Error).message}`);
  }
  context.setDefaultTimeout(options.timeoutMs ?? 30_000);
  // this session's screenshots replace an earlier run's, so a -FAILED.png left there is never mistaken for this run's
  if (existsSync(SCREENSHOT_DIR)) for (const f of readdirSync(SCREENSHOT_DIR)) if (f.startsWith(`${options.screenshotPrefix}-`)) rmSync(path.join(SCREENSHOT_DIR, f), { force: true });
  const page = context.pages()[0] ?? (await context.newPage());
  let closed: Promise<string[]> | undefined;
  return {
    context,
    page,
    userDataDir,
    screenshot: async (name, focus) => {
      await focus?.scrollIntoViewIfNeeded({ timeout: 5000 }).catch(() => undefined);
      return saveScreenshot(page, `${options.screenshotPrefix}-${name}`);
    },
    close: () => (closed ??= closeSession(context, userDataDir)),
  };
}

/** Saves test-results/e2e/<name>.png (the full page) and returns its path, or undefined when it could not; never throws. */
export async function saveScreenshot(page: Page, name: string): Promise<string | undefined> {
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  try {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    await page.screenshot({ path: file, fullPage: true, timeout: 15_000 });
    return file;
  } catch {
    return undefined;
  }
}

async function closeSession(context: BrowserContext, userDataDir: string): Promise<string[]> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([context.close().catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, 15_000)))]);
  clearTimeout(timer);
  const deadline = Date.now() + 5000;
  let left = processesMentioning(userDataDir);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    left = processesMentioning(userDataDir);
  }
  const orphans = left.map((pid) => `chromium pid ${pid} still running after close`);
  for (const pid of left) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  rmSync(userDataDir, { recursive: true, force: true, maxRetries: 3 });
  return orphans;
}

/** URLs that leave the machine's files: anything but file:, data:, blob:, about:. */
export function isNetworkUrl(url: string): boolean {
  return !/^(file|data|blob|about):/i.test(url);
}

/**
 * From now on, every request of `page` that is not file:// (or data:/blob:/about:) is aborted and recorded.
 * Returns the list it records into.
 */
export async function blockNetwork(page: Page): Promise<string[]> {
  const attempted: string[] = [];
  const record = (url: string): void => {
    if (!attempted.includes(url)) attempted.push(url);
  };
  await page.route(
    (url) => isNetworkUrl(url.href),
    async (route) => {
      record(route.request().url());
      await route.abort('blockedbyclient');
    },
  );
  // every request the page makes, also those a route does not see (service workers, preloads)
  page.on('request', (request: Request) => {
    if (isNetworkUrl(request.url())) record(request.url());
  });
  return attempted;
}

export interface ChartState {
  /** `.js-plotly-plot` elements inside `scope`. */
  plots: number;
  /** Their trace line paths (`path.js-line`) with a non-empty `d`. */
  drawnLines: number;
  /** The text in each chart's place (the placeholder or "plotly.js is not loaded" when it did not draw). */
  chartTexts: string[];
}

/** The few DOM members chartState reads (this project compiles without the DOM lib). */
interface DomNode {
  querySelectorAll(selector: string): ArrayLike<DomNode>;
  getAttribute(name: string): string | null;
  textContent: string | null;
}

/** What the Plotly charts inside `scope` (e.g. a notebook's output area) look like right now. */
export async function chartState(scope: Locator): Promise<ChartState> {
  return scope.evaluate((element): ChartState => {
    const root = element as unknown as DomNode;
    const plots = Array.from(root.querySelectorAll('.js-plotly-plot'));
    const lines = plots.flatMap((plot) => Array.from(plot.querySelectorAll('path.js-line')));
    const drawnLines = lines.filter((line) => (line.getAttribute('d') ?? '').trim().length > 0).length;
    const chartTexts = Array.from(root.querySelectorAll('.opsbook-chart > div[id^="opsbook-chart-"]')).map((chart) => (chart.textContent ?? '').trim().slice(0, 300));
    return { plots: plots.length, drawnLines, chartTexts };
  });
}

/**
 * Waits until a Plotly chart inside `scope` has drawn at least one line path with a non-empty `d`; the error says
 * what the chart's place showed instead.
 */
export async function waitForChart(scope: Locator, timeoutMs = 20_000): Promise<ChartState> {
  const deadline = Date.now() + timeoutMs;
  let state: ChartState = { plots: 0, drawnLines: 0, chartTexts: [] };
  while (Date.now() < deadline) {
    state = await chartState(scope);
    if (state.plots > 0 && state.drawnLines > 0) return state;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(
    `expected a Plotly chart (.js-plotly-plot with path.js-line whose d is not empty) within ${timeoutMs} ms; ` +
      `found ${state.plots} .js-plotly-plot and ${state.drawnLines} drawn line(s); the chart placeholders read: ${JSON.stringify(state.chartTexts)}`,
  );
}
