// Build context for %build: turns a context folder into the tar stream the docker CLI sends with the legacy builder
// (`DOCKER_BUILDKIT=0 docker build`). It follows the CLI step by step: the context and Dockerfile are resolved through
// symlinks, .dockerignore is read like moby's ignorefile reader and matched like moby/patternmatcher (exact, prefix,
// suffix and regexp patterns, parent results, `!` exceptions), the Dockerfile and .dockerignore get the CLI's `!`
// exceptions so they are always sent, the tree is walked in byte order like filepath.WalkDir, and every entry gets
// the header archive.TarWithOptions writes (mode bits, uid/gid 0, mtime cut to the second, hard links as links).
// The tar (tar-stream) is fed lazily with backpressure: a bounded queue lets the walk and small-file reads (blocking
// while the disk answers fast, in short slices) run a few entries ahead of the tar writer; files over 64 KiB are
// streamed with fs.createReadStream and never held in memory.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import type { BigIntStats, Dirent, Stats } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { performance } from 'node:perf_hooks';
import { pack as createTarPack, type Header, type Pack } from 'tar-stream';

// ---------------------------------------------------------------------------------------------------------------
// Public types

export type ContextEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'fifo' | 'character-device' | 'block-device';

/** One entry of the build context, in the order the tar carries it. */
export interface ContextEntry {
  /** Path inside the context (and the tar), '/'-separated, without a trailing slash. */
  path: string;
  /** The file on disk; '' for an entry the CLI generates (the copied outside Dockerfile). */
  absolutePath: string;
  type: ContextEntryType;
  /** Permission bits with setuid, setgid and sticky (mode & 0o7777), as the tar header carries them. */
  mode: number;
  /** Bytes of content sent: the file size for regular files, 0 for every other type (hard links too). */
  size: number;
  /** Modification time cut to whole seconds, as the CLI sends it. */
  mtime: Date;
  /** Symlink target exactly as readlink returns it, or for a hard link the path of its first occurrence. */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Content to send instead of reading absolutePath (a rewritten .dockerignore, the copied outside Dockerfile). */
  content?: Buffer;
}

export interface ContextOptions {
  /** Dockerfile path, relative to the context folder or absolute; default 'Dockerfile' (or 'dockerfile' if only that exists). */
  dockerfile?: string;
}

export interface PackContextOptions extends ContextOptions {
  /** Aborting destroys the stream; `done` rejects. */
  signal?: AbortSignal;
}

/** What was sent, for the cell output. */
export interface ContextSummary {
  /** Value for the `dockerfile` build option: the Dockerfile's path inside the context. */
  dockerfile: string;
  /** Regular files sent, hard links included. */
  files: number;
  hardlinks: number;
  directories: number;
  symlinks: number;
  /** FIFOs and device nodes. */
  special: number;
  /** Tar entries in all. */
  entries: number;
  /** Sum of the regular files' sizes. */
  contentBytes: number;
  /** Bytes of the tar stream: what the CLI reports as "Sending build context to Docker daemon". */
  bytes: number;
  /** Paths .dockerignore excluded where the walk met them (an excluded folder counts once, its content is not walked). */
  ignored: number;
}

export interface PackedContext {
  /** The uncompressed tar stream, for `docker.buildImage(stream, { dockerfile, ... })`. */
  stream: Readable;
  /** The `dockerfile` build option, known before the first byte: resolved path inside the context, or the CLI's
   * `.dockerfile.<random>` name when the Dockerfile lies outside the context. */
  dockerfile: Promise<string>;
  /** Resolves once the consumer has read the whole stream; rejects with the same Error the stream fails with. */
  done: Promise<ContextSummary>;
}

// ---------------------------------------------------------------------------------------------------------------
// Tunables

/** Regular files up to this size are read whole, ahead of the tar writer; larger ones are streamed. */
const SMALL_FILE_LIMIT = 64 * 1024;
/** Entries prepared ahead of the tar writer (bounds memory to PREFETCH_DEPTH * SMALL_FILE_LIMIT). */
const PREFETCH_DEPTH = 32;
/** Concurrent lstat calls while walking one directory. */
const LSTAT_BATCH = 64;
/** Longest stretch of blocking small-file reads before the event loop gets a turn. */
const SYNC_SLICE_MS = 8;
/** A blocking read slower than this switches the pack to thread-pool reads. */
const SLOW_SYNC_READ_MS = 10;
/** Read size for streamed files. */
const FILE_CHUNK_SIZE = 256 * 1024;
const STREAM_HIGH_WATER_MARK = 256 * 1024;
/** Small tar chunks are joined up to this size before they are pushed to the consumer. */
const COALESCE_BYTES = 64 * 1024;
/** In-memory entries handed to tar-stream before waiting for the oldest to be taken (bytes, entries). */
const IN_FLIGHT_BYTES = 1024 * 1024;
const IN_FLIGHT_ENTRIES = 64;
/** Largest mtime (seconds) tar-stream encodes correctly in the ustar field; beyond it a PAX record carries it. */
const MAX_USTAR_MTIME = 2 ** 31 - 1;

const DEFAULT_DOCKERFILE = 'Dockerfile';
const DOCKERIGNORE = '.dockerignore';

function noop(): void {}

// ---------------------------------------------------------------------------------------------------------------
// Callback-based fs calls: per call they cost a fraction of fs/promises (FileHandle objects are expensive), which
// matters with tens of thousands of small files.

type Callback<T> = (error: NodeJS.ErrnoException | null, value: T) => void;

function promised<T>(start: (done: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => start((error, value) => (error ? reject(error) : resolve(value))));
}

const lstatOf = (file: string): Promise<Stats> => promised((done) => fs.lstat(file, done));
const exactLstatOf = (file: string): Promise<BigIntStats> => promised((done) => fs.lstat(file, { bigint: true }, done));
const readlinkOf = (file: string): Promise<string> => promised((done) => fs.readlink(file, done));
const direntsOf = (dir: string): Promise<Dirent[]> => promised((done) => fs.readdir(dir, { withFileTypes: true }, done));
const openForRead = (file: string): Promise<number> => promised((done) => fs.open(file, 'r', done));
const closeFd = (fd: number): Promise<void> => promised((done) => fs.close(fd, (error) => done(error, undefined)));
const readAt = (fd: number, buffer: Buffer, offset: number, position: number): Promise<number> =>
  promised((done) => fs.read(fd, buffer, offset, buffer.length - offset, position, done));

// ---------------------------------------------------------------------------------------------------------------
// .dockerignore reading (moby ignorefile.ReadAll)

/** Go's unicode.IsSpace set, which strings.TrimSpace strips (String.prototype.trim differs, e.g. on U+FEFF, U+0085). */
const GO_SPACE_EDGES = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;

function goTrimSpace(text: string): string {
  return text.replace(GO_SPACE_EDGES, '');
}

/** Go's path.Clean for '/'-separated paths. */
function goClean(text: string): string {
  if (text === '') return '.';
  const normalized = path.posix.normalize(text);
  return normalized.length > 1 && normalized.endsWith('/') ? normalized.slice(0, -1) : normalized;
}

/** One .dockerignore line to its pattern, or null for a blank line: trimmed, cleaned, leading '/' dropped, '!' kept. */
function patternFromLine(line: string): string | null {
  let pattern = goTrimSpace(line);
  if (pattern === '') return null;
  const exception = pattern.startsWith('!');
  if (exception) pattern = goTrimSpace(pattern.slice(1));
  if (pattern.length > 0) {
    pattern = goClean(pattern);
    if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
  }
  return exception ? `!${pattern}` : pattern;
}

/**
 * Patterns of a .dockerignore text as the CLI reads them: a UTF-8 BOM is dropped, a line is a comment only when its
 * very first character is '#' (no trimming first), blank lines are skipped, '\r\n' endings are accepted.
 */
export function parseDockerignore(content: string | Buffer): string[] {
  const text = typeof content === 'string' ? content : content.toString('utf8');
  const patterns: string[] = [];
  text.split('\n').forEach((rawLine, index) => {
    let line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (index === 0 && line.startsWith('\ufeff')) line = line.slice(1);
    if (line.startsWith('#')) return;
    const pattern = patternFromLine(line);
    if (pattern !== null) patterns.push(pattern);
  });
  return patterns;
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as NodeJS.ErrnoException).code) : undefined;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The patterns of `<contextDir>/.dockerignore` ([] when there is none), comments and blank lines removed. */
export async function readDockerignore(contextDir: string): Promise<string[]> {
  const file = path.join(contextDir, DOCKERIGNORE);
  let content: Buffer;
  try {
    content = await readFile(file);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return [];
    throw new Error(`error reading ${file}: ${errorMessage(error)}`);
  }
  return parseDockerignore(content);
}

// ---------------------------------------------------------------------------------------------------------------
// Pattern matching (moby/patternmatcher)

type MatchKind = 'exact' | 'prefix' | 'suffix' | 'regexp';

interface IgnorePattern {
  /** The cleaned pattern without its '!'. */
  text: string;
  exclusion: boolean;
  kind: MatchKind;
  regexp: RegExp | null;
  /** Set when the regexp does not compile; matching then fails like Go's ErrBadPattern. */
  invalid: boolean;
}

/** Per-pattern results of a parent directory (patternmatcher.MatchInfo); null is Go's zero value. */
export type ParentMatches = readonly boolean[] | null;

const SYNTAX_ERROR = 'syntax error in pattern';
/** Characters patternmatcher escapes because they mean something in a regexp but nothing in a glob. */
const REGEXP_ONLY_CHARS = new Set(['.', '+', '(', ')', '|', '{', '}', '$']);
/** '?' matches one rune; JavaScript regexps without the u flag see UTF-16 units, so a surrogate pair is spelled out. */
const ANY_RUNE_BUT_SLASH = '(?:[\\ud800-\\udbff][\\udc00-\\udfff]|[^/])';
/** Go's '.' (no s flag) is any rune but '\n'; JavaScript's '.' also stops at '\r', U+2028 and U+2029. */
const ANY_RUNES = '[^\\n]*';

/** Reads one character of a [...] class at `index` (Go's getEsc); returns the index after it or throws. */
function skipClassChar(chars: string[], index: number, pattern: string): number {
  let at = index;
  if (at >= chars.length || chars[at] === '-' || chars[at] === ']') throw new Error(`${SYNTAX_ERROR} "${pattern}"`);
  if (chars[at] === '\\') at += 1;
  at += 1;
  if (at >= chars.length) throw new Error(`${SYNTAX_ERROR} "${pattern}"`);
  return at;
}

/** Skips a [...] class starting after its '['; throws on the shapes filepath.Match rejects. */
function skipClass(chars: string[], index: number, pattern: string): number {
  let at = chars[index] === '^' ? index + 1 : index;
  for (let ranges = 0; ; ranges += 1) {
    if (at < chars.length && chars[at] === ']' && ranges > 0) return at + 1;
    at = skipClassChar(chars, at, pattern);
    if (chars[at] === '-') at = skipClassChar(chars, at + 1, pattern);
  }
}

/** The syntax check patternmatcher.New does with filepath.Match(pattern, "."). */
function checkGlobSyntax(pattern: string): void {
  const chars = Array.from(pattern);
  for (let at = 0; at < chars.length; ) {
    if (chars[at] === '\\') {
      if (at + 1 >= chars.length) throw new Error(`${SYNTAX_ERROR} "${pattern}"`);
      at += 2;
    } else if (chars[at] === '[') {
      at = skipClass(chars, at + 1, pattern);
    } else {
      at += 1;
    }
  }
}

interface CompiledGlob {
  kind: MatchKind;
  source: string;
}

/** Translates a pattern the way patternmatcher's compile() does, including its exact/prefix/suffix shortcuts. */
function compileGlob(text: string): CompiledGlob {
  const chars = Array.from(text);
  let source = '^';
  let kind: MatchKind = 'exact';
  let inClass = false;
  for (let step = 0, at = 0; at < chars.length; step += 1) {
    const ch = chars[at++];
    if (ch === '*' && chars[at] === '*') {
      at += 1;
      if (chars[at] === '/') at += 1;
      if (at >= chars.length) {
        if (kind === 'exact') kind = 'prefix';
        else {
          source += ANY_RUNES;
          kind = 'regexp';
        }
      } else {
        source += `(${ANY_RUNES}/)?`;
        kind = 'regexp';
      }
      if (step === 0) kind = 'suffix';
    } else if (ch === '*') {
      source += '[^/]*';
      kind = 'regexp';
    } else if (ch === '?') {
      source += inClass ? '[^/]' : ANY_RUNE_BUT_SLASH;
      kind = 'regexp';
    } else if (REGEXP_ONLY_CHARS.has(ch)) {
      source += `\\${ch}`;
    } else if (ch === '\\') {
      if (at >= chars.length) throw new Error(`${SYNTAX_ERROR} "${text}"`);
      source += `\\${chars[at++]}`;
      kind = 'regexp';
    } else if (ch === '[' || ch === ']') {
      inClass = ch === '[';
      source += ch;
      kind = 'regexp';
    } else {
      source += ch;
    }
  }
  return { kind, source: `${source}$` };
}

function compilePattern(raw: string): IgnorePattern {
  let text = goClean(goTrimSpace(raw));
  const exclusion = text.startsWith('!');
  if (exclusion) {
    if (text.length === 1) throw new Error('illegal exclusion pattern: "!"');
    text = text.slice(1);
  }
  checkGlobSyntax(text);
  const glob = compileGlob(text);
  let regexp: RegExp | null = null;
  let invalid = false;
  if (glob.kind === 'regexp') {
    try {
      regexp = new RegExp(glob.source);
    } catch {
      invalid = true;
    }
  }
  return { text, exclusion, kind: glob.kind, regexp, invalid };
}

function patternMatches(pattern: IgnorePattern, file: string): boolean {
  switch (pattern.kind) {
    case 'exact':
      return file === pattern.text;
    case 'prefix':
      return file.startsWith(pattern.text.slice(0, -2));
    case 'suffix': {
      const suffix = pattern.text.slice(2);
      return file.endsWith(suffix) || (suffix.startsWith('/') && file === suffix.slice(1));
    }
    case 'regexp':
      if (pattern.invalid || pattern.regexp === null) throw new Error(`${SYNTAX_ERROR} "${pattern.text}"`);
      return pattern.regexp.test(file);
  }
}

/** True when the pattern matches one of the ancestors of `file` (the check for a zero ParentMatches). */
function matchesAncestor(pattern: IgnorePattern, file: string): boolean {
  const parent = path.posix.dirname(file);
  if (parent === '.') return false;
  const dirs = parent.split('/');
  for (let depth = 1; depth <= dirs.length; depth += 1) {
    if (patternMatches(pattern, dirs.slice(0, depth).join('/'))) return true;
  }
  return false;
}

export interface MatchResult {
  excluded: boolean;
  /** Results to hand to the children of this path when it is a directory. */
  parents: ParentMatches;
}

/** .dockerignore patterns compiled once; paths are '/'-separated and relative to the context root. */
export class IgnoreMatcher {
  private readonly patterns: readonly IgnorePattern[];
  /** True when some pattern is an exception ('!...'). */
  readonly hasExclusions: boolean;

  /** Throws, like the CLI, on a bad pattern ("syntax error in pattern", or a lone '!'). */
  constructor(patterns: readonly string[]) {
    this.patterns = patterns.filter((raw) => goTrimSpace(raw) !== '').map(compilePattern);
    this.hasExclusions = this.patterns.some((pattern) => pattern.exclusion);
  }

  /** patternmatcher.MatchesUsingParentResults: what archive.TarWithOptions asks for each walked path. */
  matchWithParents(file: string, parents: ParentMatches): MatchResult {
    const known = parents !== null && parents.length > 0 ? parents : null;
    const results = new Array<boolean>(this.patterns.length).fill(false);
    let excluded = false;
    this.patterns.forEach((pattern, index) => {
      let match = known !== null && known[index];
      if (!match) {
        if (pattern.exclusion !== excluded) return;
        match = patternMatches(pattern, file) || (known === null && matchesAncestor(pattern, file));
      }
      results[index] = match;
      if (match) excluded = !pattern.exclusion;
    });
    return { excluded, parents: results };
  }

  /** patternmatcher.MatchesOrParentMatches: is `file` excluded, by itself or through any ancestor. */
  ignores(file: string): boolean {
    const cleaned = goClean(file);
    if (cleaned === '.') return false;
    return this.matchWithParents(cleaned, null).excluded;
  }

  /** The CLI's rule for walking into an excluded directory: some exception pattern starts with `dir/`. */
  mayReincludeBelow(dir: string): boolean {
    if (!this.hasExclusions) return false;
    const dirSlash = `${dir}/`;
    return this.patterns.some((pattern) => pattern.exclusion && `${pattern.text}/`.startsWith(dirSlash));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Resolving the context and the Dockerfile (cli/command/image/build/context.go)

interface ResolvedDockerfile {
  /** Real path of the Dockerfile. */
  absolutePath: string;
  /** Path relative to the context root, '/'-separated; starts with '../' when outside. */
  relativePath: string;
  inside: boolean;
}

/** Data the CLI adds to the tar when the Dockerfile is outside the context. */
interface OutsideDockerfile {
  name: string;
  content: Buffer;
  mtime: Date;
}

interface ContextPlan {
  root: string;
  /** The `dockerfile` build option. */
  dockerfile: string;
  matcher: IgnoreMatcher;
  /** Paths sent even when excluded, and folders walked to reach them. */
  forcedFiles: ReadonlySet<string>;
  forcedDirs: ReadonlySet<string>;
  outside: OutsideDockerfile | null;
}

async function pathExists(file: string): Promise<boolean> {
  try {
    await lstatOf(file);
    return true;
  } catch {
    return false;
  }
}

/** Absolute, symlink-free context root; the CLI's "path not found" and "must be a directory" errors. */
async function resolveContextRoot(contextDir: string): Promise<string> {
  const absolute = path.resolve(contextDir);
  let info: Stats;
  try {
    info = await stat(absolute);
  } catch {
    throw new Error(`unable to prepare context: path "${contextDir}" not found`);
  }
  if (!info.isDirectory()) throw new Error(`unable to prepare context: context must be a directory: ${absolute}`);
  return realpath(absolute);
}

/** Default Dockerfile, with the CLI's fallback to a lowercase 'dockerfile' when only that exists. */
async function defaultDockerfile(root: string): Promise<string> {
  const standard = path.join(root, DEFAULT_DOCKERFILE);
  const lowercase = path.join(root, DEFAULT_DOCKERFILE.toLowerCase());
  if (!(await pathExists(standard)) && (await pathExists(lowercase))) return lowercase;
  return standard;
}

function toPosix(relative: string): string {
  return relative.split(path.sep).join('/');
}

async function resolveDockerfile(root: string, contextDir: string, given: string | undefined): Promise<ResolvedDockerfile> {
  const candidate = given === undefined || given === '' ? await defaultDockerfile(root) : path.resolve(path.resolve(contextDir), given);
  let absolutePath: string;
  try {
    absolutePath = await realpath(candidate);
  } catch (error) {
    const reason = errorCode(error) === 'ENOENT' ? 'no such file or directory' : errorMessage(error);
    throw new Error(`unable to prepare context: cannot locate Dockerfile ${candidate}: ${reason}`);
  }
  const relativePath = toPosix(path.relative(root, absolutePath));
  const inside = !(relativePath === '..' || relativePath.startsWith('../') || path.isAbsolute(relativePath));
  return { absolutePath, relativePath, inside };
}

/**
 * build.TrimBuildFilesFromExcludes: when .dockerignore or the Dockerfile is excluded, an exception for it is
 * appended. (The CLI tests this with patternmatcher's older single-parent Matches; the full parent check is used
 * here, which gives the same list except where that older check misses an excluded Dockerfile.)
 */
function keepBuildFiles(excludes: readonly string[], dockerfile: ResolvedDockerfile): string[] {
  const matcher = new IgnoreMatcher(excludes);
  const kept = [...excludes];
  if (matcher.ignores(DOCKERIGNORE)) kept.push(`!${DOCKERIGNORE}`);
  if (dockerfile.inside && matcher.ignores(dockerfile.relativePath)) kept.push(`!${dockerfile.relativePath}`);
  return kept;
}

function ancestorsOf(relative: string): Set<string> {
  const ancestors = new Set<string>();
  for (let dir = path.posix.dirname(relative); dir !== '.' && dir !== '/'; dir = path.posix.dirname(dir)) ancestors.add(dir);
  return ancestors;
}

/** The CLI's name for a Dockerfile copied into the context: '.dockerfile.' and 20 random hex digits. */
function outsideDockerfileName(): string {
  return `.dockerfile.${randomBytes(10).toString('hex')}`;
}

async function planContext(contextDir: string, options: ContextOptions): Promise<ContextPlan> {
  const root = await resolveContextRoot(contextDir);
  const dockerfile = await resolveDockerfile(root, contextDir, options.dockerfile);
  const excludes = await readDockerignore(root);
  let matcher: IgnoreMatcher;
  try {
    matcher = new IgnoreMatcher(keepBuildFiles(excludes, dockerfile));
  } catch (error) {
    throw new Error(`error checking context: ${errorMessage(error)} (in ${path.join(root, DOCKERIGNORE)})`);
  }
  const outside = dockerfile.inside ? null : { name: outsideDockerfileName(), content: await readFile(dockerfile.absolutePath), mtime: new Date() };
  const forcedFiles = new Set([DOCKERIGNORE]);
  if (dockerfile.inside) forcedFiles.add(dockerfile.relativePath);
  return {
    root,
    dockerfile: outside === null ? dockerfile.relativePath : outside.name,
    matcher,
    forcedFiles,
    forcedDirs: dockerfile.inside ? ancestorsOf(dockerfile.relativePath) : new Set<string>(),
    outside,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Walking (archive.TarWithOptions over filepath.WalkDir)

interface WalkTally {
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

function cantStat(absolute: string): Error {
  return new Error(`error checking context: can't stat '${absolute}'`);
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

/** Thrown into a producer whose consumer went away. */
class QueueCancelled extends Error {}

/**
 * A bounded FIFO between the walk (producer) and a consumer, so walking, reading and tar writing overlap. An error of
 * the producer reaches the consumer after the items queued before it.
 */
class HandoffQueue<T> {
  private readonly items: T[] = [];
  private ended = false;
  private failure: { error: unknown } | null = null;
  private cancelled = false;
  private wakeConsumer: (() => void) | null = null;
  private wakeProducer: (() => void) | null = null;

  constructor(private readonly capacity: number) {}

  async put(item: T): Promise<void> {
    if (this.cancelled) throw new QueueCancelled();
    this.items.push(item);
    this.notifyConsumer();
    while (this.items.length >= this.capacity && !this.cancelled) await new Promise<void>((resolve) => (this.wakeProducer = resolve));
    if (this.cancelled) throw new QueueCancelled();
  }

  end(): void {
    this.ended = true;
    this.notifyConsumer();
  }

  fail(error: unknown): void {
    if (!(error instanceof QueueCancelled)) this.failure = { error };
    this.end();
  }

  /** Stops the producer at its next put(). */
  cancel(): void {
    this.cancelled = true;
    this.notifyProducer();
  }

  async take(): Promise<IteratorResult<T, undefined>> {
    while (this.items.length === 0) {
      if (this.failure !== null) throw this.failure.error;
      if (this.ended) return { done: true, value: undefined };
      await new Promise<void>((resolve) => (this.wakeConsumer = resolve));
    }
    const item = this.items.shift() as T;
    this.notifyProducer();
    return { done: false, value: item };
  }

  private notifyConsumer(): void {
    const wake = this.wakeConsumer;
    this.wakeConsumer = null;
    wake?.();
  }

  private notifyProducer(): void {
    const wake = this.wakeProducer;
    this.wakeProducer = null;
    wake?.();
  }
}

/** Runs the walk into `queue`, mapping each entry; ends or fails the queue when the walk is over. */
function produceInto<T>(plan: ContextPlan, tally: WalkTally, queue: HandoffQueue<T>, map: (entry: ContextEntry) => T): void {
  visitContext(plan, tally, (entry) => queue.put(map(entry))).then(
    () => queue.end(),
    (error: unknown) => queue.fail(error),
  );
}

/** Entries the context walk keeps queued ahead of a contextEntries() reader. */
const ENTRY_QUEUE_CAPACITY = 256;

/**
 * The entries `docker build` would send for this context, in tar order: files (mode, size, mtime), directories
 * (empty ones too), symlinks (target as is), hard links, FIFOs and devices. Excluded paths are skipped as the CLI
 * does, which walks an excluded folder only when an exception pattern starts with that folder's path (and then sends
 * what is re-included below it, but not the folder entry itself). The Dockerfile and .dockerignore are always in it.
 */
export async function* contextEntries(contextDir: string, options: ContextOptions = {}): AsyncGenerator<ContextEntry> {
  const plan = await planContext(contextDir, options);
  const queue = new HandoffQueue<ContextEntry>(ENTRY_QUEUE_CAPACITY);
  produceInto(plan, { ignored: 0 }, queue, (entry) => entry);
  try {
    for (let next = await queue.take(); next.done !== true; next = await queue.take()) yield next.value;
  } finally {
    queue.cancel();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Reading files

function unreadable(absolute: string, error: unknown): Error {
  const code = errorCode(error);
  if (code === 'EACCES' || code === 'EPERM') return new Error(`error checking context: no permission to read from '${absolute}'`);
  return new Error(`error checking context: cannot read '${absolute}': ${errorMessage(error)}`);
}

function changedWhileSending(absolute: string, expected: number): Error {
  return new Error(`error sending build context: '${absolute}' changed while it was read (expected ${expected} bytes)`);
}

async function openForReading(absolute: string): Promise<number> {
  try {
    return await openForRead(absolute);
  } catch (error) {
    throw unreadable(absolute, error);
  }
}

/** Whole content of a small file through the thread pool: exactly `size` bytes, as its header announces. */
async function readSmallFileAsync(entry: ContextEntry): Promise<Buffer> {
  const fd = await openForReading(entry.absolutePath);
  try {
    const buffer = Buffer.allocUnsafe(entry.size);
    for (let offset = 0; offset < entry.size; ) {
      let bytesRead: number;
      try {
        bytesRead = await readAt(fd, buffer, offset, offset);
      } catch (error) {
        throw unreadable(entry.absolutePath, error);
      }
      if (bytesRead === 0) throw changedWhileSending(entry.absolutePath, entry.size);
      offset += bytesRead;
    }
    return buffer;
  } finally {
    await closeFd(fd);
  }
}

/** The same with blocking calls: no thread-pool round trips, which dominate with thousands of small files. */
function readSmallFileSync(entry: ContextEntry): Buffer {
  let fd: number;
  try {
    fd = fs.openSync(entry.absolutePath, 'r');
  } catch (error) {
    throw unreadable(entry.absolutePath, error);
  }
  try {
    const buffer = Buffer.allocUnsafe(entry.size);
    for (let offset = 0; offset < entry.size; ) {
      let bytesRead: number;
      try {
        bytesRead = fs.readSync(fd, buffer, offset, entry.size - offset, offset);
      } catch (error) {
        throw unreadable(entry.absolutePath, error);
      }
      if (bytesRead === 0) throw changedWhileSending(entry.absolutePath, entry.size);
      offset += bytesRead;
    }
    return buffer;
  } finally {
    fs.closeSync(fd);
  }
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Reads small files with blocking calls while they are fast (page cache, local disk): the event loop is given a
 * turn at least every SYNC_SLICE_MS, and the first read slower than SLOW_SYNC_READ_MS (network filesystem, cold
 * disk) switches this pack to thread-pool reads for good, so a slow filesystem cannot stall the kernel for long.
 */
class SmallFileReader {
  private synchronous = true;
  private sliceStart = performance.now();

  read(entry: ContextEntry): Promise<Buffer> {
    return this.synchronous ? this.readBlocking(entry) : readSmallFileAsync(entry);
  }

  private async readBlocking(entry: ContextEntry): Promise<Buffer> {
    if (performance.now() - this.sliceStart > SYNC_SLICE_MS) {
      await nextTurn();
      this.sliceStart = performance.now();
    }
    if (!this.synchronous) return readSmallFileAsync(entry);
    const started = performance.now();
    try {
      return readSmallFileSync(entry);
    } finally {
      if (performance.now() - started > SLOW_SYNC_READ_MS) this.synchronous = false;
    }
  }
}

interface PreparedEntry {
  entry: ContextEntry;
  /** Content already in memory (small files, generated content). */
  body?: Buffer;
}

async function prepareEntry(entry: ContextEntry, reader: SmallFileReader): Promise<PreparedEntry> {
  if (entry.content !== undefined) return { entry, body: entry.content };
  if (entry.type === 'file' && entry.size === 0) return { entry, body: Buffer.alloc(0) };
  if (entry.type === 'file' && entry.size <= SMALL_FILE_LIMIT) return { entry, body: await reader.read(entry) };
  return { entry };
}

// ---------------------------------------------------------------------------------------------------------------
// Tar writing

/** A header as tar-stream's pack.entry() takes it (its bundled types, which @types/tar-stream is shadowed by). */
type TarHeader = Partial<Header> & Pick<Header, 'name'> & { pax?: Record<string, string> };

/** The writable tar-stream returns for an entry's content (a streamx Writable). */
type EntrySink = ReturnType<Pack['entry']>;

const TAR_TYPES: Record<ContextEntryType, Header['type']> = {
  file: 'file',
  directory: 'directory',
  symlink: 'symlink',
  hardlink: 'link',
  fifo: 'fifo',
  'character-device': 'character-device',
  'block-device': 'block-device',
};

/** File-type bits (S_IFMT) added to the mode so a mode of 0 is not replaced by tar-stream's default; masked out on encoding. */
const TYPE_BITS: Record<ContextEntryType, number> = {
  file: 0o100000,
  directory: 0o040000,
  symlink: 0o120000,
  hardlink: 0o100000,
  fifo: 0o010000,
  'character-device': 0o020000,
  'block-device': 0o060000,
};

function toTarHeader(entry: ContextEntry): TarHeader {
  const header: TarHeader = {
    name: entry.type === 'directory' ? `${entry.path}/` : entry.path,
    mode: entry.mode | TYPE_BITS[entry.type],
    uid: 0,
    gid: 0,
    size: entry.size,
    mtime: entry.mtime,
    type: TAR_TYPES[entry.type],
  };
  if (entry.linkname !== undefined) header.linkname = entry.linkname;
  if (entry.devmajor !== undefined) Object.assign(header, { devmajor: entry.devmajor, devminor: entry.devminor });
  const seconds = Math.floor(entry.mtime.getTime() / 1000);
  if (seconds < 0 || seconds > MAX_USTAR_MTIME) {
    // tar-stream would write a broken ustar mtime; a valid clamped one plus a PAX record, as Go's writer does.
    header.mtime = new Date(Math.min(Math.max(seconds, 0), MAX_USTAR_MTIME) * 1000);
    header.pax = { mtime: String(seconds) };
  }
  return header;
}

/**
 * Opens a tar entry. Its callback reports how the entry ended; the sink itself also emits 'error' when the pack is
 * destroyed, which streamx throws when nobody listens, hence the no-op listener.
 */
function openEntry(tarPack: Pack, header: TarHeader, body: Buffer | undefined, settle: (error?: Error | null) => void): EntrySink {
  const sink = body === undefined ? tarPack.entry(header, settle) : tarPack.entry(header, body, settle);
  sink.on('error', noop);
  return sink;
}

/** Adds an entry whose content (if any) is in memory; resolves when tar-stream has taken all of it. */
function addEntry(tarPack: Pack, header: TarHeader, body: Buffer | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    openEntry(tarPack, header, body, (error) => (error ? reject(error) : resolve()));
  });
}

/** Waits until `sink` wants more data; fails if it errors or closes first. */
function drained(sink: EntrySink): Promise<void> {
  return new Promise((resolve, reject) => {
    if (sink.destroyed) {
      reject(new Error('tar entry closed before its content was written'));
      return;
    }
    const cleanup = (): void => {
      sink.off('drain', onDrain);
      sink.off('error', onError);
      sink.off('close', onClose);
    };
    const onDrain = (): void => {
      cleanup();
      resolve();
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const onClose = (): void => {
      cleanup();
      reject(new Error('tar entry closed before its content was written'));
    };
    sink.on('drain', onDrain);
    sink.on('error', onError);
    sink.on('close', onClose);
  });
}

/** Streams a large file into its tar entry with fs.createReadStream, honouring the tar stream's backpressure. */
async function streamFileEntry(tarPack: Pack, header: TarHeader, entry: ContextEntry): Promise<void> {
  const fd = await openForReading(entry.absolutePath); // before the header, so a failure leaves the tar intact
  try {
    let settle: (error?: Error | null) => void = noop;
    const written = new Promise<void>((resolve, reject) => {
      settle = (error) => (error ? reject(error) : resolve());
    });
    written.catch(noop);
    const sink = openEntry(tarPack, header, undefined, (error) => settle(error));
    await copyInto(sink, entry, fd);
    try {
      await written;
    } catch (error) {
      throw errorMessage(error) === 'Size mismatch' ? changedWhileSending(entry.absolutePath, entry.size) : error;
    }
  } finally {
    await closeFd(fd);
  }
}

async function copyInto(sink: EntrySink, entry: ContextEntry, fd: number): Promise<void> {
  const source = fs.createReadStream(entry.absolutePath, { fd, start: 0, end: entry.size - 1, autoClose: false, highWaterMark: FILE_CHUNK_SIZE });
  try {
    for await (const chunk of source) {
      if (!sink.write(chunk as Buffer)) await drained(sink);
    }
  } catch (error) {
    source.destroy();
    throw /^(error |tar entry)/.test(errorMessage(error)) ? error : unreadable(entry.absolutePath, error);
  }
  sink.end(undefined);
}

/** The counters of ContextSummary, kept while packing. */
type PackTally = WalkTally & Pick<ContextSummary, 'files' | 'hardlinks' | 'directories' | 'symlinks' | 'special' | 'entries' | 'contentBytes'>;

function newPackTally(): PackTally {
  return { ignored: 0, files: 0, hardlinks: 0, directories: 0, symlinks: 0, special: 0, entries: 0, contentBytes: 0 };
}

function countEntry(tally: PackTally, entry: ContextEntry): void {
  tally.entries += 1;
  tally.contentBytes += entry.size;
  if (entry.type === 'file' || entry.type === 'hardlink') tally.files += 1;
  if (entry.type === 'hardlink') tally.hardlinks += 1;
  else if (entry.type === 'directory') tally.directories += 1;
  else if (entry.type === 'symlink') tally.symlinks += 1;
  else if (entry.type !== 'file') tally.special += 1;
}

/**
 * Entries whose content is in memory are handed to tar-stream without waiting for each one (it queues them in
 * order); the writer only waits once too much is queued, so per-entry round trips do not add up.
 */
class WriteWindow {
  private readonly queued: Array<{ written: Promise<void>; bytes: number }> = [];
  private bytes = 0;

  async add(written: Promise<void>, bytes: number): Promise<void> {
    written.catch(noop); // awaited in order below
    this.queued.push({ written, bytes });
    this.bytes += bytes;
    while (this.bytes > IN_FLIGHT_BYTES || this.queued.length > IN_FLIGHT_ENTRIES) await this.takeOldest();
  }

  async flush(): Promise<void> {
    while (this.queued.length > 0) await this.takeOldest();
  }

  private async takeOldest(): Promise<void> {
    const oldest = this.queued.shift();
    if (oldest === undefined) return;
    this.bytes -= oldest.bytes;
    await oldest.written;
  }
}

async function writeEntry(tarPack: Pack, window: WriteWindow, prepared: PreparedEntry): Promise<void> {
  const header = toTarHeader(prepared.entry);
  if (prepared.entry.type !== 'file' || prepared.body !== undefined) {
    await window.add(addEntry(tarPack, header, prepared.body), prepared.body?.length ?? 0);
    return;
  }
  await window.flush(); // a streamed file waits for its turn, so its reads follow the tar's backpressure
  await streamFileEntry(tarPack, header, prepared.entry);
}

/** Prepares an entry (reads a small file) as soon as the walk finds it; the writer awaits it in order. */
function prepareAhead(entry: ContextEntry, reader: SmallFileReader): Promise<PreparedEntry> {
  const prepared = prepareEntry(entry, reader);
  prepared.catch(noop); // awaited in order by feedPack unless packing stopped earlier
  return prepared;
}

async function feedPack(tarPack: Pack, plan: ContextPlan, tally: PackTally): Promise<void> {
  const queue = new HandoffQueue<Promise<PreparedEntry>>(PREFETCH_DEPTH);
  const reader = new SmallFileReader();
  produceInto(plan, tally, queue, (entry) => prepareAhead(entry, reader));
  const window = new WriteWindow();
  try {
    for (let next = await queue.take(); next.done !== true; next = await queue.take()) {
      const prepared = await next.value;
      await writeEntry(tarPack, window, prepared);
      countEntry(tally, prepared.entry);
    }
    await window.flush();
  } finally {
    queue.cancel();
  }
  tarPack.finalize();
}

/**
 * A Node.js Readable carrying the tar-stream pack (a streamx stream), with backpressure and a byte count. tar-stream
 * emits a chunk per header, body and padding; they are joined into chunks of up to COALESCE_BYTES so the consumer
 * (an HTTP request) is not handed tens of thousands of 512-byte writes.
 */
function nodeReadable(tarPack: Pack, counter: { bytes: number }): Readable {
  const output = new Readable({ highWaterMark: STREAM_HIGH_WATER_MARK, read: () => void tarPack.resume() });
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let flushScheduled = false;
  const flush = (): void => {
    flushScheduled = false;
    if (pendingBytes === 0 || output.destroyed) return;
    const chunk = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    if (!output.push(chunk)) tarPack.pause();
  };
  tarPack.on('data', (chunk: unknown) => {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    counter.bytes += buffer.length;
    pending.push(buffer);
    pendingBytes += buffer.length;
    if (pendingBytes >= COALESCE_BYTES) flush();
    else if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  });
  tarPack.on('end', () => {
    flush();
    output.push(null);
  });
  tarPack.on('error', (error: Error) => output.destroy(error));
  return output;
}

function summarize(plan: ContextPlan, tally: PackTally, bytes: number): ContextSummary {
  const { ignored, files, hardlinks, directories, symlinks, special, entries, contentBytes } = tally;
  return { dockerfile: plan.dockerfile, files, hardlinks, directories, symlinks, special, entries, contentBytes, bytes, ignored };
}

/**
 * Packs the context into the tar stream `docker build` would send, lazily: the walk advances only as fast as the
 * stream is read. Resolution errors (context or Dockerfile missing, bad .dockerignore pattern) come before the first
 * byte; read errors come before the header of the file concerned. Every failure destroys the stream with an Error
 * naming the path and rejects `dockerfile`/`done` with it. The stream has a no-op 'error' listener so an unobserved
 * failure cannot crash the kernel: watch `done`.
 */
export function packContext(contextDir: string, options: PackContextOptions = {}): PackedContext {
  const tarPack = createTarPack();
  const counter = { bytes: 0 };
  const stream = nodeReadable(tarPack, counter);
  stream.on('error', noop);
  let closeReason: Error | null = null;
  const stop = (reason: Error): void => {
    closeReason ??= reason;
    if (!stream.destroyed) stream.destroy(reason);
    tarPack.destroy(reason);
  };
  stream.once('close', () => {
    if (stream.readableEnded) return;
    const cause = stream.errored === null ? '' : `: ${stream.errored.message}`;
    stop(new Error(`build context stream was closed before the whole context was sent${cause}`));
  });
  const onAbort = (): void => stop(new Error('sending the build context was aborted'));
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted === true) onAbort();

  const planned = planContext(contextDir, options);
  const tally = newPackTally();
  const fed = planned.then((plan) => feedPack(tarPack, plan, tally));
  const done = fed
    .then(() => finished(stream))
    .then(async () => summarize(await planned, tally, counter.bytes))
    .catch((error: unknown) => {
      const reason = closeReason ?? (error instanceof Error ? error : new Error(String(error)));
      stop(reason);
      throw reason;
    })
    .finally(() => options.signal?.removeEventListener('abort', onAbort));
  done.catch(noop);
  const dockerfile = planned.then((plan) => plan.dockerfile);
  dockerfile.catch(noop);
  return { stream, dockerfile, done };
}

// ---------------------------------------------------------------------------------------------------------------
// Reporting

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
