// `opsbook run` end to end: the built CLI runs fixture notebooks (test/integration/fixtures/runner/) on the real
// built kernel over real ZeroMQ. Parameters (-p, -y) reach the cells as TypeScript values; a failing cell gives
// papermill's banner and anchor and exit 1; %stop-here is a success; raises-exception goes on; --timeout and a
// dying kernel fail the cell without hanging or leaving a kernel behind; SIGTERM/SIGINT save what ran; display
// updates land in the right outputs; --html renders charts offline with plotly.js once; --pushgateway pushes
// counters that keep counting across runs to a real Pushgateway.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Cell, Notebook, parseNotebook } from '../../kernel/runner/notebook';
import { PLOTLY_PACKAGE } from '../../magics/plotly-library';
import { processesMentioning } from '../support/jupyter-env';
import { CLI, REPO_ROOT, freePort } from '../support/kernel-process';
import { plotlyBanner, plotlyCopies } from '../support/plotly-copies';
import { PrometheusHandle, prometheusAvailable, startPrometheus } from '../support/prometheus';
import { PushgatewayHandle, pushedGroups, pushedValue, pushgatewayAvailable, pushgatewayMissingMessage, startPushgateway } from '../support/pushgateway';

const FIXTURES = path.join(REPO_ROOT, 'test', 'integration', 'fixtures', 'runner');
const fixture = (name: string) => path.join(FIXTURES, name);
const mustRun = process.env.CI === 'true';

jest.setTimeout(120_000);

interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'opsbook-runner-it-'));
});
afterEach(async () => {
  await expectNoKernelLeft();
  rmSync(tmp, { recursive: true, force: true });
});

/**
 * Starts `opsbook run ...` with TMPDIR in this test's folder, so the kernel's connection file (and so its command
 * line) names that folder, and its input history stays there too.
 */
function start(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
  const started = Date.now();
  const child = spawn(process.execPath, [CLI, 'run', ...args], {
    cwd: options.cwd ?? tmp,
    env: { ...process.env, TMPDIR: tmp, OPSBOOK_HISTORY_FILE: path.join(tmp, 'history.jsonl'), ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const done = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, ...out, ms: Date.now() - started })));
  const killer = setTimeout(() => child.kill('SIGKILL'), 90_000); // a hung runner fails the test instead of hanging it
  void done.then(() => clearTimeout(killer));
  return { child, done, stderr: () => out.stderr };
}

const run = (args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) => start(args, options).done;

/** Kernels whose command line names this test's folder (their connection file is in it). */
async function expectNoKernelLeft(): Promise<void> {
  const deadline = Date.now() + 3000;
  let left = processesMentioning(tmp);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    left = processesMentioning(tmp);
  }
  expect(left.map((pid) => `${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ')}`)).toEqual([]);
}

function readOut(file: string): Notebook {
  return parseNotebook(readFileSync(file, 'utf8'), file);
}

const status = (c: Cell) => (c.metadata.papermill as { status?: string } | undefined)?.status;
const tags = (c: Cell) => (c.metadata.tags as string[] | undefined) ?? [];
const streamText = (c: Cell) => (c.outputs ?? []).filter((o) => o.output_type === 'stream').map((o) => (o.output_type === 'stream' ? o.text : '')).join('');

/** nbformat's own validator (Debian's python3-nbformat, which jupyter-nbconvert brings) accepts the files. */
function expectValidNbformat(...files: string[]): void {
  const check = spawnSync('/usr/bin/python3', ['-c', 'import sys, nbformat\nfor f in sys.argv[1:]: nbformat.validate(nbformat.read(f, as_version=4))', ...files], { encoding: 'utf8' });
  if (check.error || /No module named .?nbformat/.test(check.stderr)) {
    if (mustRun) throw new Error(`cannot validate with nbformat: install jupyter-nbconvert (apt-get install -y --no-install-recommends jupyter-nbconvert); ${check.error?.message ?? check.stderr}`);
    return;
  }
  expect({ status: check.status, stderr: check.stderr }).toEqual({ status: 0, stderr: '' });
}

function expectNoStackTrace(stderr: string): void {
  expect(stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
}

test('-f, -p and -y parameters reach the cells as TypeScript values, in a cell injected after the parameters cell', async () => {
  const out = path.join(tmp, 'out.ipynb');
  const file = path.join(tmp, 'params.yaml');
  writeFileSync(file, 'service: "ünïcødé ☃ \\"api\\""\nreplicas: 9\n');
  const r = await run([
    fixture('params.ipynb'), out,
    '-f', file,
    '-p', 'replicas', '3',
    '-p', 'dryRun', 'False',
    '-p', 'owner', 'None',
    '-y', 'config: {regions: [eu, us], limits: {cpu: 2, burst: yes}}',
    '--log-output',
  ]);
  expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
  const expected = { service: 'ünïcødé ☃ "api"', replicas: 3, dryRun: false, owner: null, config: { regions: ['eu', 'us'], limits: { cpu: 2, burst: true } } };
  // --log-output: the cells' stdout is echoed as it arrives
  expect(JSON.parse(r.stdout.split('\n')[0])).toEqual(expected);
  expect(r.stderr).toMatch(/^\[1\/4\] In \[1\] ok \d+\.\d s$/m);
  expect(r.stderr).toMatch(/^\[4\/4\] In \[4\] ok /m);

  const nb = readOut(out);
  expect(nb.cells.map((c) => tags(c))).toEqual([[], ['parameters'], ['injected-parameters'], [], []]);
  const injected = nb.cells[2];
  expect(injected.source.split('\n')[0]).toBe('// Parameters');
  expect(injected.source).toContain('const service = "ünïcødé ☃ \\"api\\"";');
  expect(injected.source).toContain('const owner = null;');
  expect(JSON.parse(streamText(nb.cells[3]).split('\n')[0])).toEqual(expected);
  // the kernel runs in the notebook's folder
  expect(streamText(nb.cells[3])).toContain(`cwd=${FIXTURES}\n`);
  expect(nb.cells[4].outputs).toEqual([{ output_type: 'execute_result', execution_count: 4, data: { 'text/plain': '6' }, metadata: {} }]);
  expect(nb.cells.map((c) => c.execution_count ?? null)).toEqual([null, 1, 2, 3, 4]);
  expect(nb.cells.map(status)).toEqual(['completed', 'completed', 'completed', 'completed', 'completed']);
  expect(Object.keys(nb.cells[3].metadata.execution as object).sort()).toEqual(['iopub.execute_input', 'iopub.status.busy', 'iopub.status.idle', 'shell.execute_reply']);
  const pm = nb.metadata.papermill as Record<string, unknown>;
  expect(pm).toMatchObject({ parameters: expected, input_path: fixture('params.ipynb'), output_path: out, exception: null, environment_variables: {} });
  expect(Object.keys(pm).sort()).toEqual(['default_parameters', 'duration', 'end_time', 'environment_variables', 'exception', 'input_path', 'output_path', 'parameters', 'start_time', 'version']);
  expect((pm.default_parameters as Record<string, unknown>).replicas).toEqual({ name: 'replicas', inferred_type_name: 'number', default: '1', help: 'how many' });
  expect((nb.metadata.language_info as Record<string, unknown>).name).toBe('typescript');
  expectValidNbformat(out);

  // re-running the executed notebook replaces its injected cell; without an output path it goes to ./<name>.executed.ipynb
  const again = await run([out, '-p', 'replicas', '5']);
  expect(again.code).toBe(0);
  const rerun = readOut(path.join(tmp, 'out.executed.ipynb'));
  expect(rerun.cells.filter((c) => tags(c).includes('injected-parameters'))).toHaveLength(1);
  expect(rerun.cells[2].source).toBe('// Parameters\nconst replicas = 5;\n');
  expect(rerun.cells[4].outputs?.[0]).toMatchObject({ data: { 'text/plain': '10' } });
});

test('a __proto__ key in a -y mapping reaches the cell as an own key, not as the prototype or dropped', async () => {
  const out = path.join(tmp, 'out.ipynb');
  const r = await run([fixture('params.ipynb'), out, '-y', 'config: {__proto__: {polluted: yes}, regions: [eu]}', '--log-output']);
  expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
  const config = '{"__proto__":{"polluted":true},"regions":["eu"]}';
  expect(r.stdout.split('\n')[0]).toBe(`{"service":"web","replicas":1,"dryRun":true,"owner":"ops","config":${config}}`);
  const nb = readOut(out);
  expect(nb.cells[2].source).toContain('__proto__');
  expect(JSON.stringify((nb.metadata.papermill as Record<string, unknown>).parameters)).toBe(`{"config":${config}}`);
});

test('--cwd sets the kernel\'s working folder', async () => {
  const out = path.join(tmp, 'out.ipynb');
  const r = await run([fixture('params.ipynb'), out, '--cwd', tmp]);
  expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
  expect(streamText(readOut(out).cells[2])).toContain(`cwd=${tmp}\n`);
});

test('without a parameters cell the parameters go on top, and stderr says so', async () => {
  const out = path.join(tmp, 'out.ipynb');
  const r = await run([fixture('metrics.ipynb'), out, '-r', 'version', '007']);
  expect(r.code).toBe(0);
  expect(r.stderr).toContain('the notebook has no cell tagged "parameters"');
  const nb = readOut(out);
  expect(tags(nb.cells[0])).toEqual(['injected-parameters']);
  expect(nb.cells[0].source).toBe('// Parameters\nconst version = "007";\n');
});

test('usage and setup errors are one line and exit 2, before any kernel starts', async () => {
  const results = await Promise.all([
    run([fixture('params.ipynb'), '-p', 'my-service', 'x']),
    run([fixture('params.ipynb'), '-p', 'onlyname']),
    run([fixture('params.ipynb'), '--timeout', 'soon']),
    run([fixture('params.ipynb'), '-y', '[1, 2]']),
    run([path.join(tmp, 'missing.ipynb')]),
    run([fixture('params.ipynb'), path.join(tmp, 'no', 'such', 'folder', 'out.ipynb')]),
    run([fixture('params.ipynb'), '--no-such-option']),
  ]);
  for (const r of results) {
    expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 2 });
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expectNoStackTrace(r.stderr);
  }
  expect(results[0].stderr).toContain('parameter name "my-service" (from -p) is not a valid TypeScript identifier');
  expect(results[2].stderr).toContain('--timeout takes a number of seconds');
  expect(results[3].stderr).toContain('must be a YAML mapping');
  expect(results[4].stderr).toContain('no such file');
  expect(existsSync(path.join(tmp, 'params.executed.ipynb'))).toBe(false);
});

test('a failing cell: papermill banner and anchor, later cells pending, exit 1, stderr names the cell and the file', async () => {
  const out = path.join(tmp, 'failed.ipynb');
  const r = await run([fixture('failing.ipynb'), out]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('cell 3 (In [2]) failed: TypeError: replica count must be positive');
  expect(r.stderr).toContain(out);
  const nb = readOut(out);
  expect(nb.cells.map((c) => c.cell_type)).toEqual(['markdown', 'code', 'markdown', 'markdown', 'code', 'code']);
  const [banner, first, , anchor, failed, after] = nb.cells;
  expect(tags(banner)).toEqual(['papermill-error-cell-tag']);
  expect(banner.source).toMatch(/^<span .*An Exception was encountered at '<a href="#papermill-error-cell">In \[2\]<\/a>'\..*<\/span>$/);
  expect(tags(anchor)).toEqual(['papermill-error-cell-tag']);
  expect(anchor.source).toContain('<span id="papermill-error-cell"');
  expect(anchor.source).toContain('Execution using opsbook run encountered an exception here and stopped:');
  expect(streamText(first)).toBe('ran before the error\n');
  expect(status(failed)).toBe('failed');
  expect(failed.metadata.papermill).toMatchObject({ exception: true });
  expect(failed.outputs?.[0]).toMatchObject({ output_type: 'error', ename: 'TypeError', evalue: 'replica count must be positive' });
  expect(status(after)).toBe('pending');
  expect(after.outputs).toEqual([]);
  expect(after.execution_count).toBeNull();
  expect((nb.metadata.papermill as Record<string, unknown>).exception).toBe(true);
  expectValidNbformat(out);

  // running the failed output again: the old markers go, new ones come (never twice)
  const again = await run([out, path.join(tmp, 'again.ipynb')]);
  expect(again.code).toBe(1);
  expect(readOut(path.join(tmp, 'again.ipynb')).cells.filter((c) => tags(c).includes('papermill-error-cell-tag'))).toHaveLength(2);
});

test('%stop-here ends the run early as a success; the cells below stay pending', async () => {
  const out = path.join(tmp, 'out.ipynb');
  const r = await run([fixture('stop-here.ipynb'), out]);
  expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
  expect(r.stderr).toContain('SystemExit 0');
  const nb = readOut(out);
  expect(nb.cells).toHaveLength(3);
  expect(nb.cells.map(status)).toEqual(['completed', 'completed', 'pending']);
  expect(nb.cells[1].outputs?.[0]).toMatchObject({ output_type: 'error', ename: 'SystemExit', evalue: '0' });
  expect(streamText(nb.cells[2])).toBe('');
  expect((nb.metadata.papermill as Record<string, unknown>).exception).toBeNull();
});

test('a cell tagged raises-exception may fail: the run goes on and succeeds', async () => {
  const out = path.join(tmp, 'out.ipynb');
  const r = await run([fixture('raises.ipynb'), out]);
  expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
  const nb = readOut(out);
  expect(nb.cells[0].outputs?.[0]).toMatchObject({ output_type: 'error', ename: 'RangeError' });
  expect(streamText(nb.cells[1])).toBe('continued\n');
  expect(nb.cells.map(status)).toEqual(['completed', 'completed']);
});

test('--timeout interrupts while(true){}: the cell fails cleanly, the kernel is shut down', async () => {
  const out = path.join(tmp, 'out.ipynb');
  const r = await run([fixture('spin.ipynb'), out, '--timeout', '2']);
  expect(r.code).toBe(1);
  expect(r.ms).toBeLessThan(15_000);
  expect(r.stderr).toContain('timed out after 2 s');
  const nb = readOut(out);
  const spinning = nb.cells.find((c) => c.id === 'cell-1') as Cell;
  expect(status(spinning)).toBe('failed');
  expect(streamText(spinning)).toBe('spinning\n');
  expect(spinning.outputs?.map((o) => (o.output_type === 'error' ? `${o.ename}: ${o.evalue}` : o.output_type))).toEqual([
    'stream',
    'KeyboardInterrupt: interrupted by the user',
    'CellTimeoutError: the cell timed out after 2 s (--timeout 2)',
  ]);
  expect(status(nb.cells.find((c) => c.id === 'cell-2') as Cell)).toBe('pending');
  await expectNoKernelLeft();
});

test('a kernel that dies fails the running cell at once, saying how it died', async () => {
  const out = path.join(tmp, 'out.ipynb');
  const r = await run([fixture('died.ipynb'), out]);
  expect(r.code).toBe(1);
  expect(r.ms).toBeLessThan(15_000);
  const nb = readOut(out);
  const killed = nb.cells.find((c) => c.id === 'cell-1') as Cell;
  expect(killed.outputs?.slice(-1)[0]).toMatchObject({ ename: 'DeadKernelError', evalue: 'the kernel died (signal SIGKILL) while this cell ran' });
  expect(r.stderr).toContain('the kernel died (signal SIGKILL)');
  expect(status(nb.cells.find((c) => c.id === 'cell-2') as Cell)).toBe('pending');
});

test.each([
  ['SIGTERM', 143],
  ['SIGINT', 130],
] as const)('%s to the runner interrupts the kernel, saves what ran, shuts down, exits %d', async (signal, code) => {
  const out = path.join(tmp, 'out.ipynb');
  const runner = start([fixture('spin.ipynb'), out]);
  const deadline = Date.now() + 30_000;
  while (!/^\[1\/3\] In \[1\] ok/m.test(runner.stderr()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 300)); // the second cell is spinning now
  runner.child.kill(signal);
  const r = await runner.done;
  expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code });
  expect(r.stderr).toContain(`stopped by ${signal}`);
  const nb = readOut(out);
  expect(status(nb.cells.find((c) => c.id === 'cell-0') as Cell)).toBe('completed');
  const spinning = nb.cells.find((c) => c.id === 'cell-1') as Cell;
  expect(status(spinning)).toBe('failed');
  expect(spinning.outputs?.slice(-1)[0]).toMatchObject({ ename: 'KeyboardInterrupt', evalue: `opsbook run was stopped by ${signal} while this cell ran` });
  expect(status(nb.cells.find((c) => c.id === 'cell-2') as Cell)).toBe('pending');
  await expectNoKernelLeft();
});

test('display updates land where nbclient puts them: any earlier output with the id; clear_output(wait) clears late', async () => {
  const out = path.join(tmp, 'out.ipynb');
  const r = await run([fixture('display.ipynb'), out]);
  expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
  const [first, second, third] = readOut(out).cells;
  expect(first.outputs).toHaveLength(1);
  expect(first.outputs?.[0]).toMatchObject({ output_type: 'display_data', data: { 'text/html': '<b>done</b>' } });
  expect(second.outputs).toHaveLength(1);
  expect(second.outputs?.[0]).toMatchObject({ output_type: 'display_data', data: { 'text/markdown': 'second' } });
  expect(third.outputs).toEqual([{ output_type: 'stream', name: 'stdout', text: 'new\n' }]);
  expect(readFileSync(out, 'utf8')).not.toContain('transient');
  expectValidNbformat(out);
});

test('display handles updated with plain values keep the updated value in the saved notebook', async () => {
  const out = path.join(tmp, 'out.ipynb');
  const r = await run([path.join(REPO_ROOT, 'test', 'support', 'fixtures', 'update-values.ipynb'), out]);
  expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
  // each value formatted exactly as display() formats it; cell 4 updates cell 0's display
  const texts = ["'done, from a later cell'", '42', "[ 'api', 'db' ]", "{ service: 'api', replicas: 3 }"];
  expect(readOut(out).cells.map((c) => c.outputs)).toEqual([
    ...texts.map((text) => [{ output_type: 'display_data', data: { 'text/plain': text }, metadata: {} }]),
    [],
  ]);
  expectValidNbformat(out);
});

const describePrometheus = prometheusAvailable() || mustRun ? describe : describe.skip;
describePrometheus('--html with %promql charts (a real Prometheus)', () => {
  let prometheus: PrometheusHandle;
  beforeAll(async () => {
    prometheus = await startPrometheus();
  });
  afterAll(async () => {
    await prometheus?.stop();
  });

  test('the report is self-contained: plotly.js inline exactly once, no http(s) script, every chart there', async () => {
    const out = path.join(tmp, 'charts.ipynb');
    const report = path.join(tmp, 'report.html');
    const r = await run([fixture('charts.ipynb'), out, '--html', report], { env: { PROMETHEUS_URL: prometheus.url } });
    expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
    const html = readFileSync(report, 'utf8');
    const version = (JSON.parse(readFileSync(require.resolve(`${PLOTLY_PACKAGE}/package.json`), 'utf8')) as { version: string }).version;
    expect(plotlyBanner()).toMatch(new RegExp(`^plotly\\.js\\b.* v${version.replace(/\./g, '\\.')}$`));
    expect(plotlyCopies(html)).toBe(1);
    expect(html.split('class="opsbook-chart"').length - 1).toBe(2);
    expect(html).not.toMatch(/<script[^>]*\ssrc\s*=\s*["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/<link[^>]*\shref\s*=\s*["']?(https?:)?\/\//i);
    expect(html).not.toContain('application/vnd.plotly.v1+json');
    expect(html).toContain('<h1>Charts</h1>');
    expect(html).toContain('<span class="ansi-red-fg">red text</span>');
    expect(html).toContain('In [3]:');
  });
});

const describePushgateway = pushgatewayAvailable() || mustRun ? describe : describe.skip;
describePushgateway('--pushgateway (a real Pushgateway)', () => {
  let pushgateway: PushgatewayHandle;
  beforeAll(async () => {
    if (!pushgatewayAvailable()) throw new Error(pushgatewayMissingMessage());
    pushgateway = await startPushgateway();
  });
  afterAll(async () => {
    await pushgateway?.stop();
  });

  test('counters keep counting across runs; the runner adds its own gauges', async () => {
    const group = { job: 'opsbook', notebook: 'metrics' };
    const first = await run([fixture('metrics.ipynb'), path.join(tmp, 'one.ipynb'), '--pushgateway', pushgateway.url]);
    expect({ code: first.code, stderr: first.stderr }).toMatchObject({ code: 0 });
    let groups = await pushedGroups(pushgateway.url);
    expect(pushedValue(groups, group, 'opsbook_cells_executed_total', { status: 'ok' })).toBe(2);
    expect(pushedValue(groups, group, 'opsbook_runbook_last_run_success')).toBe(1);
    expect(pushedValue(groups, group, 'opsbook_runbook_cells', { status: 'completed' })).toBe(2);
    expect(pushedValue(groups, group, 'opsbook_runbook_last_run_duration_seconds')).toBeGreaterThan(0);
    const firstStamp = pushedValue(groups, group, 'opsbook_runbook_last_run_timestamp_seconds') as number;
    expect(Math.abs(firstStamp - Date.now() / 1000)).toBeLessThan(60);

    const second = await run([fixture('metrics.ipynb'), path.join(tmp, 'two.ipynb'), '--pushgateway', pushgateway.url]);
    expect(second.code).toBe(0);
    groups = await pushedGroups(pushgateway.url);
    // the kernel starts from the counters pushed before (OPSBOOK_METRICS_BASELINE): the sum of both runs
    expect(pushedValue(groups, group, 'opsbook_cells_executed_total', { status: 'ok' })).toBe(4);
    expect(pushedValue(groups, group, 'opsbook_runbook_last_run_timestamp_seconds')).toBeGreaterThanOrEqual(firstStamp);

    // a failed run is pushed too, in its own notebook's group
    const failed = await run([fixture('failing.ipynb'), path.join(tmp, 'failed.ipynb'), '--pushgateway', pushgateway.url]);
    expect(failed.code).toBe(1);
    groups = await pushedGroups(pushgateway.url);
    const failing = { job: 'opsbook', notebook: 'failing' };
    expect(pushedValue(groups, failing, 'opsbook_runbook_last_run_success')).toBe(0);
    expect(pushedValue(groups, failing, 'opsbook_runbook_cells', { status: 'failed' })).toBe(1);
    expect(pushedValue(groups, failing, 'opsbook_runbook_cells', { status: 'pending' })).toBe(1);
    expect(pushedValue(groups, failing, 'opsbook_cells_executed_total', { status: 'error' })).toBe(1);
  });

  test('a notebook name that cannot go in a URL path is pushed with the @base64 form', async () => {
    const odd = path.join(tmp, 'odd name é.ipynb');
    copyFileSync(fixture('metrics.ipynb'), odd);
    const r = await run([odd, path.join(tmp, 'out.ipynb'), '--pushgateway', pushgateway.url]);
    expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
    expect(pushedValue(await pushedGroups(pushgateway.url), { job: 'opsbook', notebook: 'odd name é' }, 'opsbook_runbook_last_run_success')).toBe(1);
  });

  test('an unreachable Pushgateway is exit 2 with one line, before any cell runs', async () => {
    const port = await freePort();
    const out = path.join(tmp, 'out.ipynb');
    const r = await run([fixture('metrics.ipynb'), out, '--pushgateway', `http://127.0.0.1:${port}`]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([`opsbook run: the Pushgateway at http://127.0.0.1:${port} does not answer (ECONNREFUSED): check --pushgateway and that it runs`]);
    expect(existsSync(out)).toBe(false);
  });

  test('a push the Pushgateway refuses is exit 3 when the run itself succeeded', async () => {
    const refusing = http.createServer((req, res) => {
      req.resume();
      if (req.method === 'GET') res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"status":"success","data":[]}');
      else res.writeHead(500).end('storage full\n');
    });
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
    try {
      const out = path.join(tmp, 'out.ipynb');
      const r = await run([fixture('metrics.ipynb'), out, '--pushgateway', `http://127.0.0.1:${(refusing.address() as AddressInfo).port}`]);
      expect(r.code).toBe(3);
      expect(r.stderr).toContain("the Pushgateway refused the run's metrics");
      expect(r.stderr).toContain('HTTP 500, storage full');
      expect(readOut(out).cells.map(status)).toEqual(['completed', 'completed']);
    } finally {
      await new Promise<void>((resolve) => refusing.close(() => resolve()));
    }
  });
});
