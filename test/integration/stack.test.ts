// The local stack's CLI as the demo and a user run it (`node dist/notebooks/stack/stack.js up|status|down`), in its own
// state folder and with its own service name: up starts Prometheus and the Pushgateway and prints the export
// line; a second up reuses them (same pids); status reports them; down stops exactly those processes. The Docker
// engine must already answer here (the Docker suites and .ci/run start it), so up neither starts nor stops dockerd.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { dockerAvailable, dockerStartable } from '../../notebooks/stack/engine';
import { describeRun, run } from '../support/jupyter-env';
import { REPO_ROOT } from '../support/kernel-process';
import { PROMETHEUS_BIN, PUSHGATEWAY_BIN } from '../../notebooks/stack/prometheus';

const STACK = path.join(REPO_ROOT, 'dist', 'notebooks', 'stack', 'stack.js');
const mustRun = process.env.CI === 'true';
const missing = [
  ...(dockerAvailable() ? [] : [dockerStartable() ? 'a running Docker engine (the Docker suites start one)' : 'a Docker engine (docker.io)']),
  ...(existsSync(PROMETHEUS_BIN) ? [] : [PROMETHEUS_BIN]),
  ...(existsSync(PUSHGATEWAY_BIN) ? [] : [PUSHGATEWAY_BIN]),
];
if (missing.length > 0 && !mustRun) console.warn(`stack: SKIPPED, missing ${missing.join(', ')}; with CI=true this suite fails instead`);
const describeStack = missing.length === 0 || mustRun ? describe : describe.skip;

jest.setTimeout(180_000);

/** Whether the process runs (a zombie waiting for its reaper does not count). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

describeStack('the local stack CLI (stack:up / stack:status / stack:down)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'opsbook-stack-'));
  const env = { ...process.env, OPSBOOK_STACK_DIR: dir, OPSBOOK_SERVICE: `opsbook-stacktest-${process.pid}` };
  const stack = (command: string) => run(process.execPath, [STACK, command], { env, timeoutMs: 150_000 });

  afterAll(async () => {
    await stack('down');
    rmSync(dir, { recursive: true, force: true });
  });

  test('up starts, a second up reuses, status reports, down stops exactly what up started', async () => {
    if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}: bash notebooks/stack/install-system-deps.sh, and start dockerd`);
    const first = await stack('up');
    if (first.code !== 0) throw new Error(describeRun('stack up', first));
    const exported = Object.fromEntries([...first.stdout.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]]));
    expect(first.stdout.trim()).toMatch(/^export /);
    expect(exported.OPSBOOK_SERVICE).toBe(env.OPSBOOK_SERVICE);
    expect((await fetch(`${exported.PROMETHEUS_URL}/-/ready`)).status).toBe(200);
    expect((await fetch(`${exported.OPSBOOK_PUSHGATEWAY_URL}/-/ready`)).status).toBe(200);
    // Prometheus scrapes the Pushgateway and the app port the stack picked
    let urls: string[] = [];
    for (const deadline = Date.now() + 15_000; urls.length < 3 && Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
      const targets = (await (await fetch(`${exported.PROMETHEUS_URL}/api/v1/targets`)).json()) as { data: { activeTargets: { scrapeUrl: string }[] } };
      urls = targets.data.activeTargets.map((t) => t.scrapeUrl);
    }
    expect(urls).toContain(`${exported.OPSBOOK_PUSHGATEWAY_URL}/metrics`);
    expect(urls).toContain(`http://127.0.0.1:${exported.OPSBOOK_APP_PORT}/metrics`);
    const pids = [...first.stderr.matchAll(/\(started, pid (\d+)/g)].map((m) => Number(m[1]));
    expect(pids).toHaveLength(2);
    expect(first.stderr).not.toMatch(/started dockerd/);

    const second = await stack('up');
    if (second.code !== 0) throw new Error(describeRun('stack up (again)', second));
    expect(second.stdout).toBe(first.stdout);
    expect([...second.stderr.matchAll(/already running, pid (\d+)/g)].map((m) => Number(m[1])).sort()).toEqual([...pids].sort());
    expect(second.ms).toBeLessThan(first.ms + 5000);

    const status = await stack('status');
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/pushgateway\s+\S+\s+running/);
    expect(status.stdout).toMatch(/prometheus\s+\S+\s+running/);

    const down = await stack('down');
    if (down.code !== 0) throw new Error(describeRun('stack down', down));
    expect(down.stdout).toMatch(/prometheus \S+ \(pid \d+\) (stopped|killed)/);
    expect(down.stdout).toMatch(/pushgateway \S+ \(pid \d+\) (stopped|killed)/);
    expect(down.stdout).not.toMatch(/dockerd/);
    for (const pid of pids) expect(alive(pid)).toBe(false);
    const after = await stack('status');
    expect(after.stdout).toMatch(/prometheus\s+not started/);
  });
});
