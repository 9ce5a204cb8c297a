// The kernel's own metrics on OPSBOOK_METRICS_PORT, scraped over HTTP from a real kernel: cells executed by
// status, magic runs by name and outcome, counted on the protocol thread so a scrape answers while a cell spins.
// Builds and deploys are checked where they happen (docker-build and docker-deploy suites).
import { startTestKernel, TestKernel } from '../support/kernel-client';
import { freePort } from '../support/kernel-process';

async function scrape(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(3000) });
  expect(response.status).toBe(200);
  return response.text();
}

/** The value of the sample `name{labels}` in Prometheus text, or undefined. */
function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.split(',').every((kv) => l.includes(kv)));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

let k: TestKernel;
let port: number;
beforeAll(async () => {
  port = await freePort();
  k = await startTestKernel({ env: { OPSBOOK_METRICS_PORT: String(port) } });
});
afterAll(async () => {
  await k.stop();
});

test('cells by status and magics by name and outcome are counted and served', async () => {
  await k.client.execute('1 + 1');
  await k.client.execute('throw new Error("x")');
  await k.client.execute('%lsmagic');
  await k.client.execute('%lsmagic --nope');
  await k.client.execute('!true');
  const text = await scrape(port);
  expect(sample(text, 'opsbook_cells_executed_total', 'status="ok"')).toBeGreaterThanOrEqual(3);
  expect(sample(text, 'opsbook_cells_executed_total', 'status="error"')).toBe(2);
  expect(sample(text, 'opsbook_magic_duration_seconds_count', 'magic="lsmagic",outcome="ok"')).toBe(1);
  expect(sample(text, 'opsbook_magic_duration_seconds_count', 'magic="lsmagic",outcome="usage"')).toBe(1);
  expect(sample(text, 'opsbook_magic_duration_seconds_count', 'magic="sh",outcome="ok"')).toBe(1);
  expect(text).toContain('# TYPE opsbook_deploys_total counter');
});

test('a scrape answers while a cell spins', async () => {
  const spinning = k.client.execute('const t0 = Date.now(); while (Date.now() < t0 + 1500) {}', {}, 10_000);
  await new Promise((resolve) => setTimeout(resolve, 200));
  const t0 = Date.now();
  await scrape(port);
  expect(Date.now() - t0).toBeLessThan(500);
  await spinning;
});
