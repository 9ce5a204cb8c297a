// Real Jupyter clients (kernelspec list, jupyter_client, jupyter_kernel_test, nbconvert, console, run) against opsbook installed into a temp prefix.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { CLI, REPO_ROOT } from '../support/kernel-process';
import { JUPYTER, Jupyter, PYTHON, describeRun, installKernel, isolatedJupyter, processesMentioning, removeIsolatedJupyters, run } from '../support/jupyter-env';
const SUPPORT = path.join(REPO_ROOT, 'test', 'support');
const FIXTURES = path.join(SUPPORT, 'fixtures');

jest.setTimeout(180_000);

// ---- an isolated Jupyter (test/support/jupyter-env.ts) -------------------------------------------

/**
 * Every kernel a Jupyter tool started under `root` must have ended once the tool has exited: by the tool's
 * shutdown_request, or by itself when the tool that started it is gone (jupyter_client passes JPY_PARENT_PID;
 * ipykernel exits with "Parent appears to have exited, shutting down").
 */
async function expectNoKernelLeft(root: string): Promise<void> {
  const deadline = Date.now() + 5000;
  let left = processesMentioning(root);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    left = processesMentioning(root);
  }
  const described = left.map((pid) => `kernel still running after its Jupyter tool exited: pid ${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ')}`);
  expect(described).toEqual([]);
}

async function installed(): Promise<Jupyter> {
  const j = isolatedJupyter();
  const r = await installKernel(j);
  expect(r.stdout).toContain(`Installed kernelspec opsbook in ${j.kernelDir}`);
  return j;
}

afterEach(removeIsolatedJupyters);

// ---- the Jupyter tools must be there (never skip) --------------------------------------------------

/** Python module, the command `jupyter <sub>` runs, and the Debian packages providing them (see notebooks/stack/install-system-deps.sh). */
const TOOLS: Record<string, { module: string; apt: string; command?: string }> = {
  jupyter_client: { module: 'jupyter_client', apt: 'python3-jupyter-client jupyter-client', command: '/usr/bin/jupyter-kernelspec' },
  jupyter_kernel_test: { module: 'jupyter_kernel_test', apt: 'python3-jupyter-kernel-test' },
  nbconvert: { module: 'nbconvert', apt: 'jupyter-nbconvert', command: '/usr/bin/jupyter-nbconvert' },
  jupyter_console: { module: 'jupyter_console', apt: 'jupyter-console', command: '/usr/bin/jupyter-console' },
};

/** Fails (in CI and everywhere else) with the Debian package to install when a Jupyter tool is missing. */
async function requireTool(name: keyof typeof TOOLS): Promise<void> {
  const tool = TOOLS[name];
  const hint = `install it with: apt-get install -y --no-install-recommends ${tool.apt} (PyPI is not used; ${PYTHON} must be Debian's python)`;
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing; ${hint}`);
  if (!existsSync(JUPYTER)) throw new Error(`${JUPYTER} is missing; install it with: apt-get install -y --no-install-recommends jupyter-core`);
  if (tool.command && !existsSync(tool.command)) throw new Error(`${tool.command} is missing; ${hint}`);
  const r = await run(PYTHON, ['-c', `import ${tool.module}`], { timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`Python module ${tool.module} cannot be imported by ${PYTHON}; ${hint}\n${r.stderr}`);
}

// ---- notebooks -------------------------------------------------------------------------------------

type Cell = { cell_type: string; source: string | string[]; execution_count?: number | null; outputs?: Output[] };
type Output = Record<string, unknown> & { output_type: string };

const joined = (v: unknown) => (Array.isArray(v) ? v.join('') : v);

/** An output with nbformat's multi-line strings joined, so assertions do not depend on line splitting. */
function normalized(o: Output): Record<string, unknown> {
  const out: Record<string, unknown> = { ...o };
  if ('text' in out) out.text = joined(out.text);
  if (out.data && typeof out.data === 'object') out.data = Object.fromEntries(Object.entries(out.data).map(([k, v]) => [k, joined(v)]));
  return out;
}

function codeCells(notebookFile: string): { count: number | null | undefined; outputs: Record<string, unknown>[] }[] {
  const nb = JSON.parse(readFileSync(notebookFile, 'utf8')) as { cells: Cell[] };
  return nb.cells.filter((c) => c.cell_type === 'code').map((c) => ({ count: c.execution_count, outputs: (c.outputs ?? []).map(normalized) }));
}

function nbconvertArgs(j: Jupyter, notebook: string, output: string, extra: string[] = []): string[] {
  return ['nbconvert', '--to', 'notebook', '--execute', '--ExecutePreprocessor.kernel_name=opsbook', '--ExecutePreprocessor.timeout=60',
    '--output-dir', path.join(j.root, 'out'), '--output', output, ...extra, notebook];
}

// ---- a. kernelspec list / uninstall ----------------------------------------------------------------

test('jupyter kernelspec list shows the installed opsbook, and opsbook uninstall removes it', async () => {
  await requireTool('jupyter_client');
  const j = await installed();

  const listed = await run(JUPYTER, ['kernelspec', 'list', '--json'], { env: j.env, timeoutMs: 60_000 });
  if (listed.code !== 0) throw new Error(describeRun('jupyter kernelspec list --json', listed));
  const specs = (JSON.parse(listed.stdout) as { kernelspecs: Record<string, { resource_dir: string; spec: Record<string, unknown> }> }).kernelspecs;
  expect(specs.opsbook?.resource_dir).toBe(j.kernelDir);
  expect(specs.opsbook.spec).toMatchObject({
    argv: [process.execPath, CLI, 'kernel', '-f', '{connection_file}'],
    display_name: 'TypeScript (opsbook)',
    language: 'typescript',
    interrupt_mode: 'message',
  });
  for (const logo of ['logo-32x32.png', 'logo-64x64.png', 'logo-svg.svg']) expect(existsSync(path.join(j.kernelDir, logo))).toBe(true);

  // The plain listing, through the module form of the same app.
  const plain = await run(PYTHON, ['-m', 'jupyter_client.kernelspecapp', 'list'], { env: j.env, timeoutMs: 60_000 });
  if (plain.code !== 0) throw new Error(describeRun('python3 -m jupyter_client.kernelspecapp list', plain));
  expect(plain.stdout).toMatch(new RegExp(`^\\s*opsbook\\s+${j.kernelDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`, 'm'));

  const removed = await run(process.execPath, [CLI, 'uninstall', '--prefix', j.prefix], { env: j.env, timeoutMs: 30_000 });
  expect(removed.code).toBe(0);
  expect(removed.stdout).toContain(`Removed kernelspec opsbook from ${j.kernelDir}`);
  expect(existsSync(j.kernelDir)).toBe(false);

  const after = await run(JUPYTER, ['kernelspec', 'list', '--json'], { env: j.env, timeoutMs: 60_000 });
  if (after.code !== 0) throw new Error(describeRun('jupyter kernelspec list --json (after uninstall)', after));
  const afterSpecs = (JSON.parse(after.stdout) as { kernelspecs: Record<string, { resource_dir: string }> }).kernelspecs;
  // (Only a system-wide install elsewhere could still show an opsbook here; ours must be gone.)
  expect(afterSpecs.opsbook?.resource_dir).not.toBe(j.kernelDir);

  // Uninstalling again is not an error, and says there was nothing there.
  const again = await run(process.execPath, [CLI, 'uninstall', '--prefix', j.prefix], { env: j.env, timeoutMs: 30_000 });
  expect(again.code).toBe(0);
  expect(again.stdout).toContain('No kernelspec opsbook is installed there');
});

// ---- b. jupyter_client KernelManager + BlockingKernelClient ----------------------------------------

test('jupyter_client KernelManager: kernel_info, execute, interrupt_kernel of a busy loop, shutdown_kernel', async () => {
  await requireTool('jupyter_client');
  const j = await installed();
  const r = await run(PYTHON, [path.join(SUPPORT, 'jupyter_client_drive.py'), 'opsbook'], { env: j.env, timeoutMs: 150_000 });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  let report: { pid: number; interrupt_mode: string; resource_dir: string; steps: Record<string, any> };
  try {
    report = JSON.parse(last);
  } catch {
    throw new Error(describeRun('jupyter_client_drive.py printed no JSON report', r));
  }
  if (r.code !== 0) throw new Error(describeRun('jupyter_client_drive.py', r));
  const { steps } = report;
  const stepErrors = Object.entries(steps).filter(([, v]) => v && typeof v === 'object' && 'error' in v).map(([k, v]) => `${k}: ${v.error}\n${v.traceback}`);
  expect(stepErrors).toEqual([]);

  expect(report.resource_dir).toBe(j.kernelDir);
  expect(report.interrupt_mode).toBe('message');

  expect(steps.kernel_info.msg_type).toBe('kernel_info_reply');
  expect(steps.kernel_info.content).toMatchObject({
    status: 'ok',
    implementation: 'opsbook',
    protocol_version: expect.stringMatching(/^5\.\d+$/),
    language_info: { name: 'typescript', file_extension: '.ts' },
  });

  expect(steps.execute.reply).toMatchObject({ status: 'ok', execution_count: 1 });
  expect(steps.execute.outputs.map((o: { msg_type: string }) => o.msg_type)).toEqual(['execute_input', 'stream', 'execute_result']);
  expect(steps.execute.outputs[1].content).toEqual({ name: 'stdout', text: 'hello from opsbook\n' });
  expect(steps.execute.outputs[2].content).toMatchObject({ execution_count: 1, data: { 'text/plain': '42' } });

  const int = steps.interrupt;
  expect(int.saw_busy).toBe(true);
  expect(int.early_reply).toBeNull(); // the loop was really running until the interrupt
  expect(int.reply).toMatchObject({ status: 'error', ename: 'KeyboardInterrupt', execution_count: 2 });
  expect(int.seconds_to_reply).toBeLessThan(5);
  expect(int.error_outputs).toEqual([expect.objectContaining({ ename: 'KeyboardInterrupt' })]);
  expect(int.idle).toBe(true);

  // Execution continues after the interrupt, with the state from before (and from the interrupted cell).
  expect(steps.after_interrupt.reply).toMatchObject({ status: 'ok', execution_count: 3 });
  const after = steps.after_interrupt.outputs.filter((o: { msg_type: string }) => o.msg_type !== 'execute_input');
  expect(after).toEqual([
    { msg_type: 'stream', content: { name: 'stdout', text: 'HELLO FROM OPSBOOK\n' } },
    { msg_type: 'execute_result', content: expect.objectContaining({ data: { 'text/plain': 'true' } }) },
  ]);

  expect(steps.alive_before_shutdown).toEqual({ is_alive: true, heartbeat: true });
  // shutdown_kernel(now=False): the kernel answered shutdown_request and exited by itself (code 0, not killed).
  expect(steps.shutdown).toMatchObject({ exit_code: 0, process_gone: true, is_alive_after: false });
  expect(steps.shutdown.seconds).toBeLessThan(5);
  await expectNoKernelLeft(j.root);
});

// ---- c. jupyter_kernel_test ------------------------------------------------------------------------

/** Every test of jupyter_kernel_test 0.4.5 that opsbook's samples enable; test_pager is the one left out on purpose. */
const KERNEL_TESTS_OK = [
  'test_clear_output', 'test_completion', 'test_display_data', 'test_error', 'test_execute_result', 'test_execute_stderr',
  'test_execute_stdout', 'test_history', 'test_inspect', 'test_is_complete', 'test_kernel_info',
];
const KERNEL_TESTS_SKIPPED = ['test_pager'];

interface UnittestOutcome {
  ran: number | undefined;
  summary: string | undefined;
  /** test name -> its verbose status ("ok", "skipped ''", "FAIL", "ERROR", or "" when subtests reported instead). */
  tests: Record<string, string>;
  /** "test (subtest params)" -> status, for every subtest line (a subtest line means a subtest failed or was skipped). */
  subtests: Record<string, string>;
  failures: string[];
}

function parseUnittest(output: string): UnittestOutcome {
  const tests: Record<string, string> = {};
  const subtests: Record<string, string> = {};
  for (const m of output.matchAll(/^(test_\w+) \([\w.]+\) \.\.\. ?(.*)$/gm)) tests[m[1]] = m[2].trim();
  for (const m of output.matchAll(/^\s+(test_\w+) \([\w.]+\) \((.*)\) \.\.\. (.*)$/gm)) subtests[`${m[1]} (${m[2]})`] = m[3].trim();
  const failures = [...output.matchAll(/^(FAIL|ERROR): (test_\w+) .*$/gm)].map((m) => m[0]);
  const ran = /^Ran (\d+) tests? in /m.exec(output);
  const summary = /^(OK(?: \(.*\))?|FAILED \(.*\))\s*$/m.exec(output);
  return { ran: ran ? Number(ran[1]) : undefined, summary: summary?.[1], tests, subtests, failures };
}

test('jupyter_kernel_test 0.4.5 passes with opsbook samples enabled', async () => {
  await requireTool('jupyter_kernel_test');
  const j = await installed();
  const r = await run(PYTHON, ['-W', 'ignore::DeprecationWarning', '-m', 'unittest', '-v', 'kernel_test_opsbook'], { env: { ...j.env, OPSBOOK_KERNEL_NAME: 'opsbook' }, cwd: SUPPORT, timeoutMs: 150_000 });
  const outcome = parseUnittest(`${r.stdout}\n${r.stderr}`);
  const expected: UnittestOutcome = {
    ran: KERNEL_TESTS_OK.length + KERNEL_TESTS_SKIPPED.length,
    summary: `OK (skipped=${KERNEL_TESTS_SKIPPED.length})`,
    tests: Object.fromEntries([...KERNEL_TESTS_OK.map((t) => [t, 'ok']), ...KERNEL_TESTS_SKIPPED.map((t) => [t, "skipped ''"])]),
    subtests: {},
    failures: [],
  };
  try {
    expect(outcome).toEqual(expected);
    expect(r.code).toBe(0);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n\n${describeRun('python3 -m unittest -v kernel_test_opsbook', r)}`);
  }
  await expectNoKernelLeft(j.root);
});

// ---- d. nbconvert --execute ------------------------------------------------------------------------

test('jupyter nbconvert --execute runs a notebook on opsbook and stores its outputs', async () => {
  await requireTool('nbconvert');
  const j = await installed();
  const r = await run(JUPYTER, nbconvertArgs(j, path.join(FIXTURES, 'jupyter-clients.ipynb'), 'executed'), { env: j.env, timeoutMs: 150_000 });
  if (r.code !== 0) throw new Error(describeRun('jupyter nbconvert --execute jupyter-clients.ipynb', r));
  const file = path.join(j.root, 'out', 'executed.ipynb');
  const nb = JSON.parse(readFileSync(file, 'utf8')) as { metadata: { language_info?: Record<string, unknown>; kernelspec?: Record<string, unknown> } };
  expect(nb.metadata.kernelspec).toMatchObject({ name: 'opsbook' });
  expect(nb.metadata.language_info).toMatchObject({ name: 'typescript', file_extension: '.ts' });
  expect(codeCells(file)).toEqual([
    { count: 1, outputs: [] },
    { count: 2, outputs: [{ output_type: 'stream', name: 'stdout', text: 'checkout runs 3 replicas\n' }] },
    { count: 3, outputs: [{ output_type: 'display_data', data: { 'text/html': '<b>checkout</b>', 'text/plain': 'checkout' }, metadata: {} }] },
    { count: 4, outputs: [{ output_type: 'execute_result', execution_count: 4, data: { 'text/plain': '6' }, metadata: {} }] },
  ]);
  await expectNoKernelLeft(j.root);
});

test('jupyter nbconvert --execute: a failing cell fails the run, unless --allow-errors', async () => {
  await requireTool('nbconvert');
  const j = await installed();
  const notebook = path.join(FIXTURES, 'jupyter-clients-error.ipynb');

  const strict = await run(JUPYTER, nbconvertArgs(j, notebook, 'strict'), { env: j.env, timeoutMs: 150_000 });
  expect(strict.code).not.toBe(0);
  expect(strict.code).not.toBeNull(); // failed by itself, not by our timeout
  expect(strict.stderr).toContain('CellExecutionError');
  expect(strict.stderr).toMatch(/TypeError: replica count must be positive/);
  expect(existsSync(path.join(j.root, 'out', 'strict.ipynb'))).toBe(false);
  await expectNoKernelLeft(j.root);

  const lenient = await run(JUPYTER, nbconvertArgs(j, notebook, 'lenient', ['--allow-errors']), { env: j.env, timeoutMs: 150_000 });
  if (lenient.code !== 0) throw new Error(describeRun('jupyter nbconvert --execute --allow-errors', lenient));
  const cells = codeCells(path.join(j.root, 'out', 'lenient.ipynb'));
  expect(cells).toHaveLength(3);
  expect(cells[0]).toEqual({ count: 1, outputs: [{ output_type: 'stream', name: 'stdout', text: 'ran before the error\n' }] });
  expect(cells[1].count).toBe(2);
  expect(cells[1].outputs).toEqual([
    { output_type: 'error', ename: 'TypeError', evalue: 'replica count must be positive', traceback: expect.arrayContaining(['TypeError: replica count must be positive']) },
  ]);
  // With errors allowed, execution goes on after the failing cell.
  expect(cells[2]).toEqual({
    count: 3,
    outputs: [
      { output_type: 'stream', name: 'stdout', text: 'ran after the error\n' },
      { output_type: 'execute_result', execution_count: 3, data: { 'text/plain': '2' }, metadata: {} },
    ],
  });
  await expectNoKernelLeft(j.root);
});

/** What update-values.ipynb's display handles must end as: each formatted exactly as display() formats the value. */
const UPDATED_VALUES = [
  "'done, from a later cell'", // cell 0's display, updated by cell 4
  '42',
  "[ 'api', 'db' ]",
  "{ service: 'api', replicas: 3 }",
];

test('jupyter nbconvert --execute: display handles updated with plain values keep the updated value', async () => {
  await requireTool('nbconvert');
  const j = await installed();
  const r = await run(JUPYTER, nbconvertArgs(j, path.join(FIXTURES, 'update-values.ipynb'), 'updated'), { env: j.env, timeoutMs: 150_000 });
  if (r.code !== 0) throw new Error(describeRun('jupyter nbconvert --execute update-values.ipynb', r));
  expect(codeCells(path.join(j.root, 'out', 'updated.ipynb'))).toEqual([
    ...UPDATED_VALUES.map((text, i) => ({ count: i + 1, outputs: [{ output_type: 'display_data', data: { 'text/plain': text }, metadata: {} }] })),
    { count: 5, outputs: [] },
  ]);
  await expectNoKernelLeft(j.root);
});

// ---- e. jupyter console / jupyter run --------------------------------------------------------------

test('jupyter console on a terminal: a multi-line function continues through is_complete, then runs', async () => {
  await requireTool('jupyter_console');
  const j = await installed();
  // the console waits 1 s for an is_complete_reply by default, then gives up on is_complete for the session; on a
  // loaded CI machine a kernel that just started can take longer (how fast it answers is the bench's business)
  const r = await run(PYTHON, [path.join(SUPPORT, 'jupyter_console_drive.py'), JUPYTER, 'console', '--kernel', 'opsbook', '--no-confirm-exit', '--ZMQTerminalInteractiveShell.kernel_is_complete_timeout=30'], { env: j.env, timeoutMs: 150_000 });
  let report: { steps: { label: string; found: boolean }[]; exit_code: number; transcript: string };
  try {
    report = JSON.parse(r.stdout.trim().split('\n').pop() ?? '');
  } catch {
    throw new Error(describeRun('jupyter_console_drive.py printed no JSON report', r));
  }
  const context = `\n--- console transcript ---\n${report.transcript}\n--- driver stderr ---\n${r.stderr}`;
  try {
    expect(report.steps.filter((s) => !s.found).map((s) => s.label)).toEqual([]);
    expect(report.steps.map((s) => s.label)).toEqual(['first prompt', 'a declaration', 'open a function', 'function body', 'close the function', 'call it', 'print']);
    expect(report.transcript).toContain('opsbook'); // the kernel's banner
    // `double` was defined by one three-line cell (In [2]); a line-by-line run would have failed and left it undefined.
    expect(report.transcript).toMatch(/^Out\[3\]: 42$/m);
    expect(report.transcript).toMatch(/^from console 20$/m);
    expect(report.transcript).not.toMatch(/SyntaxError|ReferenceError|is not defined/);
    expect(report.exit_code).toBe(0);
  } catch (e) {
    throw new Error(`${(e as Error).message}${context}`);
  }
  await expectNoKernelLeft(j.root);
});

test('jupyter console --simple-prompt reads cells from a pipe', async () => {
  await requireTool('jupyter_console');
  const j = await installed();
  // --simple-prompt sends each line as its own cell (jupyter_console 6.4 has no multi-line input there).
  const input = ['const n = 20', 'n * 2 + 2', 'console.log("piped", n)', ''].join('\n');
  const r = await run(JUPYTER, ['console', '--kernel', 'opsbook', '--simple-prompt', '--no-confirm-exit'], { env: j.env, input, timeoutMs: 120_000 });
  try {
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('opsbook');
    expect(r.stdout).toMatch(/Out\[2\]: 42\n/);
    expect(r.stdout).toMatch(/piped 20\n/);
    expect(r.stdout).toMatch(/In \[4\]: /);
    expect(`${r.stdout}\n${r.stderr}`).not.toMatch(/Error:/);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n\n${describeRun('jupyter console --simple-prompt', r)}`);
  }
  await expectNoKernelLeft(j.root);
});

const RUN_CODE = 'const n = 20\nfunction double(x) {\n  return x * 2\n}\nconsole.log("double", double(n))\ndouble(n) + 2\n';

test('jupyter run --kernel opsbook < code runs it as one cell and prints its output', async () => {
  await requireTool('jupyter_client');
  const j = await installed();
  const r = await run(JUPYTER, ['run', '--kernel', 'opsbook', '--RunApp.kernel_timeout=30'], { env: j.env, input: RUN_CODE, timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(describeRun('jupyter run --kernel opsbook < code', r));
  expect(r.stdout.trim().split('\n')).toEqual(['double 40', '42']);
  await expectNoKernelLeft(j.root);
});

test('jupyter run --kernel opsbook file.ts (the file name is also appended to the kernel command line)', async () => {
  await requireTool('jupyter_client');
  const j = await installed();
  // jupyter_client's RunApp passes its positional arguments to the kernel's argv as well as running them
  // (build_kernel_argv(extra_args)): the kernel is started as `... kernel -f <connection file> <file.ts>`.
  const file = path.join(j.root, 'script.ts');
  writeFileSync(file, RUN_CODE);
  const r = await run(JUPYTER, ['run', '--kernel', 'opsbook', '--RunApp.kernel_timeout=10', file], { env: j.env, timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(describeRun(`jupyter run --kernel opsbook ${file}`, r));
  expect(r.stdout.trim().split('\n')).toEqual(['double 40', '42']);
  await expectNoKernelLeft(j.root);
});
