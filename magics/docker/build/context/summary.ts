// What a packed build context sent: the counters kept while packing, the summary packContext() resolves with, and
// the docker CLI's "Sending build context" line and size format for it.
import type { ContextPlan } from './plan';
import type { ContextEntry, ContextSummary } from './types';
import type { WalkTally } from './walk';

/** The counters of ContextSummary, kept while packing. */
export type PackTally = WalkTally & Pick<ContextSummary, 'files' | 'hardlinks' | 'directories' | 'symlinks' | 'special' | 'entries' | 'contentBytes'>;

export function newPackTally(): PackTally {
  return { ignored: 0, files: 0, hardlinks: 0, directories: 0, symlinks: 0, special: 0, entries: 0, contentBytes: 0 };
}

export function countEntry(tally: PackTally, entry: ContextEntry): void {
  tally.entries += 1;
  tally.contentBytes += entry.size;
  if (entry.type === 'file' || entry.type === 'hardlink') tally.files += 1;
  if (entry.type === 'hardlink') tally.hardlinks += 1;
  else if (entry.type === 'directory') tally.directories += 1;
  else if (entry.type === 'symlink') tally.symlinks += 1;
  else if (entry.type !== 'file') tally.special += 1;
}

/** The summary `done` resolves with. */
export function summarize(plan: ContextPlan, tally: PackTally, bytes: number): ContextSummary {
  const { ignored, files, hardlinks, directories, symlinks, special, entries, contentBytes } = tally;
  return { dockerfile: plan.dockerfile, files, hardlinks, directories, symlinks, special, entries, contentBytes, bytes, ignored };
}

/** Size as the CLI prints it (go-units HumanSize: decimal units, 4 significant digits), e.g. '2.048kB'. */
export function formatContextSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  let size = bytes;
  let unit = 0;
  while (size >= 1000 && unit < units.length - 1) {
    size /= 1000;
    unit += 1;
  }
  return `${Number(size.toPrecision(4))}${units[unit]}`;
}

/** The CLI's progress line plus what was counted, e.g. 'Sending build context to Docker daemon  2.048kB (3 files, ...)'. */
export function contextSummaryLine(summary: ContextSummary): string {
  const parts = [`${summary.files} files`, `${summary.directories} directories`];
  if (summary.symlinks > 0) parts.push(`${summary.symlinks} symlinks`);
  if (summary.ignored > 0) parts.push(`${summary.ignored} ignored by .dockerignore`);
  return `Sending build context to Docker daemon  ${formatContextSize(summary.bytes)} (${parts.join(', ')})`;
}
