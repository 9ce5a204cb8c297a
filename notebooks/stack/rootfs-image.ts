// The one way the local stack makes images without a registry: a root filesystem described as entries (host files,
// texts, folders, symlinks; typically a host binary plus the libraries `ldd` lists for it), written as a tar and
// brought in with `docker import`. The image carries a label whose value is the hash of everything that went into it,
// so an unchanged recipe is not imported again. Used by base-images.ts (busybox, node) and proxy-image.ts (haproxy).
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdtempSync, realpathSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { docker, run } from './commands';

export type RootfsEntry =
  | { kind: 'dir'; path: string; mode: number; uid?: number; gid?: number }
  | { kind: 'file'; path: string; mode: number; hostPath: string }
  | { kind: 'text'; path: string; mode: number; text: string }
  | { kind: 'symlink'; path: string; target: string };

export interface ImageRecipe {
  tag: string;
  /** Every entry of the root filesystem; parents are added by withParents(). */
  entries: RootfsEntry[];
  /** Dockerfile-style instructions for `docker import --change`, without the LABEL carrying the hash. */
  changes: string[];
  /** The label whose value is the recipe's hash. */
  hashLabel: string;
  /** Bumped by the recipe's owner when its layout changes, so existing images are imported again. */
  version: string;
}

function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  return pipeline(createReadStream(file), hash).then(() => hash.digest('hex'));
}

/** Hash of the recipe: its version, every entry (file contents included) and every change. */
export async function recipeHash(recipe: ImageRecipe): Promise<string> {
  const hash = createHash('sha256').update(recipe.version).update('\0');
  for (const entry of recipe.entries) {
    const content = entry.kind === 'file' ? await sha256OfFile(entry.hostPath) : entry.kind === 'text' ? entry.text : '';
    hash.update(JSON.stringify({ ...entry, hostPath: undefined, content })).update('\0');
  }
  for (const change of recipe.changes) hash.update(change).update('\0');
  return hash.digest('hex').slice(0, 32);
}

/** Adds a dir entry for every missing parent of every path, and orders parents before children. */
export function withParents(entries: RootfsEntry[]): RootfsEntry[] {
  const byPath = new Map<string, RootfsEntry>();
  for (const entry of entries) byPath.set(entry.path, entry);
  for (const entry of entries) {
    for (let dir = path.posix.dirname(entry.path); dir !== '/'; dir = path.posix.dirname(dir)) {
      if (!byPath.has(dir)) byPath.set(dir, { kind: 'dir', path: dir, mode: 0o755 });
    }
  }
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Folders of an unpacked package root that hold shared libraries, for LD_LIBRARY_PATH while ldd looks. */
function libraryDirs(root: string): string[] {
  return ['lib', 'usr/lib', 'lib/x86_64-linux-gnu', 'usr/lib/x86_64-linux-gnu', 'lib/aarch64-linux-gnu', 'usr/lib/aarch64-linux-gnu']
    .map((d) => path.join(root, d))
    .filter((d) => existsSync(d));
}

/**
 * The libraries and the dynamic loader `ldd` lists for `binary` (vdso excluded), each as a file entry at the path the
 * loader looks for it in the image, symlinks followed. With `unpackedRoot` (packages unpacked with `dpkg -x`), ldd
 * also looks there, and a library found there goes to its place relative to that root (/usr/lib/..., as the package
 * ships it), where the loader's default paths find it.
 */
export async function libraryEntries(binary: string, unpackedRoot?: string): Promise<RootfsEntry[]> {
  const env = unpackedRoot ? { ...process.env, LD_LIBRARY_PATH: libraryDirs(unpackedRoot).join(':') } : undefined;
  const { stdout } = await run('ldd', [binary], { timeoutMs: 10_000, env });
  const entries = new Map<string, RootfsEntry>();
  for (const line of stdout.split('\n')) {
    if (/=>\s+not found/.test(line)) throw new Error(`ldd ${binary}: ${line.trim()}${unpackedRoot ? ' (neither on the host nor in the downloaded packages)' : ''}`);
    const found = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(0x/.exec(line);
    if (!found) continue;
    const source = found[1];
    const imagePath = unpackedRoot && source.startsWith(`${unpackedRoot}/`) ? `/${path.relative(unpackedRoot, source)}` : source;
    entries.set(imagePath, { kind: 'file', path: imagePath, mode: 0o755, hostPath: realpathSync(source) });
  }
  return [...entries.values()].sort((a, b) => a.path.localeCompare(b.path));
}

/** Writes the entries as a tar (owners and modes as given, fixed mtime; host files with symlinks followed). */
async function writeRootfsTar(entries: RootfsEntry[], tarFile: string): Promise<void> {
  const pack = tar.pack();
  const written = pipeline(pack, createWriteStream(tarFile));
  const mtime = new Date(0);
  const add = (header: tar.Header, body: string | Buffer): Promise<void> =>
    new Promise((resolve, reject) => { pack.entry(header, body, (error) => (error ? reject(error) : resolve())); });
  for (const entry of entries) {
    const common = { name: entry.path.replace(/^\//, ''), mtime, uid: 0, gid: 0, uname: '', gname: '', linkname: '', size: 0, devmajor: 0, devminor: 0 };
    if (entry.kind === 'dir') await add({ ...common, name: `${common.name}/`, type: 'directory', mode: entry.mode, uid: entry.uid ?? 0, gid: entry.gid ?? 0 }, '');
    else if (entry.kind === 'symlink') await add({ ...common, type: 'symlink', linkname: entry.target, mode: 0o777 }, '');
    else if (entry.kind === 'text') await add({ ...common, type: 'file', mode: entry.mode }, Buffer.from(entry.text));
    else await addHostFile(pack, { ...common, type: 'file', mode: entry.mode, size: statSync(entry.hostPath).size }, entry.hostPath);
  }
  pack.finalize();
  await written;
}

/** Streams a host file into the tar as one entry. */
function addHostFile(pack: tar.Pack, header: tar.Header, hostPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const sink = pack.entry(header, (error) => (error ? reject(error) : resolve()));
    createReadStream(hostPath).on('error', reject).pipe(sink);
  });
}

/** The id of the image with that tag and the value of its hash label, or undefined when there is no such image. */
export async function importedImage(tag: string, hashLabel: string): Promise<{ id: string; hash: string } | undefined> {
  try {
    const { stdout } = await docker(['image', 'inspect', '--format', `{{.Id}} {{index .Config.Labels "${hashLabel}"}}`, tag], 15_000);
    const [id, hash = ''] = stdout.trim().split(' ');
    return { id, hash };
  } catch {
    return undefined;
  }
}

/**
 * Imports the recipe as its tag unless an image with that tag and the recipe's hash exists; an older image with that
 * tag is removed if nothing uses it. Returns whether it imported.
 */
export async function ensureImported(recipe: ImageRecipe): Promise<boolean> {
  const entries = withParents(recipe.entries);
  const hash = await recipeHash({ ...recipe, entries });
  const existing = await importedImage(recipe.tag, recipe.hashLabel);
  if (existing?.hash === hash) return false;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'opsbook-rootfs-'));
  try {
    const tarFile = path.join(dir, 'rootfs.tar');
    await writeRootfsTar(entries, tarFile);
    const changes = [...recipe.changes, `LABEL ${recipe.hashLabel}=${hash}`].flatMap((change) => ['--change', change]);
    await docker(['import', ...changes, '--message', `${recipe.version} ${hash}`, tarFile, recipe.tag], 180_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (existing) await docker(['image', 'rm', existing.id], 30_000).catch(() => undefined);
  return true;
}
