// The local proxy image opsbook/haproxy:local, made with `docker import` (no registry is reachable: never `docker
// pull`): Debian's haproxy binary, fetched with `apt-get download` and unpacked with `dpkg -x` (installing the package
// would start Debian's haproxy service), plus the libraries `ldd` lists and the dynamic loader. No shell in the image.
// Libraries the host lacks come from the Debian packages haproxy depends on, downloaded and unpacked the same way.
// The rootfs, its hash label and the import are rootfs-image.ts's, as for the base images. The engine (20.10)
// rejects STOPSIGNAL in an import: whoever creates the proxy container gives StopSignal SIGUSR1 (a soft stop).
//   node dist/notebooks/stack/proxy-image.js     (prints the tag once the image is there)
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { run } from './commands';
import { withHostLock } from './host-lock';
import { ImageRecipe, RootfsEntry, ensureImported, importedImage, libraryEntries } from './rootfs-image';

export const PROXY_IMAGE = 'opsbook/haproxy:local';
/** Label on the image: the hash of every file and instruction that went into it. */
export const PROXY_IMAGE_LABEL = 'opsbook.proxy-image';
/** Where the proxy's configuration lives in the image (the official haproxy image uses the same folder). */
export const PROXY_CONFIG_DIR = '/usr/local/etc/haproxy';

/** Bump when the layout below changes, so an existing image is re-imported. */
const RECIPE_VERSION = 'opsbook-haproxy-v2';
const HAPROXY_IN_PACKAGE = '/usr/sbin/haproxy';
const IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** How deep the walk over haproxy's Depends goes for packages the host lacks (lua, opentracing and theirs). */
const MAX_DEPENDENCY_DEPTH = 3;

function installedOnHost(pkg: string): Promise<boolean> {
  return run('dpkg-query', ['-W', '-f=${Status}', pkg]).then((r) => r.stdout.includes('install ok installed'), () => false);
}

/** Package names of a .deb's Depends (first alternative of each, versions dropped). */
async function dependsOf(deb: string): Promise<string[]> {
  const { stdout } = await run('dpkg-deb', ['-f', deb, 'Depends']);
  return stdout.split(',').map((d) => d.split('|')[0].trim().split(/[\s(:]/)[0]).filter((d) => d !== '');
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
    await run('apt-get', ['download', '-q', ...wanted], { cwd: dir, timeoutMs: 120_000 });
    const fetched = readdirSync(dir).filter((f) => f.endsWith('.deb') && !before.has(f));
    if (fetched.length !== wanted.length) throw new Error(`apt-get download ${wanted.join(' ')} wrote ${fetched.length} .deb files into ${dir}`);
    const next: string[] = [];
    for (const deb of fetched) {
      debs.push(deb);
      await run('dpkg', ['-x', path.join(dir, deb), root]);
      for (const dep of await dependsOf(path.join(dir, deb))) {
        if (!seen.has(dep) && !next.includes(dep) && !(await installedOnHost(dep))) next.push(dep);
      }
    }
    wanted = next;
  }
  return { root, debs: debs.sort() };
}

function proxyRecipe(binary: string, libraries: RootfsEntry[], source: string): ImageRecipe {
  const text = (file: string, content: string): RootfsEntry => ({ kind: 'text', path: file, mode: 0o644, text: content });
  return {
    tag: PROXY_IMAGE,
    entries: [
      { kind: 'file', path: '/usr/sbin/haproxy', mode: 0o755, hostPath: binary },
      ...libraries,
      text('/etc/passwd', 'root:x:0:0:root:/root:/usr/sbin/nologin\nhaproxy:x:99:99:haproxy:/var/lib/haproxy:/usr/sbin/nologin\n'),
      text('/etc/group', 'root:x:0:\nhaproxy:x:99:\n'),
      // servers are named by container: libc must ask Docker's DNS (127.0.0.11, in the resolv.conf Docker mounts)
      text('/etc/nsswitch.conf', 'passwd: files\ngroup: files\nhosts: files dns\n'),
      { kind: 'dir', path: '/tmp', mode: 0o1777 },
      { kind: 'dir', path: '/run', mode: 0o755 },
      { kind: 'dir', path: '/var/lib/haproxy', mode: 0o755 },
      { kind: 'dir', path: PROXY_CONFIG_DIR, mode: 0o755 },
    ],
    changes: [`ENV PATH=${IMAGE_PATH}`, 'ENTRYPOINT ["/usr/sbin/haproxy"]', `CMD ["-W", "-db", "-f", "${PROXY_CONFIG_DIR}/haproxy.cfg"]`, `LABEL ${PROXY_SOURCE_LABEL}="${source}"`],
    hashLabel: PROXY_IMAGE_LABEL,
    version: RECIPE_VERSION,
  };
}

/** Label on the image: the recipe version and the haproxy package version it was made from. */
export const PROXY_SOURCE_LABEL = 'opsbook.proxy-image.source';

export interface ProxyImage {
  tag: string;
  /** The haproxy package version inside the image (Debian's version string), or "unknown" for an older image. */
  haproxy: string;
  /** Whether this call made the image (false: an image made from the same package version was kept). */
  made: boolean;
}

/** The haproxy version `apt-get download` would fetch (apt's candidate), without downloading it; undefined without apt lists. */
async function candidateVersion(): Promise<string | undefined> {
  const { stdout } = await run('apt-cache', ['policy', 'haproxy']).catch(() => ({ stdout: '' }));
  const candidate = /Candidate:\s*(\S+)/.exec(stdout)?.[1];
  return candidate && candidate !== '(none)' ? candidate : undefined;
}

async function sourceLabelOf(tag: string): Promise<string | undefined> {
  const { stdout } = await run('docker', ['image', 'inspect', '--format', `{{index .Config.Labels "${PROXY_SOURCE_LABEL}"}}`, tag], { timeoutMs: 15_000 }).catch(() => ({ stdout: '' }));
  return stdout.trim() || undefined;
}

const sourceOf = (haproxyVersion: string) => `${RECIPE_VERSION} haproxy=${haproxyVersion}`;

let ensured: Promise<ProxyImage> | undefined;

/**
 * Makes opsbook/haproxy:local unless an image with that tag was made by this recipe from the haproxy version apt
 * would fetch now: then it is kept without downloading anything (a second `stack up`, every test suite after the
 * first). Otherwise haproxy is downloaded and the image imported unless the recipe's hash says it is the same.
 * Without network (apt-get download fails) an existing image of that tag is kept.
 */
export function ensureProxyImageReport(): Promise<ProxyImage> {
  // the lock file (opsbook-proxy-image.lock in the temp folder) is shared by every process of this machine
  ensured ??= withHostLock('proxy-image', async () => {
    const candidate = await candidateVersion();
    if (candidate !== undefined && (await sourceLabelOf(PROXY_IMAGE)) === sourceOf(candidate)) return { tag: PROXY_IMAGE, haproxy: candidate, made: false };
    const dir = mkdtempSync(path.join(os.tmpdir(), 'opsbook-haproxy-'));
    try {
      let fetched: { root: string; debs: string[] };
      try {
        fetched = await downloadAndExtract(dir);
      } catch (e) {
        if (await importedImage(PROXY_IMAGE, PROXY_IMAGE_LABEL)) return { tag: PROXY_IMAGE, haproxy: (await sourceLabelOf(PROXY_IMAGE))?.split('haproxy=')[1] ?? 'unknown', made: false };
        throw e;
      }
      // the .deb's file name carries the version apt fetched (haproxy_<version>_<arch>.deb, ':' written as %3a)
      const deb = fetched.debs.find((d) => d.startsWith('haproxy_'));
      const version = deb ? decodeURIComponent(deb.split('_')[1]) : candidate ?? 'unknown';
      const binary = path.join(fetched.root, HAPROXY_IN_PACKAGE);
      const made = await ensureImported(proxyRecipe(binary, await libraryEntries(binary, fetched.root), sourceOf(version)));
      return { tag: PROXY_IMAGE, haproxy: version, made };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
  ensured.catch(() => { ensured = undefined; });
  return ensured;
}

/** ensureProxyImageReport, for callers that only need the tag. */
export function ensureProxyImage(): Promise<string> {
  return ensureProxyImageReport().then((image) => image.tag);
}

if (require.main === module) {
  ensureProxyImage().then((tag) => console.log(tag), (e: Error) => { console.error(e.message); process.exit(1); });
}
