// The directory walk of a build context, as archive.TarWithOptions does it over filepath.WalkDir: depth first, names
// in byte order, each path matched with its parent's results, an excluded folder walked only when an exception may
// re-include something below it, every entry described as the tar header will carry it (mode bits, mtime cut to
// the second, symlink targets as is, hard links as links to the first path sent, device numbers). lstat runs a
// batch ahead of the entries being visited; the visitor's promise is the walk's backpressure.
import type { Dirent, Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { DOCKERIGNORE } from './dockerignore';
import { cantStat, errorCode, errorMessage, noop } from './errors';
import { direntsOf, exactLstatOf, lstatOf, readlinkOf } from './fs-calls';
import type { HandoffQueue } from './handoff-queue';
import type { ParentMatches } from './ignore-matcher';
import type { ContextPlan } from './plan';
import type { ContextEntry, ContextEntryType } from './types';

/** Concurrent lstat calls while walking one directory. */
const LSTAT_BATCH = 64;

export interface WalkTally {
  ignored: number;
}

interface WalkState {
  plan: ContextPlan;
  tally: WalkTally;
  /** First tar path of every multiply-linked inode seen, keyed by device and inode. */
  linkTargets: Map<string, string>;
}

/** What the walk does with one directory entry. */
interface ChildStep {
  relative: string;
  absolute: string;
  isDirectory: boolean;
  /** Sent as a tar entry. */
  send: boolean;
  /** Walked into (a directory that is sent, or excluded but possibly holding re-included paths). */
  descend: boolean;
  parents: ParentMatches;
}

/** lstat result of an entry to send, with its link target for symlinks. */
interface Inspected {
  stats: Stats;
  linkname?: string;
}

const SURROGATE = /[\ud800-\udfff]/;

/**
 * Directory entries in Go's order (os.ReadDir sorts names by their UTF-8 bytes). UTF-16 order only differs from it
 * for characters outside the BMP, so names are compared as bytes only when one of them has such a character.
 */
function sortByName(entries: Dirent[]): Dirent[] {
  if (!entries.some((entry) => SURROGATE.test(entry.name))) {
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
  const keyed = entries.map((entry) => ({ entry, key: Buffer.from(entry.name, 'utf8') }));
  return keyed.sort((a, b) => Buffer.compare(a.key, b.key)).map(({ entry }) => entry);
}

async function readSortedDir(absoluteDir: string): Promise<Dirent[]> {
  let entries: Dirent[];
  try {
    entries = await direntsOf(absoluteDir);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return [];
    if (errorCode(error) === 'EACCES' || errorCode(error) === 'EPERM') throw cantStat(absoluteDir);
    throw new Error(`error checking context: cannot read directory '${absoluteDir}': ${errorMessage(error)}`);
  }
  return sortByName(entries);
}

function planChild(state: WalkState, relativeDir: string, dirent: Dirent, parents: ParentMatches): ChildStep {
  const { plan } = state;
  const relative = relativeDir === '' ? dirent.name : `${relativeDir}/${dirent.name}`;
  const absolute = path.join(plan.root, relative);
  const isDirectory = dirent.isDirectory();
  const match = plan.matcher.matchWithParents(relative, parents);
  const step = { relative, absolute, isDirectory, send: true, descend: isDirectory, parents: match.parents };
  if (!match.excluded || plan.forcedFiles.has(relative)) return step;
  const walkInto = isDirectory && (plan.matcher.mayReincludeBelow(relative) || plan.forcedDirs.has(relative));
  if (!walkInto) state.tally.ignored += 1;
  return { ...step, send: false, descend: walkInto };
}

/** lstat (and readlink) of an entry to send; null when it vanished since the directory was read. */
async function inspect(absolute: string): Promise<Inspected | null> {
  try {
    const stats = await lstatOf(absolute);
    return stats.isSymbolicLink() ? { stats, linkname: await readlinkOf(absolute) } : { stats };
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return null;
    if (errorCode(error) === 'EACCES' || errorCode(error) === 'EPERM') throw cantStat(absolute);
    throw new Error(`error checking context: can't stat '${absolute}': ${errorMessage(error)}`);
  }
}

/** Major and minor numbers of a device (glibc's gnu_dev_major/minor encoding). */
function deviceNumbers(rdev: number): { devmajor: number; devminor: number } {
  const value = BigInt(rdev);
  return {
    devmajor: Number(((value >> 8n) & 0xfffn) | ((value >> 32n) & ~0xfffn)),
    devminor: Number((value & 0xffn) | ((value >> 12n) & ~0xffn)),
  };
}

function entryType(stats: Stats): ContextEntryType | null {
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'directory';
  if (stats.isSymbolicLink()) return 'symlink';
  if (stats.isFIFO()) return 'fifo';
  if (stats.isCharacterDevice()) return 'character-device';
  if (stats.isBlockDevice()) return 'block-device';
  return null; // sockets: the CLI cannot archive them and leaves them out
}

function secondsOf(stats: Stats): Date {
  return new Date(Math.floor(stats.mtimeMs / 1000) * 1000);
}

/** Hard links: a non-directory with several links becomes a link to the first path sent for its inode. */
async function hardlinkTarget(state: WalkState, relative: string, absolute: string, stats: Stats): Promise<string | undefined> {
  if (stats.isDirectory() || stats.nlink < 2) return undefined;
  const exact = await exactLstatOf(absolute); // inode numbers can exceed 2^53 (overlayfs xino)
  const key = `${exact.dev}:${exact.ino}`;
  const first = state.linkTargets.get(key);
  if (first === undefined) state.linkTargets.set(key, relative);
  return first;
}

async function toEntry(state: WalkState, step: ChildStep, inspected: Inspected): Promise<ContextEntry | null> {
  const { stats } = inspected;
  const type = entryType(stats);
  if (type === null) return null;
  const entry: ContextEntry = {
    path: step.relative,
    absolutePath: step.absolute,
    type,
    mode: stats.mode & 0o7777,
    size: type === 'file' ? stats.size : 0,
    mtime: secondsOf(stats),
  };
  if (inspected.linkname !== undefined) entry.linkname = inspected.linkname;
  if (type === 'character-device' || type === 'block-device') Object.assign(entry, deviceNumbers(stats.rdev));
  const linkedTo = await hardlinkTarget(state, step.relative, step.absolute, stats);
  if (linkedTo !== undefined) return { ...entry, type: 'hardlink', size: 0, linkname: linkedTo };
  return rewriteDockerignore(state.plan, entry);
}

/** With an outside Dockerfile the CLI appends its random name to the .dockerignore it sends. */
async function rewriteDockerignore(plan: ContextPlan, entry: ContextEntry): Promise<ContextEntry> {
  if (plan.outside === null || entry.path !== DOCKERIGNORE || entry.type !== 'file') return entry;
  const original = await readFile(entry.absolutePath);
  const content = Buffer.concat([original, Buffer.from(`\n${plan.outside.name}\n`)]);
  return { ...entry, size: content.length, content };
}

/** Called for each entry in tar order; the walk waits for the returned promise (that is its backpressure). */
type Visit = (entry: ContextEntry) => Promise<void>;

function inspectBatch(steps: readonly ChildStep[], start: number): Promise<Array<Inspected | null>> {
  const batch = steps.slice(start, start + LSTAT_BATCH);
  const inspected = Promise.all(batch.map((step) => (step.send ? inspect(step.absolute) : Promise.resolve(null))));
  inspected.catch(noop); // awaited by the caller unless the walk stopped earlier
  return inspected;
}

/** Depth-first like filepath.WalkDir; lstat runs a batch ahead of the entries being visited. */
async function walkDirectory(state: WalkState, relativeDir: string, parents: ParentMatches, visit: Visit): Promise<void> {
  const absoluteDir = relativeDir === '' ? state.plan.root : path.join(state.plan.root, relativeDir);
  const steps = (await readSortedDir(absoluteDir)).map((dirent) => planChild(state, relativeDir, dirent, parents));
  let nextBatch = inspectBatch(steps, 0);
  for (let start = 0; start < steps.length; start += LSTAT_BATCH) {
    const inspected = await nextBatch;
    nextBatch = inspectBatch(steps, start + LSTAT_BATCH);
    for (const [index, found] of inspected.entries()) {
      const step = steps[start + index];
      if (step.send && found === null) continue; // vanished meanwhile
      const entry = found === null ? null : await toEntry(state, step, found);
      if (entry !== null) await visit(entry);
      const stillDirectory = found === null ? step.isDirectory : found.stats.isDirectory();
      if (step.descend && stillDirectory) await walkDirectory(state, step.relative, step.parents, visit);
    }
  }
}

/** Entries the CLI appends after the walk when the Dockerfile is outside the context. */
function outsideDockerfileEntries(plan: ContextPlan, dockerignoreSent: boolean): ContextEntry[] {
  if (plan.outside === null) return [];
  const { name, content, mtime } = plan.outside;
  const entries: ContextEntry[] = [{ path: name, absolutePath: '', type: 'file', mode: 0o600, size: content.length, mtime, content }];
  if (dockerignoreSent) return entries;
  const ignoreContent = Buffer.from(`${DOCKERIGNORE}\n${name}\n`);
  entries.push({ path: DOCKERIGNORE, absolutePath: '', type: 'file', mode: 0o600, size: ignoreContent.length, mtime, content: ignoreContent });
  return entries;
}

/** Visits every entry of the planned context in tar order. */
async function visitContext(plan: ContextPlan, tally: WalkTally, visit: Visit): Promise<void> {
  const state: WalkState = { plan, tally, linkTargets: new Map() };
  let dockerignoreSent = false;
  await walkDirectory(state, '', null, async (entry) => {
    if (entry.path === DOCKERIGNORE && entry.type === 'file') dockerignoreSent = true;
    await visit(entry);
  });
  for (const entry of outsideDockerfileEntries(plan, dockerignoreSent)) await visit(entry);
}

/** Runs the walk into `queue`, mapping each entry; ends or fails the queue when the walk is over. */
export function produceInto<T>(plan: ContextPlan, tally: WalkTally, queue: HandoffQueue<T>, map: (entry: ContextEntry) => T): void {
  visitContext(plan, tally, (entry) => queue.put(map(entry))).then(
    () => queue.end(),
    (error: unknown) => queue.fail(error),
  );
}
