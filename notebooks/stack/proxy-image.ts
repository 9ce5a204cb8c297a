// The local proxy image opsbook/haproxy:local, made with `docker import` (no registry is reachable: never `docker
// pull`): Debian's haproxy binary, fetched with `apt-get download` and unpacked with `dpkg -x` (installing the package
// would start Debian's haproxy service), plus the libraries `ldd` lists and the dynamic loader. No shell in the image.
// Libraries the host lacks come from the Debian packages haproxy depends on, downloaded and unpacked the same way.
// The image carries the hash of everything that went into it, so an unchanged recipe is not re-imported. The engine
// (20.10) rejects STOPSIGNAL in an import: whoever creates the proxy container gives StopSignal SIGUSR1 (a soft stop).
// Self-contained (node builtins, tar-stream and the docker CLI) so it can later be merged with the base-image code.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, writeSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';

export const PROXY_IMAGE = 'opsbook/haproxy:local';
/** Label on the image: the hash of every file and instruction that went into it. */
export const PROXY_IMAGE_LABEL = 'opsbook.proxy-image';
/** Where the proxy's configuration lives in the image (the official haproxy image uses the same folder). */
export const PROXY_CONFIG_DIR = '/usr/local/etc/haproxy';

/** Bump when the layout below changes, so an existing image is re-imported. */
const RECIPE_VERSION = 'opsbook-haproxy-v1';
const HAPROXY_IN_PACKAGE = '/usr/sbin/haproxy';
const IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** How deep the walk over haproxy's Depends goes for packages the host lacks (lua, opentracing and theirs). */
const MAX_DEPENDENCY_DEPTH = 3;

interface ImageFile {
  /** Path inside the image. */
  path: string;
  /** The file to copy (symlinks followed). */
  source: string;
  mode: number;
}

function exec(file: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd: options.cwd, env: options.env, timeout: options.timeoutMs ?? 120_000, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(' ')} failed: ${`${stdout}${stderr}`.trim().split('\n').slice(-10).join('\n') || error.message}`));
      else resolve(stdout);
    });
  });
}

function installedOnHost(pkg: string): Promise<boolean> {
  return exec('dpkg-query', ['-W', '-f=${Status}', pkg]).then((status) => status.includes('install ok installed'), () => false);
}

/** Package names of a .deb's Depends (first alternative of each, versions dropped). */
async function dependsOf(deb: string): Promise<string[]> {
  const depends = await exec('dpkg-deb', ['-f', deb, 'Depends']);
  return depends.split(',').map((d) => d.split('|')[0].trim().split(/[\s(:]/)[0]).filter((d) => d !== '');
}

/**
 * `apt-get download` of haproxy and of the dependencies the host lacks, each unpacked with `dpkg -x` into
 * `<dir>/root`. Returns the unpacked root and the .deb files (their names carry the versions).
 */
export async function downloadAndExtract(dir: string): Promise<{ root: string; debs: string[] }> {
  const root = path.join(dir, 'root');
  const seen = new Set<string>();
  const debs: string[] = [];
  let wanted = ['haproxy'];
  for (let depth = 0; wanted.length > 0 && depth <= MAX_DEPENDENCY_DEPTH; depth += 1) {
    for (const pkg of wanted) seen.add(pkg);
    const before = new Set(readdirSync(dir));
    // one apt-get per level of the walk: most of its time is starting up, not downloading
    await exec('apt-get', ['download', '-q', ...wanted], { cwd: dir });
    const fetched = readdirSync(dir).filter((f) => f.endsWith('.deb') && !before.has(f));
    if (fetched.length !== wanted.length) throw new Error(`apt-get download ${wanted.join(' ')} wrote ${fetched.length} .deb files into ${dir}`);
    const next: string[] = [];
    for (const deb of fetched) {
      debs.push(deb);
      await exec('dpkg', ['-x', path.join(dir, deb), root]);
      for (const dep of await dependsOf(path.join(dir, deb))) {
        if (!seen.has(dep) && !next.includes(dep) && !(await installedOnHost(dep))) next.push(dep);
      }
    }
    wanted = next;
  }
  return { root, debs: debs.sort() };
}

/** Folders of the unpacked root that hold shared libraries, for LD_LIBRARY_PATH while ldd looks. */
function libraryDirs(root: string): string[] {
  return ['lib', 'usr/lib', 'lib/x86_64-linux-gnu', 'usr/lib/x86_64-linux-gnu', 'lib/aarch64-linux-gnu', 'usr/lib/aarch64-linux-gnu']
    .map((d) => path.join(root, d))
    .filter((d) => existsSync(d));
}

/**
 * The libraries and the dynamic loader `ldd` lists for the unpacked binary (vdso excluded), each at the path the
 * loader looks for it in the image: a library found in the unpacked root goes to its place relative to that root.
 */
export async function collectLibraries(binary: string, root: string): Promise<ImageFile[]> {
  const dirs = libraryDirs(root);
  const output = await exec('ldd', [binary], { env: { ...process.env, LD_LIBRARY_PATH: dirs.join(':') } });
  const files = new Map<string, ImageFile>();
  for (const line of output.split('\n')) {
    if (/=>\s+not found/.test(line)) throw new Error(`ldd ${binary}: ${line.trim()} (neither on the host nor in the downloaded packages)`);
    const found = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(0x/.exec(line);
    if (!found) continue;
    const source = found[1];
    const inRoot = source.startsWith(`${root}/`);
    // in the image, a library from the unpacked root sits at /usr/lib/... as the package ships it; the loader's
    // default paths find it there, as they find the host's libraries at the paths ldd printed
    const imagePath = inRoot ? `/${path.relative(root, source)}` : source;
    files.set(imagePath, { path: imagePath, source: realpathSync(source), mode: 0o755 });
  }
  return [...files.values()].sort((a, b) => a.path.localeCompare(b.path));
}

interface ProxyRecipe {
  files: ImageFile[];
  texts: Array<{ path: string; text: string }>;
  dirs: Array<{ path: string; mode: number }>;
  changes: string[];
}

function proxyRecipe(binary: string, libraries: ImageFile[]): ProxyRecipe {
  return {
    files: [{ path: '/usr/sbin/haproxy', source: binary, mode: 0o755 }, ...libraries],
    texts: [
      { path: '/etc/passwd', text: 'root:x:0:0:root:/root:/usr/sbin/nologin\nhaproxy:x:99:99:haproxy:/var/lib/haproxy:/usr/sbin/nologin\n' },
      { path: '/etc/group', text: 'root:x:0:\nhaproxy:x:99:\n' },
      // servers are named by container: libc must ask Docker's DNS (127.0.0.11, in the resolv.conf Docker mounts)
      { path: '/etc/nsswitch.conf', text: 'passwd: files\ngroup: files\nhosts: files dns\n' },
    ],
    dirs: [{ path: '/tmp', mode: 0o1777 }, { path: '/run', mode: 0o755 }, { path: '/var/lib/haproxy', mode: 0o755 }, { path: PROXY_CONFIG_DIR, mode: 0o755 }],
    changes: [`ENV PATH=${IMAGE_PATH}`, 'ENTRYPOINT ["/usr/sbin/haproxy"]', `CMD ["-W", "-db", "-f", "${PROXY_CONFIG_DIR}/haproxy.cfg"]`],
  };
}

async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/** The hash of everything in the recipe (file contents included): the image's label. */
export async function recipeHash(recipe: ProxyRecipe): Promise<string> {
  const hash = createHash('sha256').update(RECIPE_VERSION);
  for (const f of recipe.files) hash.update(`\0${f.path}\0${f.mode}\0${await sha256OfFile(f.source)}`);
  for (const t of recipe.texts) hash.update(`\0${t.path}\0${t.text}`);
  for (const d of recipe.dirs) hash.update(`\0${d.path}\0${d.mode}`);
  for (const c of recipe.changes) hash.update(`\0${c}`);
  return hash.digest('hex').slice(0, 32);
}

/** Every parent folder of the recipe's paths, parents first. */
function parentDirs(recipe: ProxyRecipe): string[] {
  const dirs = new Set<string>();
  for (const p of [...recipe.files.map((f) => f.path), ...recipe.texts.map((t) => t.path), ...recipe.dirs.map((d) => d.path)]) {
    for (let d = path.posix.dirname(p); d !== '/'; d = path.posix.dirname(d)) dirs.add(d);
  }
  return [...dirs].sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b));
}

/** The root filesystem as a tar (root-owned, fixed mtime). */
async function writeTar(recipe: ProxyRecipe, tarFile: string): Promise<void> {
  const pack = tar.pack();
  const done = pipeline(pack, createWriteStream(tarFile));
  const common = { mtime: new Date(0), uid: 0, gid: 0, uname: '', gname: '', linkname: '', size: 0, devmajor: 0, devminor: 0 };
  const add = (header: tar.Header, body?: Buffer): Promise<void> =>
    new Promise((resolve, reject) => { pack.entry(header, body ?? Buffer.alloc(0), (e) => (e ? reject(e) : resolve())); });
  const explicit = new Map(recipe.dirs.map((d) => [d.path, d.mode]));
  for (const dir of parentDirs(recipe)) if (!explicit.has(dir)) await add({ ...common, name: `${dir.slice(1)}/`, type: 'directory', mode: 0o755 });
  for (const d of recipe.dirs) await add({ ...common, name: `${d.path.slice(1)}/`, type: 'directory', mode: d.mode });
  for (const t of recipe.texts) await add({ ...common, name: t.path.slice(1), type: 'file', mode: 0o644, size: Buffer.byteLength(t.text) }, Buffer.from(t.text));
  for (const f of recipe.files) {
    await new Promise<void>((resolve, reject) => {
      const sink = pack.entry({ ...common, name: f.path.slice(1), type: 'file', mode: f.mode, size: statSync(f.source).size }, (e) => (e ? reject(e) : resolve()));
      createReadStream(f.source).on('error', reject).pipe(sink);
    });
  }
  pack.finalize();
  await done;
}

/** The id and hash label of the image with that tag, if there is one. */
async function existingImage(tag: string): Promise<{ id: string; hash: string } | undefined> {
  try {
    const out = await exec('docker', ['image', 'inspect', '--format', `{{.Id}} {{index .Config.Labels "${PROXY_IMAGE_LABEL}"}}`, tag], { timeoutMs: 15_000 });
    const [id, hash = ''] = out.trim().split(' ');
    return { id, hash };
  } catch {
    return undefined;
  }
}

/** `docker import` of the recipe as `tag`, labelled with its hash; the replaced image is removed when unused. */
export async function importImage(recipe: ProxyRecipe, hash: string, tag: string, dir: string): Promise<void> {
  const tarFile = path.join(dir, 'rootfs.tar');
  await writeTar(recipe, tarFile);
  const changes = [...recipe.changes, `LABEL ${PROXY_IMAGE_LABEL}=${hash}`].flatMap((c) => ['--change', c]);
  const previous = await existingImage(tag);
  await exec('docker', ['import', ...changes, '--message', `${RECIPE_VERSION} ${hash}`, tarFile, tag], { timeoutMs: 180_000 });
  if (previous && previous.hash !== hash) await exec('docker', ['image', 'rm', previous.id]).catch(() => undefined);
}

/** Runs fn holding a lock file shared by every process of this machine (jest workers, the demo). */
async function withMachineLock<T>(fn: () => Promise<T>): Promise<T> {
  const lock = path.join(os.tmpdir(), 'opsbook-proxy-image.lock');
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = Number(readFileSync(lock, 'utf8') || 0);
      let gone = false;
      try {
        if (owner > 0) process.kill(owner, 0);
      } catch (err) {
        gone = (err as NodeJS.ErrnoException).code === 'ESRCH';
      }
      if (gone) rmSync(lock, { force: true });
      else if (Date.now() > deadline) throw new Error(`${lock} still held after 300 s (remove it if nothing builds the proxy image)`);
      else await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

let ensured: Promise<string> | undefined;

/**
 * Makes opsbook/haproxy:local unless an image with that tag and the recipe's hash exists; returns the tag. Without
 * network (apt-get download fails) an existing image of that tag is kept.
 */
export function ensureProxyImage(): Promise<string> {
  ensured ??= withMachineLock(async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'opsbook-haproxy-'));
    try {
      let unpacked: { root: string };
      try {
        unpacked = await downloadAndExtract(dir);
      } catch (e) {
        if (await existingImage(PROXY_IMAGE)) return PROXY_IMAGE;
        throw e;
      }
      const binary = path.join(unpacked.root, HAPROXY_IN_PACKAGE);
      const recipe = proxyRecipe(binary, await collectLibraries(binary, unpacked.root));
      const hash = await recipeHash(recipe);
      if ((await existingImage(PROXY_IMAGE))?.hash !== hash) await importImage(recipe, hash, PROXY_IMAGE, dir);
      return PROXY_IMAGE;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  ensured.catch(() => { ensured = undefined; });
  return ensured;
}

if (require.main === module) {
  ensureProxyImage().then((tag) => console.log(tag), (e: Error) => { console.error(e.message); process.exit(1); });
}
