// The real Docker engine for integration tests and the demo: checks that it answers, starts dockerd when it can
// (root, Debian's docker.io), and makes the two local base images with `docker import` (no registry is reachable,
// never `docker pull`): opsbook/busybox:local from busybox-static and opsbook/node:local from the host's node binary
// plus the libraries ldd lists. Also removes what tests created, by label. Everything goes through the docker CLI.
import { execFile, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, existsSync, mkdtempSync, openSync, readFileSync, realpathSync, rmSync, statSync, writeSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';

export const BUSYBOX_IMAGE = 'opsbook/busybox:local';
export const NODE_IMAGE = 'opsbook/node:local';
/** Label on both base images; its value is the hash of everything that went into the image. */
export const BASE_LABEL = 'opsbook.base';
export const DOCKERD_BIN = '/usr/sbin/dockerd';
export const HOST_BUSYBOX = '/usr/bin/busybox';
/** Where ensureDocker() sends the output of a dockerd it starts. */
export const DOCKERD_LOG = path.join(os.tmpdir(), 'opsbook-dockerd.log');

/** Bump when the layout below changes, so existing base images are re-imported. */
const RECIPE_VERSION = 'opsbook-base-v1';
const IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Applets the images must have; the images get every applet `busybox --list` names. */
const REQUIRED_APPLETS = ['sh', 'ls', 'cat', 'echo', 'wget', 'sleep', 'env', 'nc', 'httpd', 'true', 'false', 'id', 'ps', 'kill'];
const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const DOCKER_INFO_TIMEOUT_MS = 5000;
const DOCKERD_START_TIMEOUT_MS = 30000;

export interface CommandResult {
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  timeoutMs?: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/** Runs a command without a shell; rejects with the command line, exit status and output tail. */
export function run(file: string, args: string[], options: RunOptions = {}): Promise<CommandResult> {
  const timeout = options.timeoutMs ?? 60000;
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout, cwd: options.cwd, env: options.env, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (!error) return resolve({ stdout, stderr });
      const status = error.killed ? `killed after ${timeout} ms` : `exit ${String(error.code ?? error.signal)}`;
      reject(new Error(`${file} ${args.join(' ')} failed (${status}):\n${tail(`${stdout}${stderr}`) || error.message}`));
    });
  });
}

export function docker(args: string[], timeoutMs = 60000): Promise<CommandResult> {
  return run('docker', args, { timeoutMs });
}

export function tail(text: string, lines = 30): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------------------------------
// The engine

/** True when the docker CLI exists and `docker info` answers within a few seconds. */
export function dockerAvailable(): boolean {
  const info = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: DOCKER_INFO_TIMEOUT_MS, stdio: 'ignore' });
  return info.error === undefined && info.status === 0;
}

/** True when the engine is not running but ensureDocker() could start it (root, dockerd and the CLI installed, local socket). */
export function dockerStartable(): boolean {
  const localHost = process.env.DOCKER_HOST === undefined || process.env.DOCKER_HOST === '' || process.env.DOCKER_HOST === 'unix:///var/run/docker.sock';
  return localHost && process.getuid?.() === 0 && existsSync(DOCKERD_BIN) && dockerCliPresent();
}

function dockerCliPresent(): boolean {
  const version = spawnSync('docker', ['--version'], { timeout: DOCKER_INFO_TIMEOUT_MS, stdio: 'ignore' });
  return version.error === undefined && version.status === 0;
}

export interface EnsureDockerOptions {
  /** Where a dockerd this starts writes its output (appended); default DOCKERD_LOG. */
  log?: string;
}

/** What ensureDocker() did: the pid of the dockerd it started, or undefined when an engine already answered. */
export interface EnsuredDocker {
  startedPid: number | undefined;
}

/**
 * Makes sure the engine answers: starts dockerd (detached, appending to DOCKERD_LOG or options.log) when it can,
 * else throws why not.
 */
export async function ensureDocker(options: EnsureDockerOptions = {}): Promise<EnsuredDocker> {
  if (dockerAvailable()) return { startedPid: undefined };
  if (!dockerStartable()) throw new Error(dockerUnavailableMessage());
  const logFile = options.log ?? DOCKERD_LOG;
  return withHostLock('dockerd', async () => {
    if (dockerAvailable()) return { startedPid: undefined };
    const logFd = openSync(logFile, 'a');
    let exited: string | undefined;
    let pid: number | undefined;
    try {
      const dockerd = spawn(DOCKERD_BIN, [], { detached: true, stdio: ['ignore', logFd, logFd] });
      pid = dockerd.pid;
      dockerd.on('exit', (code, signal) => { exited = `exited (${code ?? signal})`; });
      dockerd.on('error', (error) => { exited = `failed to start (${error.message})`; });
      dockerd.unref();
    } finally {
      closeSync(logFd);
    }
    const deadline = Date.now() + DOCKERD_START_TIMEOUT_MS;
    while (Date.now() < deadline && exited === undefined) {
      await sleep(500);
      if (dockerAvailable()) return { startedPid: pid };
    }
    const log = existsSync(logFile) ? tail(readFileSync(logFile, 'utf8'), 20) : '(no log)';
    const outcome = exited ?? `did not answer \`docker info\` within ${DOCKERD_START_TIMEOUT_MS / 1000} s`;
    throw new Error(`started ${DOCKERD_BIN}, which ${outcome}; the end of ${logFile}:\n${log}`);
  });
}

/** Why the engine cannot be used or started here, and what to install or run. */
export function dockerUnavailableMessage(): string {
  const reasons: string[] = [];
  if (!dockerCliPresent()) reasons.push('the docker CLI is not installed');
  else reasons.push('`docker info` does not answer');
  if (!existsSync(DOCKERD_BIN)) reasons.push(`${DOCKERD_BIN} is missing`);
  else if (process.getuid?.() !== 0) reasons.push('dockerd can only be started as root');
  if (process.env.DOCKER_HOST) reasons.push(`DOCKER_HOST=${process.env.DOCKER_HOST} is not the local socket`);
  const install = 'install the Debian package docker.io (apt-get install -y --no-install-recommends docker.io; test/support/install-system-deps.sh does it) and start `dockerd >/tmp/dockerd.log 2>&1 &` as root';
  const ci = process.env.CI === 'true' ? ' CI=true: Docker integration tests must run here, never skip.' : '';
  return `Docker engine not available: ${reasons.join(', ')}. To fix: ${install}.${ci}`;
}

// ---------------------------------------------------------------------------------------------------------------
// A lock shared by the jest workers (and the demo) of this machine

/** Runs fn while holding a lock file in os.tmpdir(); a lock whose owner process is gone is taken over. */
export async function withHostLock<T>(name: string, fn: () => Promise<T>, timeoutMs = 180000): Promise<T> {
  const lockFile = path.join(os.tmpdir(), `opsbook-${name}.lock`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(lockFile, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (lockIsStale(lockFile)) rmSync(lockFile, { force: true });
      else if (Date.now() > deadline) throw new Error(`lock ${lockFile} still held after ${timeoutMs} ms (remove it if no test is running)`);
      else await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockFile, { force: true });
  }
}

function lockIsStale(lockFile: string): boolean {
  try {
    const owner = Number(readFileSync(lockFile, 'utf8'));
    if (!Number.isInteger(owner) || owner <= 0) return Date.now() - statSync(lockFile).mtimeMs > 5000;
    process.kill(owner, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

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
  if (!existsSync(HOST_BUSYBOX)) throw new Error(`${HOST_BUSYBOX} not found: install the Debian package busybox-static (test/support/install-system-deps.sh does it)`);
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

// ---------------------------------------------------------------------------------------------------------------
// Cleanup

async function idsWithLabel(listArgs: string[], label: string): Promise<string[]> {
  const { stdout } = await docker([...listArgs, '--filter', `label=${label}`], 30000);
  return [...new Set(stdout.split('\n').map((id) => id.trim()).filter((id) => id !== ''))];
}

async function swarmActive(): Promise<boolean> {
  const { stdout } = await docker(['info', '--format', '{{.Swarm.LocalNodeState}}'], 15000);
  return stdout.trim() === 'active';
}

/**
 * Removes services, containers (forced), images (forced, with all their tags), networks and volumes carrying the
 * label ("key" or "key=value"). Services only when this engine is a swarm manager.
 */
export async function removeByLabel(label: string): Promise<void> {
  if (await swarmActive()) {
    const services = await idsWithLabel(['service', 'ls', '-q'], label);
    if (services.length > 0) await docker(['service', 'rm', ...services], 60000);
  }
  const containers = await idsWithLabel(['ps', '-aq'], label);
  if (containers.length > 0) await docker(['rm', '-f', '-v', ...containers], 60000);
  const images = await idsWithLabel(['images', '-q'], label);
  if (images.length > 0) await docker(['image', 'rm', '-f', ...images], 60000);
  const networks = await idsWithLabel(['network', 'ls', '-q'], label);
  if (networks.length > 0) await docker(['network', 'rm', ...networks], 30000);
  const volumes = await idsWithLabel(['volume', 'ls', '-q'], label);
  if (volumes.length > 0) await docker(['volume', 'rm', '-f', ...volumes], 30000);
}
