// The sample service's image for tests of other things: builds notebooks/app with the docker CLI (legacy builder;
// its base image opsbook/node:local comes from ensureBaseImages()), labelled so the suites can remove it.
import { docker, run, tail } from '../../notebooks/stack/commands';
import { prepareSampleApp } from '../../notebooks/stack/sample-app';

/** Label every test-built image carries (containers started from it inherit it). */
export const TEST_LABEL = 'opsbook.test=1';

export interface SampleAppBuildOptions {
  /** APP_VERSION baked into the image; default 1.0.0. */
  version?: string;
  /** Bakes APP_UNHEALTHY=1 in: /healthz answers 500 and the HEALTHCHECK turns the container unhealthy. */
  unhealthy?: boolean;
  /** Bakes APP_ERROR_RATE in (build arg ERROR_RATE, 0–1): healthy, but that share of / and /slow answer 500. */
  errorRate?: number;
  /** Extra labels ("key=value") besides TEST_LABEL, e.g. a per-run label to clean up by. */
  labels?: string[];
}

/** Builds notebooks/app as `tag` (labelled TEST_LABEL) with `docker build`; returns the image ID. */
export async function buildSampleApp(tag: string, options: SampleAppBuildOptions = {}): Promise<string> {
  const context = await prepareSampleApp();
  const labels = [TEST_LABEL, ...(options.labels ?? [])].flatMap((label) => ['--label', label]);
  const buildArgs = ['--build-arg', `APP_VERSION=${options.version ?? '1.0.0'}`, '--build-arg', `UNHEALTHY=${options.unhealthy ? 1 : 0}`, '--build-arg', `ERROR_RATE=${options.errorRate ?? 0}`];
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
