// Candidates for completion inside strings: module names (Node builtins, packages in the notebook's and
// opsbook's node_modules, paths inside a package) and file paths relative to cwd or home.
import { existsSync, readFileSync, readdirSync, statSync, Dirent } from 'node:fs';
import { builtinModules, isBuiltin } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { attempt } from './attempt';

/** Where complete() looks up module names and file paths. */
export interface CompleteOptions {
  /** Where relative paths and the notebook's node_modules are looked up (default: process.cwd()). */
  cwd?: string;
  /** What `~/` means (default: os.homedir()). */
  home?: string;
  /** opsbook's own node_modules (default: found from this file; null: none). */
  kernelModules?: string | null;
}

/** Bound on what a reply carries, whatever the notebook holds. */
const MAX_PATH_ENTRIES = 5000;

function isDirectory(dir: string, entry: Dirent): boolean {
  if (entry.isDirectory()) return true;
  if (!entry.isSymbolicLink()) return false;
  return attempt(() => statSync(path.join(dir, entry.name), { throwIfNoEntry: false })?.isDirectory() === true, false);
}

function entries(dir: string): Dirent[] {
  return attempt(() => readdirSync(dir, { withFileTypes: true }), [] as Dirent[]);
}

let ownModules: string | null | undefined;

/** The node_modules next to opsbook's own package.json (its dependencies), if there is one. */
export function kernelNodeModules(): string | undefined {
  if (ownModules === undefined) {
    ownModules = null;
    for (let dir = __dirname; ; dir = path.dirname(dir)) {
      const pkg = path.join(dir, 'package.json');
      if (existsSync(pkg)) {
        const name = attempt(() => (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name, undefined);
        if (name === 'opsbook') {
          ownModules = path.join(dir, 'node_modules');
          break;
        }
      }
      if (path.dirname(dir) === dir) break;
    }
  }
  return ownModules ?? undefined;
}

/** The node_modules folders a notebook in cwd resolves from (cwd and its parents), then opsbook's own. */
function moduleFolders(options: CompleteOptions): string[] {
  const folders: string[] = [];
  for (let dir = path.resolve(options.cwd ?? process.cwd()); ; dir = path.dirname(dir)) {
    if (path.basename(dir) !== 'node_modules') folders.push(path.join(dir, 'node_modules'));
    if (path.dirname(dir) === dir) break;
  }
  const own = options.kernelModules === undefined ? kernelNodeModules() : options.kernelModules ?? undefined;
  if (own) folders.push(own);
  return [...new Set(folders)];
}

/** Modules that exist only with the `node:` scheme (not in builtinModules on every Node version). */
const SCHEME_ONLY = ['node:sea', 'node:sqlite', 'node:test', 'node:test/reporters'];

export function builtinNames(prefix: string, out: Set<string>): void {
  for (const name of builtinModules) {
    if (name.startsWith('_') && !prefix.startsWith('_')) continue; // Node's internal _stream_*, _http_* aliases
    for (const id of name.startsWith('node:') ? [name] : [name, `node:${name}`]) if (id.startsWith(prefix)) out.add(id);
  }
  if ('node:'.startsWith(prefix) || prefix.startsWith('node:')) for (const id of SCHEME_ONLY) if (id.startsWith(prefix) && isBuiltin(id)) out.add(id);
}

/** Package names (and, after `pkg/`, paths inside a package) that start with prefix. */
export function packageNames(prefix: string, options: CompleteOptions, out: Set<string>): void {
  const scoped = prefix.startsWith('@');
  const segments = prefix.split('/');
  const nameSegments = scoped ? 2 : 1;
  for (const folder of moduleFolders(options)) {
    if (segments.length > nameSegments) {
      // Inside a package: `lodash/fp/ma`, `@scope/pkg/lib/x`.
      const pkg = segments.slice(0, nameSegments).join('/');
      const sub = segments.slice(nameSegments, -1).join('/');
      const dir = path.join(folder, pkg, sub);
      const last = segments[segments.length - 1];
      for (const e of entries(dir)) {
        if (!e.name.startsWith(last) || e.name === 'node_modules' || (e.name.startsWith('.') && !last.startsWith('.'))) continue;
        out.add(`${[pkg, sub, e.name].filter(Boolean).join('/')}${isDirectory(dir, e) ? '/' : ''}`);
      }
      continue;
    }
    for (const e of entries(folder)) {
      if (e.name.startsWith('.') || !isDirectory(folder, e)) continue;
      if (e.name.startsWith('@')) {
        const scope = `${e.name}/`;
        if (!(scope.startsWith(prefix) || prefix.startsWith(scope))) continue;
        const scopeDir = path.join(folder, e.name);
        for (const p of entries(scopeDir)) {
          const id = `${scope}${p.name}`;
          if (!p.name.startsWith('.') && id.startsWith(prefix) && isDirectory(scopeDir, p)) out.add(id);
        }
      } else if (e.name.startsWith(prefix)) out.add(e.name);
    }
  }
}

export function looksLikePath(text: string): boolean {
  return text.startsWith('./') || text.startsWith('../') || text.startsWith('/') || text.startsWith('~/');
}

/** Entries of the folder a path-like text names, whose name starts with the text's last segment. */
export function pathEntries(text: string, options: CompleteOptions): string[] {
  const slash = text.lastIndexOf('/');
  const folder = text.slice(0, slash + 1);
  const last = text.slice(slash + 1);
  const dir = folder.startsWith('~/') ? path.join(options.home ?? os.homedir(), folder.slice(2)) : path.resolve(options.cwd ?? process.cwd(), folder);
  const out: string[] = [];
  for (const e of entries(dir)) {
    if (!e.name.startsWith(last) || (e.name.startsWith('.') && !last.startsWith('.'))) continue;
    out.push(isDirectory(dir, e) ? `${e.name}/` : e.name);
    if (out.length >= MAX_PATH_ENTRIES) break;
  }
  return out;
}
