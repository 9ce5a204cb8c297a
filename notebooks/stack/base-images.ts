// The two local base images, made with `docker import` (no registry is reachable: never `docker pull`):
// opsbook/busybox:local from busybox-static, and opsbook/node:local from the host's node binary plus the libraries
// ldd lists. Each image carries the hash of everything that went into it (rootfs-image.ts), so an unchanged recipe is
// not re-imported.
import { existsSync, realpathSync } from 'node:fs';
import { run } from './commands';
import { withHostLock } from './host-lock';
import { ImageRecipe, RootfsEntry, ensureImported, libraryEntries, withParents } from './rootfs-image';

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

function busyboxRecipe(applets: string[]): ImageRecipe {
  const users = [{ name: 'root', uid: 0, home: '/root', makeHome: true }, { name: 'nobody', uid: 65534, home: '/nonexistent', makeHome: false }];
  const entries = withParents([...busyboxEntries(applets), ...baseSystemEntries(users)]);
  return { tag: BUSYBOX_IMAGE, entries, changes: [`ENV PATH=${IMAGE_PATH}`, 'CMD ["sh"]'], hashLabel: BASE_LABEL, version: RECIPE_VERSION };
}

async function nodeRecipe(applets: string[]): Promise<ImageRecipe> {
  const nodeBinary = realpathSync(process.execPath);
  const entries: RootfsEntry[] = [
    { kind: 'file', path: '/usr/local/bin/node', mode: 0o755, hostPath: nodeBinary },
    // Each library at the path ldd resolved it to (the loader finds them there), symlinks followed.
    ...(await libraryEntries(nodeBinary)),
    ...busyboxEntries(applets),
    ...baseSystemEntries([{ name: 'root', uid: 0, home: '/root', makeHome: true }, { name: 'node', uid: 1000, home: '/home/node', makeHome: true }]),
  ];
  if (existsSync(HOST_CA_BUNDLE)) entries.push({ kind: 'file', path: HOST_CA_BUNDLE, mode: 0o644, hostPath: realpathSync(HOST_CA_BUNDLE) });
  const changes = [`ENV PATH=${IMAGE_PATH}`, `ENV NODE_VERSION=${process.version.slice(1)}`, 'CMD ["node"]'];
  return { tag: NODE_IMAGE, entries: withParents(entries), changes, hashLabel: BASE_LABEL, version: RECIPE_VERSION };
}

let baseImages: Promise<{ busybox: string; node: string }> | undefined;

/** Creates opsbook/busybox:local and opsbook/node:local with `docker import` when missing or out of date; returns their tags. */
export function ensureBaseImages(): Promise<{ busybox: string; node: string }> {
  baseImages ??= withHostLock('base-images', async () => {
    await checkStaticBusybox();
    const applets = await busyboxApplets();
    await ensureImported(busyboxRecipe(applets));
    await ensureImported(await nodeRecipe(applets));
    return { busybox: BUSYBOX_IMAGE, node: NODE_IMAGE };
  });
  baseImages.catch(() => { baseImages = undefined; });
  return baseImages;
}
