// The kernel's own metrics on OPSBOOK_METRICS_PORT, scraped over HTTP from a real kernel: cells executed by
// status, magic runs by name and outcome, counted on the protocol thread so a scrape answers while a cell spins.
// Builds and deploys are checked where they happen (docker-build and docker-deploy suites); a batch run's baseline
// (counters carried over between `opsbook run --pushgateway` runs) is checked here.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
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
  // the cell spins for up to 60 s; the scrape must come back while it still runs (a condition, not a time)
  let finished = false;
  const spinning = k.client.execute('const t0 = Date.now(); while (Date.now() < t0 + 60_000) {}', {}, 90_000).then((r) => { finished = true; return r; });
  await k.client.waitForIopub((m) => m.header.msg_type === 'execute_input' && String(m.content.code).includes('t0 + 60_000'), 10_000, 'the spinning cell started');
  await scrape(port);
  expect(finished).toBe(false);
  await k.client.call('interrupt_request', {}, { channel: 'control', timeoutMs: 5000 });
  expect((await spinning).reply.content.ename).toBe('KeyboardInterrupt');
});

test('a baseline from earlier runs (OPSBOOK_METRICS_BASELINE) is added to the counters; bad entries are skipped, not fatal', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'opsbook-baseline-'));
  const file = path.join(dir, 'baseline.json');
  writeFileSync(file, JSON.stringify([
    { name: 'opsbook_deploys_total', labels: { service: 'web', outcome: 'deployed' }, value: 7 },
    { name: 'opsbook_restore_seconds_total', labels: { service: 'web' }, value: 42.5 },
    { name: 'opsbook_cells_executed_total', labels: { status: 'ok' }, value: 10 },
    { name: 'opsbook_no_such_total', labels: {}, value: 1 },
    { name: 'opsbook_deploys_total', labels: { service: 'web' }, value: 3 },
    { name: 'opsbook_rollbacks_total', labels: { service: 'web', outcome: 'rolled back' }, value: 'many' },
  ]));
  const seededPort = await freePort();
  const seeded = await startTestKernel({ env: { OPSBOOK_METRICS_PORT: String(seededPort), OPSBOOK_METRICS_BASELINE: file } });
  try {
    await seeded.client.execute('1 + 1');
    const text = await scrape(seededPort);
    expect(sample(text, 'opsbook_deploys_total', 'service="web",outcome="deployed"')).toBe(7);
    expect(sample(text, 'opsbook_restore_seconds_total', 'service="web"')).toBe(42.5);
    expect(sample(text, 'opsbook_cells_executed_total', 'status="ok"')).toBe(11);
    expect(sample(text, 'opsbook_rollbacks_total', 'service="web"')).toBeUndefined();
  } finally {
    await seeded.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an unreadable baseline leaves the counters at zero and the kernel serving', async () => {
  const seededPort = await freePort();
  const seeded = await startTestKernel({ env: { OPSBOOK_METRICS_PORT: String(seededPort), OPSBOOK_METRICS_BASELINE: '/nonexistent/baseline.json' } });
  try {
    const reply = await seeded.client.execute('2 + 2');
    expect(reply.reply.content.status).toBe('ok');
    expect(sample(await scrape(seededPort), 'opsbook_cells_executed_total', 'status="ok"')).toBe(1);
  } finally {
    await seeded.stop();
  }
});
