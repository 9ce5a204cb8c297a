// The sample service (notebooks/app) the runbooks build and deploy: its node_modules are installed on the host,
// because image builds have no network and its Dockerfile copies them from the build context.
import { existsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { run } from './commands';
import { withHostLock } from './host-lock';

const TWO_UP = path.resolve(__dirname, '..', '..');
/** The checkout (also when this file runs compiled, from dist/notebooks/stack). */
const REPO_ROOT = path.basename(TWO_UP) === 'dist' ? path.dirname(TWO_UP) : TWO_UP;
/** notebooks/app, the build context. */
export const SAMPLE_APP_DIR = path.join(REPO_ROOT, 'notebooks', 'app');

/** True when node_modules is missing or older than package-lock.json (npm ci writes node_modules/.package-lock.json). */
function nodeModulesStale(): boolean {
  const installed = path.join(SAMPLE_APP_DIR, 'node_modules', '.package-lock.json');
  if (!existsSync(installed)) return true;
  return statSync(installed).mtimeMs < statSync(path.join(SAMPLE_APP_DIR, 'package-lock.json')).mtimeMs;
}

let prepared: Promise<string> | undefined;

/** Runs `npm ci --omit=dev` in notebooks/app when its node_modules is missing or stale; returns the context path. */
export function prepareSampleApp(): Promise<string> {
  prepared ??= withHostLock('sample-app-npm', async () => {
    if (nodeModulesStale()) {
      await run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund'], { cwd: SAMPLE_APP_DIR, timeoutMs: 180000 });
    }
    return SAMPLE_APP_DIR;
  });
  prepared.catch(() => { prepared = undefined; });
  return prepared;
}
