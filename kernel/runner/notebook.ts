// The notebook model of `opsbook run`: reading an .ipynb (nbformat 4) into plain strings, papermill's metadata
// (`metadata.papermill` on the notebook and on each cell), the error banner cells papermill adds when a cell
// fails, and writing the file the way nbformat does (sorted keys, one-space indent, multi-line strings as lists),
// atomically, so a reader never sees half a notebook.
import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { MimeBundle } from '../protocol/messages';
import { SetupError, messageOf } from './errors';

export type Output =
  | { output_type: 'stream'; name: string; text: string }
  | { output_type: 'display_data'; data: MimeBundle; metadata: Record<string, unknown> }
  | { output_type: 'execute_result'; execution_count: number | null; data: MimeBundle; metadata: Record<string, unknown> }
  | { output_type: 'error'; ename: string; evalue: string; traceback: string[] };

export interface Cell {
  id?: string;
  cell_type: string;
  source: string;
  metadata: Record<string, unknown>;
  outputs?: Output[];
  execution_count?: number | null;
  [key: string]: unknown;
}

export interface Notebook {
  nbformat: number;
  nbformat_minor: number;
  metadata: Record<string, unknown>;
  cells: Cell[];
}

export type CellStatus = 'pending' | 'running' | 'completed' | 'failed';

/** `cell.metadata.papermill`. */
export interface CellPapermill {
  exception: boolean | null;
  start_time: string | null;
  end_time: string | null;
  duration: number | null;
  status: CellStatus;
}

/** `notebook.metadata.papermill`. */
export interface NotebookPapermill {
  default_parameters: Record<string, unknown>;
  parameters: Record<string, unknown>;
  environment_variables: Record<string, string>;
  version: string;
  input_path: string;
  output_path: string;
  start_time: string | null;
  end_time: string | null;
  duration: number | null;
  exception: boolean | null;
}

export const ERROR_MARKER_TAG = 'papermill-error-cell-tag';
const ERROR_STYLE = 'style="color:red; font-family:Helvetica Neue, Helvetica, Arial, sans-serif; font-size:2em;"';

export function newCellId(): string {
  return randomBytes(4).toString('hex');
}

export function tagsOf(cell: Cell): string[] {
  const tags = cell.metadata.tags;
  return Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [];
}

/** A multi-line string as nbformat may store it: one string, or a list of lines. */
function joined(value: unknown): unknown {
  return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value.join('') : value;
}

function isJsonMime(mime: string): boolean {
  return mime === 'application/json' || mime.endsWith('+json');
}

function normalizeBundle(data: unknown): MimeBundle {
  const out: MimeBundle = {};
  if (data && typeof data === 'object') for (const [mime, v] of Object.entries(data)) out[mime] = isJsonMime(mime) ? v : joined(v);
  return out;
}

function normalizeOutput(raw: Record<string, unknown>): Output {
  const o = { ...raw } as Record<string, unknown>;
  if (o.output_type === 'stream') o.text = joined(o.text);
  if (o.output_type === 'display_data' || o.output_type === 'execute_result') o.data = normalizeBundle(o.data);
  return o as unknown as Output;
}

/** Parses notebook JSON (nbformat 4), with every multi-line string joined; missing cell ids are added (nbformat 4.5). */
export function parseNotebook(text: string, source: string): Notebook {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new SetupError(`${source} is not a notebook: ${messageOf(e)}`);
  }
  const nb = raw as Partial<Notebook> | null;
  if (!nb || typeof nb !== 'object' || !Array.isArray(nb.cells)) throw new SetupError(`${source} is not a notebook: it has no "cells" list`);
  if (nb.nbformat !== 4) throw new SetupError(`${source} is nbformat ${String(nb.nbformat)}; opsbook run reads nbformat 4 (save it with a current Jupyter to upgrade it)`);
  const cells = nb.cells.map((c, i) => {
    if (!c || typeof c !== 'object' || typeof c.cell_type !== 'string') throw new SetupError(`${source}: cell ${i + 1} has no cell_type`);
    const cell: Cell = { ...c, source: String(joined(c.source) ?? ''), metadata: c.metadata && typeof c.metadata === 'object' ? { ...c.metadata } : {} };
    if (typeof cell.id !== 'string' || cell.id === '') cell.id = newCellId();
    if (cell.cell_type === 'code') cell.outputs = Array.isArray(c.outputs) ? c.outputs.map((o) => normalizeOutput(o as unknown as Record<string, unknown>)) : [];
    return cell;
  });
  return {
    nbformat: 4,
    nbformat_minor: Math.max(5, typeof nb.nbformat_minor === 'number' ? nb.nbformat_minor : 0),
    metadata: nb.metadata && typeof nb.metadata === 'object' ? { ...nb.metadata } : {},
    cells,
  };
}

export function readNotebook(file: string): Notebook {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SetupError(`cannot read notebook ${file}: ${code === 'ENOENT' ? 'no such file' : code ?? messageOf(e)}`);
  }
  return parseNotebook(text, file);
}

/** The name a notebook goes by: its file name without `.ipynb`. */
export function notebookName(file: string): string {
  return path.basename(file).replace(/\.ipynb$/i, '');
}

/** Where the executed notebook goes when no output path is given: `<name>.executed.ipynb` in the current folder. */
export function defaultOutputPath(input: string, cwd = process.cwd()): string {
  return path.resolve(cwd, `${notebookName(input)}.executed.ipynb`);
}

export function cellPapermill(cell: Cell): CellPapermill {
  return cell.metadata.papermill as CellPapermill;
}

export function notebookPapermill(nb: Notebook): NotebookPapermill {
  return nb.metadata.papermill as NotebookPapermill;
}

/** papermill's metadata as it is when a notebook is loaded: kept from an earlier run, or started empty. */
export function ensurePapermillMetadata(nb: Notebook, version: string): void {
  const existing = nb.metadata.papermill;
  const pm = existing && typeof existing === 'object' ? { ...(existing as Record<string, unknown>) } : {};
  nb.metadata.papermill = { default_parameters: {}, parameters: {}, environment_variables: {}, ...pm, version };
  for (const cell of nb.cells) if (!Array.isArray(cell.metadata.tags)) cell.metadata.tags = [];
}

/** Drops the banner and anchor cells an earlier failed run added (papermill's remove_error_markers). */
export function removeErrorMarkers(nb: Notebook): void {
  nb.cells = nb.cells.filter((c) => !tagsOf(c).includes(ERROR_MARKER_TAG));
}

/** papermill's notebook_start: every cell pending, no outputs or counts; the notebook's times and exception reset. */
export function startRun(nb: Notebook, paths: { input: string; output: string }, now: string): void {
  Object.assign(notebookPapermill(nb), { input_path: paths.input, output_path: paths.output, start_time: now, end_time: null, duration: null, exception: null });
  for (const cell of nb.cells) {
    if (cell.cell_type === 'code') {
      cell.execution_count = null;
      cell.outputs = [];
    }
    const pm: CellPapermill = { exception: null, start_time: null, end_time: null, duration: null, status: 'pending' };
    cell.metadata.papermill = pm;
  }
}

export function seconds(from: string, to: string): number {
  return (Date.parse(to) - Date.parse(from)) / 1000;
}

/**
 * The two markdown cells papermill adds when a cell fails: a banner at the top linking to an anchor placed just
 * before the failed cell, naming it as `In [n]`. Both carry papermill's tag, so the next run removes them.
 */
export function addErrorMarkers(nb: Notebook, failed: Cell): void {
  const banner: Cell = {
    id: newCellId(),
    cell_type: 'markdown',
    metadata: { tags: [ERROR_MARKER_TAG] },
    source: `<span ${ERROR_STYLE}>An Exception was encountered at '<a href="#papermill-error-cell">In [${failed.execution_count ?? ' '}]</a>'.</span>`,
  };
  const anchor: Cell = {
    id: newCellId(),
    cell_type: 'markdown',
    metadata: { tags: [ERROR_MARKER_TAG] },
    source: `<span id="papermill-error-cell" ${ERROR_STYLE}>Execution using opsbook run encountered an exception here and stopped:</span>`,
  };
  const at = nb.cells.indexOf(failed);
  nb.cells.splice(at < 0 ? nb.cells.length : at, 0, anchor);
  nb.cells.unshift(banner);
}

/** nbformat's split_lines: multi-line strings become lists of lines (JSON mime data and SVG/JS stay as they are). */
function splitLines(text: string): string[] {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

const UNSPLIT_MIMES = new Set(['application/javascript', 'image/svg+xml']);

function forDisk(nb: Notebook): unknown {
  return {
    ...nb,
    cells: nb.cells.map((cell) => {
      const out: Record<string, unknown> = { ...cell, source: splitLines(cell.source) };
      if (cell.outputs) {
        out.outputs = cell.outputs.map((o) => {
          if (o.output_type === 'stream') return { ...o, text: splitLines(o.text) };
          if (o.output_type === 'display_data' || o.output_type === 'execute_result') {
            const data: MimeBundle = {};
            for (const [mime, v] of Object.entries(o.data)) data[mime] = typeof v === 'string' && !isJsonMime(mime) && !UNSPLIT_MIMES.has(mime) ? splitLines(v) : v;
            return { ...o, data };
          }
          return o;
        });
      }
      return out;
    }),
  };
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      // defined, not assigned: a "__proto__" key (a parameter's, say) is written out, not made the prototype
      Object.defineProperty(out, key, { value: sortKeys((value as Record<string, unknown>)[key]), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}

export function serializeNotebook(nb: Notebook): string {
  return `${JSON.stringify(sortKeys(forDisk(nb)), null, 1)}\n`;
}

/** Writes to a temporary file next to `file`, then renames it over `file`. */
export function writeAtomic(file: string, text: string): void {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(3).toString('hex')}.tmp`);
  try {
    writeFileSync(temp, text);
    renameSync(temp, file);
  } catch (e) {
    rmSync(temp, { force: true });
    throw e;
  }
}

export function writeNotebook(file: string, nb: Notebook): void {
  writeAtomic(file, serializeNotebook(nb));
}
