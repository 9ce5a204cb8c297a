// The sample service (notebooks/app) for tests of other things: installs its node_modules on the host (builds have
// no network, so the Dockerfile copies them from the context) and builds its image with the docker CLI (legacy
// builder; the base image opsbook/node:local comes from ensureBaseImages() in ./docker).
import { existsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { docker, run, tail, withHostLock } from './docker';

const ABOVE_SUPPORT = path.resolve(__dirname, '..', '..');
/** The repository (also when this file runs compiled, from dist/test/support). */
const REPO_ROOT = path.basename(ABOVE_SUPPORT) === 'dist' ? path.dirname(ABOVE_SUPPORT) : ABOVE_SUPPORT;
/** notebooks/app, the build context. */
export const SAMPLE_APP_DIR = path.join(REPO_ROOT, 'notebooks', 'app');
/** Label every test-built image carries (containers started from it inherit it). */
export const TEST_LABEL = 'opsbook.test=1';

export interface SampleAppBuildOptions {
  /** APP_VERSION baked into the image; default 1.0.0. */
  version?: string;
  /** Bakes APP_UNHEALTHY=1 in: /healthz answers 500 and the HEALTHCHECK turns the container unhealthy. */
  unhealthy?: boolean;
  /** Extra labels ("key=value") besides TEST_LABEL, e.g. a per-run label to clean up by. */
  labels?: string[];
}

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

/** Builds notebooks/app as `tag` (labelled TEST_LABEL) with `docker build`; returns the image ID. */
export async function buildSampleApp(tag: string, options: SampleAppBuildOptions = {}): Promise<string> {
  const context = await prepareSampleApp();
  const labels = [TEST_LABEL, ...(options.labels ?? [])].flatMap((label) => ['--label', label]);
  const buildArgs = ['--build-arg', `APP_VERSION=${options.version ?? '1.0.0'}`, '--build-arg', `UNHEALTHY=${options.unhealthy ? 1 : 0}`];
  // DOCKER_BUILDKIT=0: the legacy builder (engine 20.10 here, no buildx plugin); a 23+ CLI would otherwise want buildx.
  const env = { ...process.env, DOCKER_BUILDKIT: '0' };
  try {
    await run('docker', ['build', '--tag', tag, ...labels, ...buildArgs, context], { env, timeoutMs: 180000 });
  } catch (error) {
    throw new Error(`building ${tag} from ${context}: ${tail((error as Error).message, 40)}`);
  }
  const { stdout } = await docker(['image', 'inspect', '--format', '{{.Id}}', tag], 15000);
  return stdout.trim();
}
