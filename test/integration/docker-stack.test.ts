// Integration: the Docker stack that %build and %deploy drive — a real engine (started if needed), the base images made
// with `docker import`, and the sample app (notebooks/app) built with the docker CLI, run on a random loopback port,
// healthy per its HEALTHCHECK, and its APP_UNHEALTHY variant turning unhealthy while it still serves /.
// Skipped (with a warning) when Docker is missing, except with CI=true, where it must run and fails instead.
import { docker } from '../../notebooks/stack/commands';
import { dockerAvailable, dockerStartable, dockerUnavailableMessage, ensureDocker } from '../../notebooks/stack/engine';
import { ensureBaseImages, BASE_LABEL } from '../../notebooks/stack/base-images';
import { removeByLabel } from '../support/docker';
import { buildSampleApp, TEST_LABEL } from '../support/sample-image';

const available = dockerAvailable() || dockerStartable();
const mustRun = process.env.CI === 'true';
if (!available && !mustRun) {
  console.warn(`docker-stack: SKIPPED. ${dockerUnavailableMessage()} With CI=true this suite fails instead.`);
}
const describeStack = available || mustRun ? describe : describe.skip;

/** Label on everything this run creates, so cleanup never touches what a parallel suite made. */
const RUN_LABEL = `opsbook.test.run=docker-stack-${process.pid}-${Date.now().toString(36)}`;
const IMAGE_REPO = `opsbook-test/sample-app-${process.pid}`;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Starts the image detached with container port 8080 published on a random 127.0.0.1 port; returns id and base URL. */
async function startApp(image: string): Promise<{ id: string; url: string }> {
  const { stdout } = await docker(['run', '--detach', '--label', TEST_LABEL, '--label', RUN_LABEL, '--publish', '127.0.0.1::8080', image]);
  const id = stdout.trim();
  const ports = await docker(['port', id, '8080/tcp']);
  const hostPort = /127\.0\.0\.1:(\d+)/.exec(ports.stdout);
  if (!hostPort) throw new Error(`no 127.0.0.1 port published for ${id}: ${ports.stdout}`);
  return { id, url: `http://127.0.0.1:${hostPort[1]}` };
}

/** GET with a timeout: status and body text. */
async function get(url: string, timeoutMs = 3000): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: response.status, body: await response.text() };
}

/**
 * Retries GET until the app answers (any status). docker-proxy accepts connections before the app listens and then
 * resets them; node:http sees ECONNRESET at once, but fetch() can hang on such a connection, hence short attempts.
 */
async function getWhenUp(url: string, timeoutMs = 10000): Promise<{ status: number; body: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await get(url, 500);
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms: ${(error as Error).message}`);
      await sleep(100);
    }
  }
}

/** The value of the first sample of `name` whose labels include all of `labels` (label order does not matter). */
function sampleValue(metricsText: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of metricsText.split('\n')) {
    const sample = /^(\w+)\{(.*)\} (\S+)$/.exec(line);
    if (!sample || sample[1] !== name) continue;
    const present = new Map([...sample[2].matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => present.get(key) === value)) return Number(sample[3]);
  }
  return undefined;
}

async function healthStatus(id: string): Promise<string> {
  const { stdout } = await docker(['inspect', '--format', '{{if .State.Health}}{{.State.Health.Status}}{{end}}', id]);
  return stdout.trim();
}

/** Polls `docker inspect` until the health status is `wanted`; returns the milliseconds it took. */
async function waitForHealth(id: string, wanted: 'healthy' | 'unhealthy', timeoutMs = 20000): Promise<number> {
  const started = Date.now();
  let status = '';
  while (Date.now() - started < timeoutMs) {
    status = await healthStatus(id);
    if (status === wanted) return Date.now() - started;
    await sleep(250);
  }
  const { stdout } = await docker(['inspect', '--format', '{{json .State.Health}}', id]);
  throw new Error(`container ${id.slice(0, 12)} still "${status}" after ${timeoutMs} ms, not "${wanted}": ${stdout}`);
}

describeStack('Docker test stack (real engine, local base images, sample app)', () => {
  beforeAll(async () => {
    await ensureDocker();
    await ensureBaseImages();
  }, 120000);

  afterAll(async () => {
    if (dockerAvailable()) await removeByLabel(RUN_LABEL);
  }, 60000);

  test('the base images carry their content hash and run busybox and the host node', async () => {
    const { busybox, node } = await ensureBaseImages();
    expect([busybox, node]).toEqual(['opsbook/busybox:local', 'opsbook/node:local']);
    for (const image of [busybox, node]) {
      const { stdout } = await docker(['image', 'inspect', '--format', `{{index .Config.Labels "${BASE_LABEL}"}}`, image]);
      expect(stdout.trim()).toMatch(/^[0-9a-f]{32}$/);
    }
    const echoed = await docker(['run', '--rm', '--label', TEST_LABEL, '--label', RUN_LABEL, busybox, 'echo', 'hello from busybox']);
    expect(echoed.stdout).toBe('hello from busybox\n');
    const version = await docker(['run', '--rm', '--label', TEST_LABEL, '--label', RUN_LABEL, node, 'node', '-e', 'console.log(process.version)']);
    expect(version.stdout.trim()).toBe(process.version);
    const asNode = await docker(['run', '--rm', '--label', TEST_LABEL, '--label', RUN_LABEL, '--user', 'node', node, 'sh', '-c', 'id -un; touch /tmp/x && echo tmp-writable']);
    expect(asNode.stdout).toBe('node\ntmp-writable\n');
  }, 30000);

  test('the sample app builds, serves /, /healthz and /metrics, becomes healthy and stops gracefully', async () => {
    const buildStarted = Date.now();
    await buildSampleApp(`${IMAGE_REPO}:ok`, { version: '1.0.0', labels: [RUN_LABEL] });
    const buildMs = Date.now() - buildStarted;
    const runStarted = Date.now();
    const app = await startApp(`${IMAGE_REPO}:ok`);

    expect(await getWhenUp(`${app.url}/healthz`)).toEqual({ status: 200, body: 'ok\n' });
    const answerMs = Date.now() - runStarted;
    expect(await get(`${app.url}/`)).toEqual({ status: 200, body: 'hello from opsbook-sample-app 1.0.0\n' });
    expect((await get(`${app.url}/error`)).status).toBe(500);
    const metrics = await get(`${app.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('# TYPE http_requests_total counter');
    expect(sampleValue(metrics.body, 'http_requests_total', { route: '/healthz', code: '200' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(metrics.body, 'http_requests_total', { route: '/error', code: '500', version: '1.0.0' })).toBe(1);
    expect(sampleValue(metrics.body, 'http_request_duration_seconds_count', { route: '/' })).toBe(1);

    await waitForHealth(app.id, 'healthy');
    const healthyMs = Date.now() - runStarted;
    expect((await docker(['exec', app.id, 'id', '-un'])).stdout.trim()).toBe('node');

    // SIGTERM with a request in flight: it is answered, and node (PID 1) exits 0 well before docker's 10 s SIGKILL.
    const inFlight = get(`${app.url}/slow`);
    // long enough for the request to have reached the app through docker-proxy even on a loaded machine (a request
    // still in docker-proxy when SIGTERM lands is refused, correctly); /slow answers after 50-300 ms
    await sleep(200);
    const stopStarted = Date.now();
    await docker(['stop', app.id]);
    const stopMs = Date.now() - stopStarted;
    expect((await inFlight).status).toBe(200);
    expect(stopMs).toBeLessThan(5000);
    expect((await docker(['inspect', '--format', '{{.State.ExitCode}}', app.id])).stdout.trim()).toBe('0');
    console.log(`docker-stack: build ${buildMs} ms; after docker run: first answer ${answerMs} ms, healthy ${healthyMs} ms; docker stop ${stopMs} ms`);
  }, 60000);

  test('the APP_UNHEALTHY variant turns unhealthy while / still answers', async () => {
    const buildStarted = Date.now();
    await buildSampleApp(`${IMAGE_REPO}:bad`, { version: '1.1.0', unhealthy: true, labels: [RUN_LABEL] });
    const buildMs = Date.now() - buildStarted;
    const runStarted = Date.now();
    const app = await startApp(`${IMAGE_REPO}:bad`);

    expect(await getWhenUp(`${app.url}/`)).toEqual({ status: 200, body: 'hello from opsbook-sample-app 1.1.0\n' });
    expect(await get(`${app.url}/healthz`)).toEqual({ status: 500, body: 'unhealthy\n' });
    await waitForHealth(app.id, 'unhealthy');
    console.log(`docker-stack: unhealthy variant: build ${buildMs} ms; unhealthy ${Date.now() - runStarted} ms after docker run`);
    expect((await get(`${app.url}/`)).status).toBe(200);
    expect((await docker(['inspect', '--format', '{{.State.Running}}', app.id])).stdout.trim()).toBe('true');
  }, 60000);
});
