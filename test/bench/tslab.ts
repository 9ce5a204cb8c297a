// Finds tslab for the benchmark, installing it from npm into a cache folder outside the repo when it is missing.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../support/kernel-process';

export type Found = { ok: true; bin: string; version: string; dir: string; installedNow: boolean } | { ok: false; reason: string };

const INSTALL_TIMEOUT_MS = 120_000;

/** The informative lines of npm's or node's error output (npm's `code`/`errno`/`request` lines first). */
function lastLines(text: string, n = 3): string {
  const lines = text.trim().split('\n').filter((l) => l.trim() !== '' && !/Unknown user config|npm error\s*$|complete log of this run/.test(l));
  const key = lines.filter((l) => /npm error (code|errno|network|request|notarget|404)/.test(l));
  return (key.length > 0 ? key : lines).slice(-n).join(' | ');
}

/**
 * tslab in `dir` (npm --prefix layout). Installs `tslab` there if it is not yet, then checks that its zeromq
 * addon loads without having run any install script (npm 11 runs none unless approved).
 */
export function findTslab(dir: string): Found {
  const resolved = path.resolve(dir);
  if (resolved === REPO_ROOT || resolved.startsWith(REPO_ROOT + path.sep)) return { ok: false, reason: `cache folder ${resolved} is inside the repo` };
  const pkg = path.join(resolved, 'node_modules', 'tslab', 'package.json');
  let installedNow = false;
  if (!existsSync(pkg)) {
    mkdirSync(resolved, { recursive: true });
    const r = spawnSync('npm', ['install', '--prefix', resolved, '--no-audit', '--no-fund', '--loglevel=error', '--fetch-retries=1', '--fetch-timeout=30000', 'tslab@^1'], {
      encoding: 'utf8',
      timeout: INSTALL_TIMEOUT_MS,
      env: { ...process.env, npm_config_update_notifier: 'false' },
    });
    if (r.error) return { ok: false, reason: `npm install tslab failed: ${r.error.message}` };
    if (r.status !== 0) return { ok: false, reason: `npm install tslab exited ${r.status}: ${lastLines(r.stderr || r.stdout)}` };
    if (!existsSync(pkg)) return { ok: false, reason: 'npm install tslab finished but node_modules/tslab is missing' };
    installedNow = true;
  }
  const version = String((JSON.parse(readFileSync(pkg, 'utf8')) as { version?: unknown }).version ?? '?');
  const zmq = path.join(resolved, 'node_modules', 'zeromq');
  const probe = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(zmq)})`], { encoding: 'utf8', timeout: 30_000 });
  if (probe.status !== 0) {
    return { ok: false, reason: `tslab ${version} installed, but its zeromq addon does not load without a native build: ${lastLines(probe.stderr, 2)}` };
  }
  return { ok: true, bin: path.join(resolved, 'node_modules', 'tslab', 'bin', 'tslab'), version, dir: resolved, installedNow };
}
