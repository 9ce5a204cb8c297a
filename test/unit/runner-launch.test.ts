// Unit tests of how `opsbook run` starts its kernel: ready only once kernel_info is answered and IOPub delivers;
// a kernel that exits or never answers is a clear SetupError (with its last output) and is not left running;
// a SIGINT/SIGTERM during the start aborts it; shutdown ends the process and removes the connection file.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SetupError } from '../../kernel/runner/errors';
import { freePorts } from '../../kernel/protocol/connection';
import { KernelProcess, launchKernel } from '../../kernel/runner/launch';
import { CLI } from '../support/kernel-process';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'opsbook-launch-unit-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A stand-in for cli.js: `node <script> kernel -f <file>` runs this script. */
function fakeCli(body: string): string {
  const file = path.join(dir, 'fake-cli.js');
  writeFileSync(file, body);
  return file;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('a kernel that exits before it is ready is a SetupError with its exit code and last output', async () => {
  const cli = fakeCli("process.stderr.write('boom: cannot bind the shell port\\n'); process.exit(3);");
  const error = await launchKernel({ cwd: dir, startTimeoutMs: 10_000, cli }).catch((e: Error) => e);
  expect(error).toBeInstanceOf(SetupError);
  expect((error as Error).message).toBe('the kernel exited (exit code 3) before it was ready; its last output:\nboom: cannot bind the shell port');
});

test('a kernel that never answers fails after --start-timeout and is killed', async () => {
  const pidFile = path.join(dir, 'pid');
  const cli = fakeCli(`require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setInterval(() => undefined, 1000);`);
  const t0 = Date.now();
  const error = await launchKernel({ cwd: dir, startTimeoutMs: 1000, cli }).catch((e: Error) => e);
  expect(Date.now() - t0).toBeLessThan(8000);
  expect((error as Error).message).toMatch(/^the kernel did not answer within 1 s \(--start-timeout\)/);
  const pid = Number(require('node:fs').readFileSync(pidFile, 'utf8'));
  expect(alive(pid)).toBe(false);
});

test('an abort (a signal to the runner) stops the start at once', async () => {
  const cli = fakeCli('setInterval(() => undefined, 1000);');
  const abort = new AbortController();
  setTimeout(() => abort.abort(), 200);
  const t0 = Date.now();
  const error = await launchKernel({ cwd: dir, startTimeoutMs: 30_000, cli, signal: abort.signal }).catch((e: Error) => e);
  expect((error as Error).message).toBe('stopped while the kernel was starting');
  expect(Date.now() - t0).toBeLessThan(5000);
});

test('a missing build is named', async () => {
  await expect(launchKernel({ cwd: dir, startTimeoutMs: 1000, cli: path.join(dir, 'nope', 'cli.js') })).rejects.toThrow(/the kernel is not built: .*nope\/cli.js is missing \(run npm run build\)/);
});

test('the real kernel starts ready in the given folder, answers, and shuts down cleanly', async () => {
  let kernel: KernelProcess | undefined;
  try {
    kernel = await launchKernel({ cwd: dir, startTimeoutMs: 30_000, cli: CLI, env: { OPSBOOK_HISTORY_FILE: path.join(dir, 'history.jsonl') } });
    expect(kernel.alive).toBe(true);
    expect(kernel.languageInfo).toMatchObject({ name: 'typescript' });
    expect(kernel.info).toMatchObject({ transport: 'tcp', ip: '127.0.0.1', signature_scheme: 'hmac-sha256' });
    expect(kernel.info.key).toMatch(/^[0-9a-f]{64}$/);
    const pid = kernel.child.pid as number;
    const connectionDir = path.dirname(kernel.child.spawnargs[kernel.child.spawnargs.length - 1]);
    expect(existsSync(connectionDir)).toBe(true);
    await kernel.shutdown();
    expect(kernel.alive).toBe(false);
    expect(kernel.exit).toEqual({ code: 0, signal: null });
    expect(alive(pid)).toBe(false);
    expect(existsSync(connectionDir)).toBe(false);
  } finally {
    kernel?.kill();
  }
});

test('free ports are distinct', async () => {
  const ports = await freePorts(5);
  expect(new Set(ports).size).toBe(5);
  for (const p of ports) expect(p).toBeGreaterThan(0);
});
