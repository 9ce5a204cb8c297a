// The runbook notebooks (notebooks/*.ipynb) executed headless against real parts: the kernel installed into an
// isolated Jupyter, the Docker engine and local base images, and this test's own Prometheus and Pushgateway
// (notebooks/stack/stack.ts, free ports, folders under a temp dir; Prometheus scrapes every version the notebooks
// deploy on its container, and the service's proxy). Every notebook runs through nbconvert with its parameters from
// the environment (PROMETHEUS_URL, OPSBOOK_APP_PORT, OPSBOOK_SERVICE: a service name unique to this run);
// deploy-and-monitor also the way papermill runs it (an injected `-l python` parameters cell); incident-triage
// (rollback) and dora through `opsbook run --pushgateway`; canary last through `opsbook run` (it leaves another
// version serving). Asserts on the executed notebooks: no unexpected errors, the deploy's audit line, the refused
// deploy, the old version still serving, charts with data, the %ps table, the rollback, the pushed DORA counters, the
// canary promoted and the bad one rolled back by its analysis with no error output.
// Everything created carries a label and is removed. Skipped with a warning when Docker, Prometheus, the
// Pushgateway or nbconvert is missing, except with CI=true, where it fails instead.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { dockerAvailable, dockerStartable, ensureDocker } from '../../notebooks/stack/engine';
import { ensureBaseImages } from '../../notebooks/stack/base-images';
import { ensureProxyImage } from '../../notebooks/stack/proxy-image';
import { removeByLabel } from '../support/docker';
import { Jupyter, PYTHON, describeRun, installKernel, isolatedJupyter, removeIsolatedJupyters, run } from '../support/jupyter-env';
import { CLI, REPO_ROOT } from '../support/kernel-process';
import { PROMETHEUS_BIN, PUSHGATEWAY_BIN } from '../../notebooks/stack/prometheus';
import { SAMPLE_APP_DIR, prepareSampleApp } from '../../notebooks/stack/sample-app';
import { StackState, downServers, notebookEnv, upServers } from '../../notebooks/stack/stack';

const NOTEBOOKS = path.join(REPO_ROOT, 'notebooks');
const mustRun = process.env.CI === 'true';
const missing = [
  ...(dockerAvailable() || dockerStartable() ? [] : ['a Docker engine (docker.io, dockerd)']),
  ...(existsSync(PROMETHEUS_BIN) ? [] : [PROMETHEUS_BIN]),
  ...(existsSync(PUSHGATEWAY_BIN) ? [] : [PUSHGATEWAY_BIN]),
  ...(existsSync('/usr/bin/jupyter-nbconvert') ? [] : ['/usr/bin/jupyter-nbconvert']),
];
if (missing.length > 0 && !mustRun) console.warn(`notebooks: SKIPPED, missing ${missing.join(', ')} (bash notebooks/stack/install-system-deps.sh installs them); with CI=true this suite fails instead`);
const describeNotebooks = missing.length === 0 || mustRun ? describe : describe.skip;

const RUN = `${process.pid}-${randomBytes(3).toString('hex')}`;
/** The service every notebook works on in this run; its containers and images carry opsbook.service=<it>. */
const SERVICE = `opsbook-nbtest-${RUN}`;
const SERVICE_LABEL = `opsbook.service=${SERVICE}`;

// ---------------------------------------------------------------------------------------------------------------
// Executed notebooks

interface Output {
  output_type: string;
  name?: string;
  text?: string | string[];
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
  traceback?: string[];
}

interface Cell {
  cell_type: string;
  id?: string;
  source: string | string[];
  metadata: { tags?: string[] };
  execution_count?: number | null;
  outputs?: Output[];
}

interface Notebook {
  cells: Cell[];
  metadata: Record<string, unknown>;
  nbformat: number;
  nbformat_minor: number;
}

interface PlotlyFigure {
  data: Array<{ name?: string; y?: Array<number | null> }>;
  layout: { title?: { text?: string }; shapes?: Array<{ label?: { text?: string } }> };
}

const joined = (text: string | string[] | undefined): string => (Array.isArray(text) ? text.join('') : text ?? '');
const sourceOf = (cell: Cell): string => joined(cell.source);
const tagsOf = (cell: Cell): string[] => cell.metadata.tags ?? [];
const codeCells = (nb: Notebook): Cell[] => nb.cells.filter((c) => c.cell_type === 'code');

/** Every text an output carries: stream text, text/plain, text/html, error name, value and traceback. */
function outputText(o: Output): string {
  const data = o.data ?? {};
  return [joined(o.text), joined(data['text/plain'] as string | string[] | undefined), joined(data['text/html'] as string | string[] | undefined), o.ename ?? '', o.evalue ?? '', (o.traceback ?? []).join('\n')].join('\n');
}

function cellText(cell: Cell): string {
  return (cell.outputs ?? []).map(outputText).join('\n');
}

function allText(nb: Notebook): string {
  return codeCells(nb).map(cellText).join('\n');
}

/** The first code cell whose source contains `needle`. */
function cellWith(nb: Notebook, needle: string): Cell {
  const cell = codeCells(nb).find((c) => sourceOf(c).includes(needle));
  if (!cell) throw new Error(`no code cell contains ${JSON.stringify(needle)}`);
  return cell;
}

/** Errors in cells not tagged raises-exception, as "cell N: Name: value" lines (an empty list is what we want). */
function unexpectedErrors(nb: Notebook): string[] {
  return codeCells(nb).flatMap((cell, i) =>
    tagsOf(cell).includes('raises-exception') ? [] : (cell.outputs ?? []).filter((o) => o.output_type === 'error').map((o) => `code cell ${i + 1}: ${o.ename}: ${o.evalue}\n${(o.traceback ?? []).join('\n')}`),
  );
}

/** Code cells that did not run (nbconvert stops at the first unexpected error). */
function notExecuted(nb: Notebook): number[] {
  return codeCells(nb).flatMap((cell, i) => (cell.execution_count === null || cell.execution_count === undefined ? [i + 1] : []));
}

/** The Plotly figures a cell's outputs carry. */
function figures(cell: Cell): PlotlyFigure[] {
  return (cell.outputs ?? []).flatMap((o) => {
    const figure = o.data?.['application/vnd.plotly.v1+json'];
    return figure ? [figure as PlotlyFigure] : [];
  });
}

/** How many non-null points the figure's series have, in all. */
function points(figure: PlotlyFigure): number {
  return figure.data.reduce((n, trace) => n + (trace.y ?? []).filter((y) => y !== null).length, 0);
}

function readNotebook(file: string): Notebook {
  return JSON.parse(readFileSync(file, 'utf8')) as Notebook;
}

/**
 * A copy of the notebook the way `papermill -k opsbook -l python -p ...` runs it: a cell tagged
 * `injected-parameters` right after the one tagged `parameters`, holding Python literals (papermill's
 * PythonTranslator: double-quoted strings, ints, True/False).
 */
function withPapermillParameters(nb: Notebook, parameters: Record<string, string | number | boolean>): Notebook {
  const literal = (v: string | number | boolean): string => (typeof v === 'boolean' ? (v ? 'True' : 'False') : typeof v === 'number' ? String(v) : JSON.stringify(v));
  const source = ['# Parameters\n', ...Object.entries(parameters).map(([k, v]) => `${k} = ${literal(v)}\n`)];
  const injected: Cell = { cell_type: 'code', id: `injected-${randomBytes(4).toString('hex')}`, metadata: { tags: ['injected-parameters'] }, source, execution_count: null, outputs: [] };
  const at = nb.cells.findIndex((c) => tagsOf(c).includes('parameters'));
  if (at < 0) throw new Error('the notebook has no cell tagged parameters');
  return { ...nb, cells: [...nb.cells.slice(0, at + 1), injected, ...nb.cells.slice(at + 1)] };
}

async function getText(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: response.status, body: (await response.text()).trim() };
}

// ---------------------------------------------------------------------------------------------------------------

describeNotebooks('runbook notebooks executed by nbconvert against Docker, Prometheus and a Pushgateway', () => {
  let tmp: string;
  let outDir: string;
  let stack: StackState;
  let jupyter: Jupyter;
  const timings: string[] = [];

  /** Executes `file` with nbconvert (the opsbook kernel, the stack's environment); returns the executed notebook. */
  async function execute(file: string, label: string): Promise<Notebook> {
    const output = `${label}.executed.ipynb`;
    const env = { ...jupyter.env, ...notebookEnv(stack), OPSBOOK_SERVICE: SERVICE };
    const r = await run(PYTHON, ['-m', 'nbconvert', '--to', 'notebook', '--execute', '--ExecutePreprocessor.kernel_name=opsbook', '--ExecutePreprocessor.timeout=180', '--output-dir', outDir, '--output', output, file], { env, timeoutMs: 200_000 });
    timings.push(`${label}: ${(r.ms / 1000).toFixed(1)} s`);
    if (r.code !== 0) throw new Error(describeRun(`nbconvert --execute ${file}`, r));
    return readNotebook(path.join(outDir, output));
  }

  beforeAll(async () => {
    if (missing.length > 0) throw new Error(`CI=true: the notebook suite must run, but ${missing.join(', ')} is missing (bash notebooks/stack/install-system-deps.sh)`);
    tmp = mkdtempSync(path.join(os.tmpdir(), 'opsbook-notebooks-'));
    outDir = path.join(tmp, 'out');
    mkdirSync(outDir);
    await ensureDocker();
    await ensureBaseImages();
    // the notebooks' deploys put this image in front of the service (notebookEnv sets OPSBOOK_PROXY_IMAGE)
    await ensureProxyImage();
    await prepareSampleApp();
    stack = (await upServers({ dir: path.join(tmp, 'stack'), service: SERVICE, killOnExit: true })).state;
    jupyter = isolatedJupyter();
    await installKernel(jupyter);
  }, 240_000);

  afterAll(async () => {
    if (stack) await downServers(stack);
    // the service's containers (versions, audit records, lock) and the images the notebooks built carry the label
    if (missing.length === 0) await removeByLabel(SERVICE_LABEL);
    removeIsolatedJupyters();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    if (timings.length > 0) console.log(`notebook run times: ${timings.join(', ')}`);
  }, 120_000);

  test('deploy-and-monitor: builds, deploys 0.9.0 then 1.0.0 health-gated with traffic across (0 failed), charts it from the app and the proxy, refuses the unhealthy version, the old one keeps serving', async () => {
    const nb = await execute(path.join(NOTEBOOKS, 'deploy-and-monitor.ipynb'), 'deploy-and-monitor');
    expect(unexpectedErrors(nb)).toEqual([]);
    expect(notExecuted(nb)).toEqual([]);
    const text = allText(nb);
    expect(text).toContain(`built ${SERVICE}:1.0.0`);
    // nothing served yet: the previous version first, then the release replaces it through the proxy
    expect(text).toMatch(new RegExp(`\\[audit\\] deploy ${SERVICE}:0\\.9\\.0 \\([0-9a-f]{12}\\) to ${SERVICE} by \\S+@\\S+ at \\S+: deployed in [\\d.]+ s, first deploy`));
    expect(text).toMatch(new RegExp(`\\[audit\\] deploy ${SERVICE}:1\\.0\\.0 \\([0-9a-f]{12}\\) to ${SERVICE} by \\S+@\\S+ at \\S+: deployed in [\\d.]+ s, previous [0-9a-f]{12}, switched in \\d+ ms with no gap`));
    // the clients ran across the deploy: both versions answered, not one request failed, and the notebook checked it
    expect(cellText(cellWith(nb, 'if (sent.failed > 0)'))).toMatch(/\d+ requests across the deploy of 1\.0\.0: 0 failed, 0 refused; versions that answered: 0\.9\.0 then 1\.0\.0/);
    // the cutover from the proxy's side: requests per version from HAProxy's metrics, the deploy marked
    const atProxy = figures(cellWith(nb, 'haproxy_server_http_responses_total'));
    expect(atProxy).toHaveLength(1);
    expect(atProxy[0].data.map((t) => t.name)).toEqual(expect.arrayContaining(['0.9.0 2xx', '1.0.0 2xx']));
    expect(points(atProxy[0])).toBeGreaterThanOrEqual(3);
    expect(atProxy[0].layout.shapes?.map((s) => s.label?.text)).toContain('deployed 1.0.0');

    // the unhealthy version: refused in the cell tagged raises-exception, with why, and audited
    const bad = cellWith(nb, ':${badVersion} --name');
    expect(tagsOf(bad)).toContain('raises-exception');
    const errors = (bad.outputs ?? []).filter((o) => o.output_type === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0].ename).toBe('MagicError');
    expect(errors[0].evalue).toMatch(new RegExp(`^deploy of ${SERVICE}:1\\.0\\.0-unhealthy to ${SERVICE} failed: .*; ${SERVICE}-\\w+ \\(${SERVICE}:1\\.0\\.0\\) keeps serving$`));
    const why = (errors[0].traceback ?? []).join('\n');
    expect(why).toContain('last log lines:');
    expect(why).toMatch(/health checks:[\s\S]*GET http:\/\/127\.0\.0\.1:8080\/healthz: HTTP 500/);
    expect(cellText(bad)).toMatch(new RegExp(`\\[audit\\] deploy ${SERVICE}:1\\.0\\.0-unhealthy .*: failed: `));

    // the old version still serves: the notebook's own check, and ours
    expect(cellText(cellWith(nb, 'await during.stop()'))).toContain('old version still serves: "hello from opsbook-sample-app 1.0.0"');
    expect(await getText(`http://127.0.0.1:${stack.appPort}/`)).toEqual({ status: 200, body: 'hello from opsbook-sample-app 1.0.0' });

    // charts: the request rate has data, and the deploy (and, later, the refused deploy) is marked
    const rate = figures(cellWith(nb, 'const rates = %promql'));
    expect(rate).toHaveLength(1);
    expect(rate[0].data.map((t) => t.name)).toEqual(expect.arrayContaining(['1.0.0 200', '1.0.0 500']));
    expect(points(rate[0])).toBeGreaterThanOrEqual(3);
    expect(rate[0].layout.shapes?.map((s) => s.label?.text)).toContain('deployed 1.0.0');
    const charts = codeCells(nb).flatMap(figures);
    expect(charts.length).toBeGreaterThanOrEqual(5);
    expect(charts.every((f) => points(f) > 0)).toBe(true);
    const again = figures(codeCells(nb).filter((c) => sourceOf(c).includes('refused"'))[0]);
    expect(again[0].layout.shapes?.map((s) => s.label?.text)).toEqual(['deployed 1.0.0', '1.0.0-unhealthy refused']);

    // %ps: one running, healthy version of the service, and its proxy, which publishes the service's port, as a table
    const ps = (cellWith(nb, '%ps --filter').outputs ?? []).find((o) => o.output_type === 'display_data');
    expect(joined(ps?.data?.['text/html'] as string)).toContain('<table');
    const psText = joined(ps?.data?.['text/plain'] as string);
    expect(psText).toMatch(new RegExp(`${SERVICE} +${SERVICE}-\\w+ +${SERVICE}:1\\.0\\.0 +running +healthy `));
    expect(psText).toMatch(new RegExp(`${SERVICE} +opsbook-proxy-${SERVICE} +opsbook/haproxy:local +running .*\\b${stack.appPort}:${stack.appPort}/tcp`));
  }, 220_000);

  test('incident-triage: %ps, logs since, error and latency charts, and the rollback it would run (rollback = false)', async () => {
    const nb = await execute(path.join(NOTEBOOKS, 'incident-triage.ipynb'), 'incident-triage');
    expect(unexpectedErrors(nb)).toEqual([]);
    expect(notExecuted(nb)).toEqual([]);
    expect(cellText(cellWith(nb, 'const containers = %ps'))).toMatch(new RegExp(`${SERVICE}-\\w+: version 1\\.0\\.0, healthy, up`));
    expect(cellText(cellWith(nb, '%logs'))).toContain('opsbook-sample-app 1.0.0 listening on :8080');
    const errorRatio = figures(cellWith(nb, '--title "Error ratio"'));
    expect(errorRatio).toHaveLength(1);
    expect(points(errorRatio[0])).toBeGreaterThan(0);
    expect(points(figures(cellWith(nb, '--title "p95 latency"'))[0])).toBeGreaterThan(0);
    expect(cellText(cellWith(nb, 'if (rollback)'))).toContain(`%rollback ${SERVICE} --yes`);
    expect(await getText(`http://127.0.0.1:${stack.appPort}/`)).toEqual({ status: 200, body: 'hello from opsbook-sample-app 1.0.0' });
  }, 120_000);

  test('every other notebook in notebooks/ runs headless without unexpected errors; dora reads well without pushed runs', async () => {
    // canary.ipynb has a test of its own, last: it changes the version that serves
    const others = readdirSync(NOTEBOOKS).filter((f) => f.endsWith('.ipynb') && !['deploy-and-monitor.ipynb', 'incident-triage.ipynb', 'canary.ipynb'].includes(f)).sort();
    expect(others).toContain('dora.ipynb');
    for (const file of others) {
      const nb = await execute(path.join(NOTEBOOKS, file), path.basename(file, '.ipynb'));
      expect({ file, errors: unexpectedErrors(nb), notExecuted: notExecuted(nb) }).toEqual({ file, errors: [], notExecuted: [] });
      if (file === 'dora.ipynb') {
        // this test's Pushgateway holds no run yet: every query says so, none fails
        const empty = codeCells(nb).filter((c) => sourceOf(c).includes('%promql'));
        expect(empty.length).toBeGreaterThanOrEqual(6);
        for (const cell of empty) expect(cellText(cell)).toMatch(/no data for .* in (the last 1w|the instant)/);
      }
    }
  }, 200_000);

  test('dora charts the metrics in the form `opsbook run --pushgateway` pushes (pushed here by the test)', async () => {
    // What a runner's push holds (job="opsbook", grouping label notebook), twice, a few scrapes apart: increase()
    // and changes() need two samples. The runner itself is not involved here.
    const group = `${stack.pushgateway?.url}/metrics/job/opsbook/notebook/deploy-and-monitor`;
    const push = async (deployed: number, failed: number, restores: number, restoreSeconds: number): Promise<void> => {
      const body = [
        '# TYPE opsbook_deploys_total counter',
        `opsbook_deploys_total{service="${SERVICE}",outcome="deployed"} ${deployed}`,
        `opsbook_deploys_total{service="${SERVICE}",outcome="failed"} ${failed}`,
        '# TYPE opsbook_restores_total counter',
        `opsbook_restores_total{service="${SERVICE}"} ${restores}`,
        '# TYPE opsbook_restore_seconds_total counter',
        `opsbook_restore_seconds_total{service="${SERVICE}"} ${restoreSeconds}`,
        '# TYPE opsbook_runbook_last_run_success gauge',
        'opsbook_runbook_last_run_success 1',
        '# TYPE opsbook_runbook_last_run_timestamp_seconds gauge',
        `opsbook_runbook_last_run_timestamp_seconds ${Date.now() / 1000}`,
        '',
      ].join('\n');
      const response = await fetch(group, { method: 'PUT', body, signal: AbortSignal.timeout(5000) });
      expect(response.status).toBe(200);
    };
    await push(1, 1, 0, 0);
    await new Promise((r) => setTimeout(r, 5000));
    await push(3, 2, 1, 42);
    await new Promise((r) => setTimeout(r, 5000));
    const nb = await execute(path.join(NOTEBOOKS, 'dora.ipynb'), 'dora-with-runs');
    expect(unexpectedErrors(nb)).toEqual([]);
    for (const needle of ['outcome="deployed"}[${window}]', 'outcome="failed"}[${window}]', 'opsbook_restore_seconds_total', 'changes(opsbook_runbook_last_run_timestamp_seconds']) {
      const charts = figures(cellWith(nb, needle));
      expect({ needle, charts: charts.length }).toEqual({ needle, charts: 1 });
      expect({ needle, points: points(charts[0]) > 0 }).toEqual({ needle, points: true });
      expect(charts[0].data.map((t) => t.name)).toEqual([needle.startsWith('changes') ? 'deploy-and-monitor' : SERVICE]);
    }
    expect(cellText(cellWith(nb, 'opsbook_runbook_last_run_success'))).toContain('deploy-and-monitor');
    await fetch(group, { method: 'DELETE', signal: AbortSignal.timeout(5000) });
  }, 120_000);

  test('deploy-and-monitor run the way papermill runs it (-l python, injected parameters): version 1.1.0 replaces 1.0.0', async () => {
    const nb = withPapermillParameters(readNotebook(path.join(NOTEBOOKS, 'deploy-and-monitor.ipynb')), {
      service: SERVICE,
      version: '1.1.0',
      prometheus: stack.prometheus?.url ?? '',
      port: stack.appPort,
      confirm: false,
      traffic_seconds: 6,
      app_dir: SAMPLE_APP_DIR,
    });
    // outside notebooks/: the kernel runs in this folder, so the build context comes from the app_dir parameter
    const file = path.join(tmp, 'deploy-and-monitor.papermill.ipynb');
    writeFileSync(file, JSON.stringify(nb, null, 1));
    const executed = await execute(file, 'deploy-and-monitor (papermill parameters)');
    expect(unexpectedErrors(executed)).toEqual([]);
    expect(notExecuted(executed)).toEqual([]);
    expect(tagsOf(executed.cells[3])).toEqual(['injected-parameters']);
    const text = allText(executed);
    expect(text).toMatch(new RegExp(`\\[audit\\] deploy ${SERVICE}:1\\.1\\.0 \\([0-9a-f]{12}\\) to ${SERVICE} by .*: deployed in [\\d.]+ s, previous [0-9a-f]{12}`));
    expect(cellText(cellWith(executed, ':${badVersion} --name'))).toContain(`deploy of ${SERVICE}:1.1.0-unhealthy to ${SERVICE} failed`);
    expect(cellText(cellWith(executed, 'await during.stop()'))).toContain('old version still serves: "hello from opsbook-sample-app 1.1.0"');
    expect(await getText(`http://127.0.0.1:${stack.appPort}/`)).toEqual({ status: 200, body: 'hello from opsbook-sample-app 1.1.0' });
    const rate = figures(cellWith(executed, 'const rates = %promql'));
    expect(rate[0].data.map((t) => t.name)).toEqual(expect.arrayContaining(['1.1.0 200']));
  }, 200_000);

  test('`opsbook run --pushgateway`: incident-triage with -p rollback True rolls back to 1.0.0, and dora charts what the runs pushed', async () => {
    if (!existsSync(path.join(REPO_ROOT, 'dist', 'kernel', 'runner', 'main.js'))) throw new Error('dist/kernel/runner is missing: `opsbook run` is needed here (npm run build)');
    const pushgateway = stack.pushgateway?.url ?? '';
    const runner = async (notebook: string, label: string, parameters: string[]): Promise<Notebook> => {
      const output = path.join(outDir, `${label}.executed.ipynb`);
      const env = { ...jupyter.env, ...notebookEnv(stack), OPSBOOK_SERVICE: SERVICE };
      const r = await run(process.execPath, [CLI, 'run', path.join(NOTEBOOKS, notebook), output, ...parameters, '--pushgateway', pushgateway, '--timeout', '180'], { env, timeoutMs: 200_000 });
      timings.push(`${label} (opsbook run): ${(r.ms / 1000).toFixed(1)} s`);
      if (r.code !== 0) throw new Error(describeRun(`opsbook run ${notebook}`, r));
      return readNotebook(output);
    };

    // the rollback ends the failure the refused 1.1.0-unhealthy began: a restore, counted and pushed
    const triage = await runner('incident-triage.ipynb', 'incident-triage-rollback', ['-p', 'service', SERVICE, '-p', 'since', '10m', '-p', 'rollback', 'True']);
    expect(unexpectedErrors(triage)).toEqual([]);
    // recorded with the tag it went back to (not the image id), through the proxy with no gap
    expect(cellText(cellWith(triage, 'if (rollback)'))).toMatch(new RegExp(`\\[audit\\] rollback ${SERVICE}:[^ ]+ \\([0-9a-f]{12}\\) to ${SERVICE} by .*: rolled back in .* with no gap`));
    expect(await getText(`http://127.0.0.1:${stack.appPort}/`)).toEqual({ status: 200, body: 'hello from opsbook-sample-app 1.0.0' });

    // two scrapes later, dora shows the run and its restore in the all-runs tables
    await new Promise((r) => setTimeout(r, 5000));
    const dora = await runner('dora.ipynb', 'dora-after-runs', ['-p', 'notebook', 'incident-triage']);
    expect(unexpectedErrors(dora)).toEqual([]);
    expect(cellText(cellWith(dora, '--title "Restores so far"'))).toMatch(new RegExp(`${SERVICE} +1\\b`));
    expect(cellText(cellWith(dora, '--title "Mean time to restore, all runs"'))).toMatch(new RegExp(`${SERVICE} +[\\d.]+ ?[a-z]+`));
    expect(cellText(cellWith(dora, 'opsbook_runbook_last_run_success'))).toMatch(/incident-triage +1\b/);
  }, 120_000);
  test('canary through `opsbook run`: the good version promoted step by step, the bad one rolled back at its first step with the old one serving, both charted', async () => {
    // last in this suite: it leaves 2.0.0 serving (whatever served before is its starting point)
    const output = path.join(outDir, 'canary.executed.ipynb');
    const env = { ...jupyter.env, ...notebookEnv(stack), OPSBOOK_SERVICE: SERVICE };
    const r = await run(process.execPath, [CLI, 'run', path.join(NOTEBOOKS, 'canary.ipynb'), output, '--timeout', '240'], { env, timeoutMs: 300_000 });
    timings.push(`canary (opsbook run): ${(r.ms / 1000).toFixed(1)} s`);
    if (r.code !== 0) throw new Error(describeRun('opsbook run canary.ipynb', r));
    const nb = readNotebook(output);
    // no error output anywhere: the expected rollback is caught and checked by the runbook itself
    expect(unexpectedErrors(nb)).toEqual([]);
    expect(codeCells(nb).flatMap((c) => (c.outputs ?? []).filter((o) => o.output_type === 'error'))).toEqual([]);
    expect(notExecuted(nb)).toEqual([]);

    // the good version: judged at 10 % then 50 %, promoted, audited as a canary; the clients saw no failure
    const good = cellWith(nb, 'const promoted = %deploy');
    expect(cellText(good)).toMatch(new RegExp(`\\[audit\\] deploy \\(canary\\) ${SERVICE}:2\\.0\\.0 \\([0-9a-f]{12}\\) to ${SERVICE} by .*: deployed in [\\d.]+ s`));
    expect(cellText(good)).toMatch(/2\.0\.0 promoted: \d+ requests during the canary, none failed; answered by .*2\.0\.0 \d+/);

    // the bad version: rolled back at its first step by the analysis, with its value, no request failed
    const bad = cellWith(nb, 'let rollback');
    expect(cellText(bad)).toMatch(new RegExp(`rolled back, as expected: canary of ${SERVICE}:2\\.1\\.0 to ${SERVICE} failed: errors was [0-9.]+, not < 0\\.05 at step 1 of 3 \\(10%\\); rolled back: ${SERVICE}-\\w+ \\(${SERVICE}:2\\.0\\.0\\) serves every request; the new version is stopped and kept as ${SERVICE}-\\w+-candidate`));
    expect(cellText(bad)).toMatch(new RegExp(`\\[audit\\] deploy \\(canary\\) ${SERVICE}:2\\.1\\.0 .*: failed: errors was`));
    expect(cellText(cellWith(nb, 'const now = await get()'))).toMatch(/old version still serves: "hello from opsbook-sample-app 2\.0\.0"; during the failed canary \d+ requests, none failed: 2\.1\.0 answered \d+ and failed [1-9]\d* itself/);
    expect(await getText(`http://127.0.0.1:${stack.appPort}/`)).toEqual({ status: 200, body: 'hello from opsbook-sample-app 2.0.0' });

    // both rollouts charted from the app's own metrics, per version, marked
    const marks = ['canary 2.0.0', '2.0.0 promoted', 'canary 2.1.0', '2.1.0 rolled back'];
    for (const needle of ['--title "Requests per second per version"', '--title "Error ratio per version (the analysis)"']) {
      const charts = figures(cellWith(nb, needle));
      expect(charts).toHaveLength(1);
      expect(charts[0].data.map((t) => t.name)).toEqual(expect.arrayContaining(['2.0.0', '2.1.0']));
      expect(points(charts[0])).toBeGreaterThanOrEqual(3);
      expect(charts[0].layout.shapes?.map((s) => s.label?.text)).toEqual(expect.arrayContaining(marks));
    }
    // the bad version's error ratio went over the threshold in the chart too
    const ratio = figures(cellWith(nb, '--title "Error ratio per version'))[0].data.find((t) => t.name === '2.1.0');
    expect(Math.max(...(ratio?.y ?? []).filter((y): y is number => y !== null))).toBeGreaterThan(0.05);
  }, 320_000);
});
