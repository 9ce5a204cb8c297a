// The one display of a %build in the cell: a progress line updated in place (step N of M, cache hits, elapsed), at
// most every PROGRESS_EVERY_MS with a trailing update so the step that runs now shows even when the engine goes
// quiet, then exactly one outcome that replaces it: the summary table, the failure (one line: where and why), or
// the interruption. Nothing updates it after the outcome, so a late progress event cannot bring a progress line back.
import type { DisplayHandle, Io } from '../../../kernel/io/io';
import { escapeHtml } from '../../../kernel/io/html';
import type { BuildProgress } from './progress';

/** What `const img = %build ...` binds. */
export interface BuildResult {
  id: string;
  tags: string[];
  size: number;
  layers: number;
  durationMs: number;
  steps: number;
  cacheHits: number;
  contextFiles: number;
  contextBytes: number;
}

const PROGRESS_EVERY_MS = 250;
/** Log lines a failure shows (the display folds them under its line, the error carries them as its hint). */
export const FAILURE_LOG_LINES = 15;

type Bundle = Record<string, string>;

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Where a build stood: "at Step 3/7 (RUN npm ci)", or "before the first step" (the context, the Dockerfile). */
export function whereText(progress: BuildProgress): string {
  const step = progress.current;
  return step ? `at Step ${step.number}/${progress.totalSteps ?? '?'} (${step.instruction})` : 'before the first step';
}

export function progressBundle(progress: BuildProgress, context: string, elapsedMs: number): Bundle {
  const line = `building ${context}: ${progress.describeCurrent()} — ${progress.cacheHits} cached — ${seconds(elapsedMs)}`;
  return { 'text/plain': line, 'text/html': `<div class="opsbook-build"><b>building</b> <code>${escapeHtml(context)}</code> · ${escapeHtml(progress.describeCurrent())} · ${progress.cacheHits} cached · ${seconds(elapsedMs)}</div>` };
}

/** A failed build: one line saying where and why, the last log lines folded under it in HTML. */
export function failedBundle(progress: BuildProgress, reason: string): Bundle {
  const what = `${whereText(progress)}: ${reason}`;
  const log = progress.lastLines(FAILURE_LOG_LINES);
  const details = log.length === 0 ? '' : `<details open><summary>last log lines</summary><pre>${escapeHtml(log.join('\n'))}</pre></details>`;
  return { 'text/plain': `build failed ${what}`, 'text/html': `<div class="opsbook-build"><b>build failed</b> ${escapeHtml(what)}</div>${details}` };
}

export function interruptedBundle(progress: BuildProgress): Bundle {
  const where = progress.describeCurrent();
  return { 'text/plain': `build interrupted at ${where}`, 'text/html': `<div class="opsbook-build"><b>build interrupted</b> at ${escapeHtml(where)}</div>` };
}

export function summaryBundle(result: BuildResult, log: string, verbose: boolean): Bundle {
  const rows: Array<[string, string]> = [
    ['image', result.id.replace(/^sha256:/, '').slice(0, 12)],
    ['tags', result.tags.join(', ') || '(none)'],
    ['size', bytes(result.size)],
    ['layers', String(result.layers)],
    ['steps', `${result.steps} (${result.cacheHits} from cache)`],
    ['context', `${result.contextFiles} files, ${bytes(result.contextBytes)}`],
    ['duration', seconds(result.durationMs)],
  ];
  const text = rows.map(([k, v]) => `${k.padEnd(9)} ${v}`).join('\n');
  const table = `<table class="opsbook-build-summary">${rows.map(([k, v]) => `<tr><th style="text-align:left">${k}</th><td style="text-align:left"><code>${escapeHtml(v)}</code></td></tr>`).join('')}</table>`;
  const details = verbose ? '' : `<details><summary>build log (${log.split('\n').length} lines)</summary><pre>${escapeHtml(log)}</pre></details>`;
  return { 'text/plain': `built ${result.tags[0] ?? result.id}\n${text}`, 'text/html': `${table}${details}` };
}

export class BuildDisplay {
  private readonly handle: DisplayHandle;
  private readonly startedAt: number;
  private lastUpdate = 0;
  private trailing: NodeJS.Timeout | undefined;
  private settled = false;

  constructor(io: Pick<Io, 'display'>, private readonly progress: BuildProgress, private readonly context: string, private readonly now: () => number = Date.now) {
    this.startedAt = now();
    this.handle = io.display(this.progressNow());
  }

  /** Shows the progress, at most every PROGRESS_EVERY_MS; one held back is shown when that time is up. */
  refresh(): void {
    if (this.settled || this.trailing) return;
    const wait = this.lastUpdate + PROGRESS_EVERY_MS - this.now();
    if (wait > 0) {
      this.trailing = setTimeout(() => {
        this.trailing = undefined;
        this.refresh();
      }, wait);
      return;
    }
    this.lastUpdate = this.now();
    this.handle.update(this.progressNow());
  }

  succeeded(result: BuildResult, log: string, verbose: boolean): void {
    this.settle(summaryBundle(result, log, verbose));
  }

  failed(reason: string): void {
    this.settle(failedBundle(this.progress, reason));
  }

  interrupted(): void {
    this.settle(interruptedBundle(this.progress));
  }

  private progressNow(): Bundle {
    return progressBundle(this.progress, this.context, this.now() - this.startedAt);
  }

  /** The outcome replaces the progress once; what comes after it (a second outcome, late progress) is dropped. */
  private settle(bundle: Bundle): void {
    clearTimeout(this.trailing);
    this.trailing = undefined;
    if (this.settled) return;
    this.settled = true;
    this.handle.update(bundle);
  }
}
