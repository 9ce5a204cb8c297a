// How the browser suite drives Debian's classic Jupyter Notebook 6 page: wait for the notebook and its kernel, use
// the menus and the keyboard like a person (Cell > Run All / Run Cells, Insert > Insert Cell Below, typing into
// CodeMirror, File > Save and Checkpoint, Kernel > Interrupt), and read back what the page shows (prompt numbers,
// outputs, errors, the raw_input box). `window.Jupyter` is only read, never used to run anything.
import type { Locator, Page } from 'playwright-core';

/** The part of classic Notebook's `window.Jupyter` this suite reads. */
interface ClassicJupyter {
  notebook?: {
    _fully_loaded?: boolean;
    trusted?: boolean;
    dirty?: boolean;
    kernel?: { name?: string; is_connected?: () => boolean } | null;
    get_selected_cell?: () => { get_text(): string } | null;
  };
}

export interface CellSummary {
  /** 0-based position among the code cells. */
  index: number;
  /** The number in the prompt, "*" while queued or running, "" when never run. */
  prompt: string;
  source: string;
  /** Text of error outputs (tracebacks) and of stderr streams. */
  errors: string[];
  stderr: string[];
}

/** Opens a notebook page and waits until it is loaded and its kernel is connected and idle. */
export async function openNotebook(page: Page, url: string, timeoutMs = 60_000): Promise<void> {
  await page.goto(url, { waitUntil: 'domcontentloaded', timeout: timeoutMs });
  await waitForNotebook(page, timeoutMs);
}

/** Waits until the page's notebook is loaded (after a goto or a reload) and its kernel is connected and idle. */
export async function waitForNotebook(page: Page, timeoutMs = 60_000): Promise<void> {
  await page
    .waitForFunction(
      () => {
        const j = (globalThis as unknown as { Jupyter?: ClassicJupyter }).Jupyter;
        return j?.notebook?._fully_loaded === true && j.notebook.kernel?.is_connected?.() === true;
      },
      undefined,
      { timeout: timeoutMs, polling: 100 },
    )
    .catch((error: Error) => {
      throw new Error(`expected the notebook page to load and connect to its kernel within ${timeoutMs} ms (window.Jupyter.notebook._fully_loaded and kernel.is_connected()): ${error.message}`);
    });
  await waitForKernelIdle(page, timeoutMs);
}

/** The kernel's name as the page knows it (the kernelspec name, e.g. "opsbook") and the indicator's display name. */
export async function kernelNames(page: Page): Promise<{ name: string; displayName: string }> {
  const name = await page.evaluate(() => (globalThis as unknown as { Jupyter?: ClassicJupyter }).Jupyter?.notebook?.kernel?.name ?? '');
  const displayName = ((await page.locator('.kernel_indicator_name').textContent()) ?? '').trim();
  return { name, displayName };
}

/** Waits for the kernel indicator (top right) to show idle. */
export async function waitForKernelIdle(page: Page, timeoutMs = 60_000): Promise<void> {
  await page.locator('#kernel_indicator_icon.kernel_idle_icon').waitFor({ state: 'attached', timeout: timeoutMs }).catch(async (error: Error) => {
    const classes = await page.locator('#kernel_indicator_icon').getAttribute('class').catch(() => '(no indicator)');
    throw new Error(`expected the kernel indicator to show idle (#kernel_indicator_icon.kernel_idle_icon) within ${timeoutMs} ms; it has class "${classes}": ${error.message}`);
  });
}

/** Cell > Run All, through the menu bar. */
export async function runAllFromMenu(page: Page): Promise<void> {
  await page.locator('#menus a.dropdown-toggle', { hasText: /^\s*Cell\s*$/ }).click();
  await page.locator('#run_all_cells > a').click();
}

/** Selects `cell` (a click on its prompt) and runs it with Cell > Run Cells. */
export async function runCellFromMenu(page: Page, cell: Locator): Promise<void> {
  await cell.locator('.input_prompt').click();
  await page.locator('#menus a.dropdown-toggle', { hasText: /^\s*Cell\s*$/ }).click();
  await page.locator('#run_cell > a').click();
}

/**
 * File > Save and Checkpoint, through the menu bar. (Ctrl-S does not save right after a raw_input box was answered:
 * the box disabled classic Notebook's keyboard shortcuts when it took the focus and is removed without giving
 * them back, until a cell is clicked.)
 */
export async function saveFromMenu(page: Page): Promise<void> {
  await page.locator('#menus a.dropdown-toggle', { hasText: /^\s*File\s*$/ }).click();
  await page.locator('#save_checkpoint > a').click();
}

/** Kernel > Interrupt, through the menu bar. */
export async function interruptFromMenu(page: Page): Promise<void> {
  await page.locator('#menus a.dropdown-toggle', { hasText: /^\s*Kernel\s*$/ }).click();
  await page.locator('#int_kernel > a').click();
}

/** Every code cell: prompt number, source, error and stderr outputs, as the page shows them. */
export async function codeCells(page: Page): Promise<CellSummary[]> {
  const cells = page.locator('#notebook-container .cell.code_cell');
  const count = await cells.count();
  const summaries: CellSummary[] = [];
  for (let index = 0; index < count; index++) {
    const cell = cells.nth(index);
    const promptText = ((await cell.locator('.input .input_prompt').textContent()) ?? '').replace(/\u00a0/g, ' ');
    const prompt = /\[([^\]]*)\]/.exec(promptText)?.[1]?.trim() ?? '';
    const source = await cell.locator('.CodeMirror-code').innerText();
    const errors = await cell.locator('.output_area .output_error').allInnerTexts();
    const stderr = await cell.locator('.output_area .output_stderr').allInnerTexts();
    summaries.push({ index, prompt, source, errors, stderr });
  }
  return summaries;
}

/**
 * Waits until every code cell shows a prompt number (none empty or "*") and the kernel is idle; the error lists
 * the cells still waiting.
 */
export async function waitForAllExecuted(page: Page, timeoutMs: number): Promise<CellSummary[]> {
  const deadline = Date.now() + timeoutMs;
  let cells: CellSummary[] = [];
  while (Date.now() < deadline) {
    cells = await codeCells(page);
    const idle = (await page.locator('#kernel_indicator_icon.kernel_idle_icon').count()) === 1;
    if (idle && cells.length > 0 && cells.every((c) => /^\d+$/.test(c.prompt))) return cells;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const waiting = cells.filter((c) => !/^\d+$/.test(c.prompt)).map((c) => `cell ${c.index} prompt "In [${c.prompt}]" (${c.source.split('\n')[0]})`);
  throw new Error(`expected every code cell to show an execution count and the kernel to be idle within ${timeoutMs} ms; still waiting: ${waiting.join('; ') || 'kernel not idle'}`);
}

/** The code cell whose source contains `text` (the first one). */
export function cellContaining(page: Page, text: string): Locator {
  return page.locator('#notebook-container .cell.code_cell').filter({ has: page.locator('.CodeMirror-code', { hasText: text }) }).first();
}

/**
 * Selects the last cell, adds a code cell below it with Insert > Insert Cell Below, and types `source` into it
 * (CodeMirror closes brackets and quotes as they are typed and steps over the closing ones, so the text comes out
 * as typed; checked afterwards). Leaves the new cell selected, in edit mode.
 */
export async function addCellAndType(page: Page, source: string): Promise<Locator> {
  const cells = page.locator('#notebook-container .cell');
  const before = await cells.count();
  await cells.nth(before - 1).locator('.input_prompt, .prompt').first().click();
  await page.locator('#menus a.dropdown-toggle', { hasText: /^\s*Insert\s*$/ }).click();
  await page.locator('#insert_cell_below > a').click();
  await waitForCount(cells, before + 1, 'a new cell after Insert > Insert Cell Below');
  const cell = cells.nth(before);
  await cell.locator('.CodeMirror').click();
  await page.keyboard.type(source);
  const typed = await page.evaluate(() => (globalThis as unknown as { Jupyter?: ClassicJupyter }).Jupyter?.notebook?.get_selected_cell?.()?.get_text() ?? '(no selected cell)');
  if (typed !== source) throw new Error(`typing into the new cell gave ${JSON.stringify(typed)} instead of ${JSON.stringify(source)}`);
  return cell;
}

async function waitForCount(locator: Locator, count: number, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await locator.count()) !== count) {
    if (Date.now() > deadline) throw new Error(`expected ${what} (${count} cells) within ${timeoutMs} ms; the page has ${await locator.count()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Whether the page trusts the notebook (its HTML outputs' scripts run) and has unsaved changes. */
export async function notebookFlags(page: Page): Promise<{ trusted: boolean; dirty: boolean }> {
  return page.evaluate(() => {
    const nb = (globalThis as unknown as { Jupyter?: ClassicJupyter }).Jupyter?.notebook;
    return { trusted: nb?.trusted === true, dirty: nb?.dirty === true };
  });
}
