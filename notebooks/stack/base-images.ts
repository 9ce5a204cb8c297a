// The two local base images, made with `docker import` (no registry is reachable: never `docker pull`):
// opsbook/busybox:local from busybox-static, and opsbook/node:local from the host's node binary plus the libraries
// ldd lists. Each image carries the hash of everything that went into it, so an unchanged recipe is not re-imported.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdtempSync, realpathSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { docker, run } from './commands';
import { withHostLock } from './host-lock';

export const BUSYBOX_IMAGE = 'opsbook/busybox:local';
export const NODE_IMAGE = 'opsbook/node:local';
/** Label on both base images; its value is the hash of everything that went into the image. */
export const BASE_LABEL = 'opsbook.base';
export const HOST_BUSYBOX = '/usr/bin/busybox';

/** Bump when the layout below changes, so existing base images are re-imported. */
const RECIPE_VERSION = 'opsbook-base-v1';
const IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Applets the images must have; the images get every applet `busybox --list` names. */
const REQUIRED_APPLETS = ['sh', 'ls', 'cat', 'echo', 'wget', 'sleep', 'env', 'nc', 'httpd', 'true', 'false', 'id', 'ps', 'kill'];
const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

// ---------------------------------------------------------------------------------------------------------------
// Root filesystems, described as entries, hashed, and written as a tar for `docker import`

type RootfsEntry =
  | { kind: 'dir'; path: string; mode: number; uid?: number; gid?: number }
  | { kind: 'file'; path: string; mode: number; hostPath: string }
  | { kind: 'text'; path: string; mode: number; text: string }
  | { kind: 'symlink'; path: string; target: string };

interface ImageRecipe {
  tag: string;
  entries: RootfsEntry[];
  /** Dockerfile-style instructions for `docker import --change`, without the LABEL carrying the hash. */
  changes: string[];
}

function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  return pipeline(createReadStream(file), hash).then(() => hash.digest('hex'));
}

/** Hash of the recipe: every entry (file contents included) and every change. */
async function recipeHash(recipe: ImageRecipe): Promise<string> {
  const hash = createHash('sha256').update(RECIPE_VERSION).update('\0');
  for (const entry of recipe.entries) {
    const content = entry.kind === 'file' ? await sha256OfFile(entry.hostPath) : entry.kind === 'text' ? entry.text : '';
    hash.update(JSON.stringify({ ...entry, hostPath: undefined, content })).update('\0');
  }
  for (const change of recipe.changes) hash.update(change).update('\0');
  return hash.digest('hex').slice(0, 32);
}

/** Writes the entries as a tar (owners and modes as given; host files with symlinks followed). */
async function writeRootfsTar(entries: RootfsEntry[], tarFile: string): Promise<void> {
  const pack = tar.pack();
  const output = createWriteStream(tarFile);
  const written = new Promise<void>((resolve, reject) => {
    output.on('close', resolve).on('error', reject);
    pack.on('error', reject);
  });
  pack.pipe(output);
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

/** Adds a dir entry for every missing parent of every path, and orders parents before children. */
function withParents(entries: RootfsEntry[]): RootfsEntry[] {
  const byPath = new Map<string, RootfsEntry>();
  for (const entry of entries) byPath.set(entry.path, entry);
  for (const entry of entries) {
    for (let dir = path.posix.dirname(entry.path); dir !== '/'; dir = path.posix.dirname(dir)) {
      if (!byPath.has(dir)) byPath.set(dir, { kind: 'dir', path: dir, mode: 0o755 });
    }
  }
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The applets the host's busybox was built with. */
async function busyboxApplets(): Promise<string[]> {
  const { stdout } = await run(HOST_BUSYBOX, ['--list'], { timeoutMs: 5000 });
  const applets = stdout.split('\n').map((a) => a.trim()).filter((a) => /^[\w.[-]+$/.test(a) && a !== 'busybox');
  const missing = REQUIRED_APPLETS.filter((a) => !applets.includes(a));
  if (missing.length > 0) throw new Error(`${HOST_BUSYBOX} lacks the applets ${missing.join(', ')}`);
  return applets.sort();
}

/** Throws unless HOST_BUSYBOX exists and is statically linked (it must run in an image without libc). */
async function checkStaticBusybox(): Promise<void> {
  if (!existsSync(HOST_BUSYBOX)) throw new Error(`${HOST_BUSYBOX} not found: install the Debian package busybox-static (notebooks/stack/install-system-deps.sh does it)`);
  const ldd = await run('ldd', [HOST_BUSYBOX], { timeoutMs: 5000 }).then((r) => r.stdout, (error: Error) => error.message);
  if (!/not a dynamic executable|statically linked/.test(ldd)) throw new Error(`${HOST_BUSYBOX} is dynamically linked: install busybox-static instead of busybox`);
}

/** busybox at /bin/busybox plus /bin/<applet> symlinks. */
function busyboxEntries(applets: string[]): RootfsEntry[] {
  return [
    { kind: 'file', path: '/bin/busybox', mode: 0o755, hostPath: HOST_BUSYBOX },
    ...applets.map((applet): RootfsEntry => ({ kind: 'symlink', path: `/bin/${applet}`, target: 'busybox' })),
  ];
}

interface ImageUser {
  name: string;
  /** Also the id of the user's group, which has the same name. */
  uid: number;
  home: string;
  /** Create the home folder, owned by the user. */
  makeHome: boolean;
}

/** /tmp (1777), /etc/passwd, /etc/group and /etc/nsswitch.conf for the given users, and their home folders. */
function baseSystemEntries(users: ImageUser[]): RootfsEntry[] {
  const passwd = users.map((u) => `${u.name}:x:${u.uid}:${u.uid}:${u.name}:${u.home}:/bin/sh\n`).join('');
  const group = users.map((u) => `${u.name}:x:${u.uid}:\n`).join('');
  return [
    { kind: 'dir', path: '/tmp', mode: 0o1777 },
    { kind: 'text', path: '/etc/passwd', mode: 0o644, text: passwd },
    { kind: 'text', path: '/etc/group', mode: 0o644, text: group },
    { kind: 'text', path: '/etc/nsswitch.conf', mode: 0o644, text: 'passwd: files\ngroup: files\nhosts: files dns\n' },
    ...users.filter((u) => u.makeHome).map((u): RootfsEntry => ({ kind: 'dir', path: u.home, mode: u.uid === 0 ? 0o700 : 0o755, uid: u.uid, gid: u.uid })),
  ];
}

/** The libraries (and dynamic loader) `ldd` lists for a binary, as absolute paths; vdso excluded. */
async function sharedLibraries(binary: string): Promise<string[]> {
  const { stdout } = await run('ldd', [binary], { timeoutMs: 10000 });
  const libraries = new Set<string>();
  for (const line of stdout.split('\n')) {
    const resolved = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(0x/.exec(line);
    if (resolved) libraries.add(resolved[1]);
    else if (/=>\s+not found/.test(line)) throw new Error(`ldd ${binary}: ${line.trim()}`);
  }
  return [...libraries].sort();
}

function busyboxRecipe(applets: string[]): ImageRecipe {
  const users = [{ name: 'root', uid: 0, home: '/root', makeHome: true }, { name: 'nobody', uid: 65534, home: '/nonexistent', makeHome: false }];
  const entries = withParents([...busyboxEntries(applets), ...baseSystemEntries(users)]);
  return { tag: BUSYBOX_IMAGE, entries, changes: [`ENV PATH=${IMAGE_PATH}`, 'CMD ["sh"]'] };
}

async function nodeRecipe(applets: string[]): Promise<ImageRecipe> {
  const nodeBinary = realpathSync(process.execPath);
  const libraries = await sharedLibraries(nodeBinary);
  const entries: RootfsEntry[] = [
    { kind: 'file', path: '/usr/local/bin/node', mode: 0o755, hostPath: nodeBinary },
    // Each library at the path ldd resolved it to (the loader finds them there), symlinks followed.
    ...libraries.map((lib): RootfsEntry => ({ kind: 'file', path: lib, mode: 0o755, hostPath: realpathSync(lib) })),
    ...busyboxEntries(applets),
    ...baseSystemEntries([{ name: 'root', uid: 0, home: '/root', makeHome: true }, { name: 'node', uid: 1000, home: '/home/node', makeHome: true }]),
  ];
  if (existsSync(HOST_CA_BUNDLE)) entries.push({ kind: 'file', path: HOST_CA_BUNDLE, mode: 0o644, hostPath: realpathSync(HOST_CA_BUNDLE) });
  const changes = [`ENV PATH=${IMAGE_PATH}`, `ENV NODE_VERSION=${process.version.slice(1)}`, 'CMD ["node"]'];
  return { tag: NODE_IMAGE, entries: withParents(entries), changes };
}

/** The value of the base label on the image with that tag, or undefined when there is no such image. */
async function baseLabelOf(tag: string): Promise<{ id: string; hash: string } | undefined> {
  try {
    const { stdout } = await docker(['image', 'inspect', '--format', `{{.Id}} {{index .Config.Labels "${BASE_LABEL}"}}`, tag], 15000);
    const [id, hash = ''] = stdout.trim().split(' ');
    return { id, hash };
  } catch {
    return undefined;
  }
}

/** Imports the recipe unless an image with its tag and hash exists; an older image with that tag is removed if unused. */
async function importImage(recipe: ImageRecipe): Promise<void> {
  const hash = await recipeHash(recipe);
  const existing = await baseLabelOf(recipe.tag);
  if (existing?.hash === hash) return;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'opsbook-rootfs-'));
  try {
    const tarFile = path.join(dir, 'rootfs.tar');
    await writeRootfsTar(recipe.entries, tarFile);
    const changes = [...recipe.changes, `LABEL ${BASE_LABEL}=${hash}`].flatMap((change) => ['--change', change]);
    await docker(['import', ...changes, '--message', `${RECIPE_VERSION} ${hash}`, tarFile, recipe.tag], 180000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (existing) await docker(['image', 'rm', existing.id], 30000).catch(() => undefined);
}

let baseImages: Promise<{ busybox: string; node: string }> | undefined;

/** Creates opsbook/busybox:local and opsbook/node:local with `docker import` when missing or out of date; returns their tags. */
export function ensureBaseImages(): Promise<{ busybox: string; node: string }> {
  baseImages ??= withHostLock('base-images', async () => {
    await checkStaticBusybox();
    const applets = await busyboxApplets();
    await importImage(busyboxRecipe(applets));
    await importImage(await nodeRecipe(applets));
    return { busybox: BUSYBOX_IMAGE, node: NODE_IMAGE };
  });
  baseImages.catch(() => { baseImages = undefined; });
  return baseImages;
}
