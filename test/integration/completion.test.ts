// Completion and inspection over real ZeroMQ: module names after `import … from "` and `require("`, file paths, code-point cursors, signatures.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KernelClient } from '../support/kernel-client';
import { CLI, KernelProcess, makeConnection, spawnKernel } from '../support/kernel-process';

const points = (s: string): number => [...s].length;

let dir: string;
let kernel: KernelProcess;
let client: KernelClient;

/** The built kernel started in a notebook folder of its own (startTestKernel keeps the test's cwd). */
beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'opsbook-completion-'));
  for (const d of ['node_modules/chirp-lib', 'node_modules/@acme/widgets', 'data-dir']) mkdirSync(path.join(dir, d), { recursive: true });
  for (const f of ['data.csv', 'notes 😀.md']) writeFileSync(path.join(dir, f), 'x');
  kernel = spawnKernel([process.execPath, CLI, 'kernel', '-f', '{connection_file}'], await makeConnection(), { cwd: dir });
  client = new KernelClient(kernel.info);
  await client.connect();
  try {
    await client.ready();
  } catch (e) {
    kernel.child.kill('SIGKILL');
    throw new Error(`kernel did not answer kernel_info: ${(e as Error).message}\nstderr:\n${kernel.stderr()}`);
  }
});

afterAll(async () => {
  if (kernel.child.exitCode === null) {
    await client.request('shutdown_request', { restart: false }, { channel: 'control', timeoutMs: 3000 }).catch(() => undefined);
    const timer = setTimeout(() => kernel.child.kill('SIGKILL'), 5000);
    await kernel.exited;
    clearTimeout(timer);
  }
  client.close();
  kernel.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

async function completeAt(code: string): Promise<{ matches: string[]; cursor_start: number; cursor_end: number; cursor: number }> {
  const cursor = points(code);
  const r = await client.call('complete_request', { code, cursor_pos: cursor });
  expect(r.reply.header.msg_type).toBe('complete_reply');
  expect(r.reply.content.status).toBe('ok');
  expect(r.statuses).toEqual(['busy', 'idle']);
  const c = r.reply.content as { matches: string[]; cursor_start: number; cursor_end: number };
  expect(Array.isArray(c.matches)).toBe(true);
  return { ...c, cursor };
}

test('module names after import … from "fs', async () => {
  const r = await completeAt('import x from "fs');
  expect(r.matches).toEqual(expect.arrayContaining(['fs', 'fs/promises']));
  expect(r.matches.every((m) => m.startsWith('fs'))).toBe(true); // and any fs* package the folders above hold
  expect([r.cursor_start, r.cursor_end]).toEqual([r.cursor - 2, r.cursor]);
});

test('module names after require("chi: a Node builtin and a package of the notebook folder', async () => {
  const r = await completeAt('const 😀 = 1;\nconst cp = require("chi');
  expect(r.matches).toEqual(expect.arrayContaining(['child_process', 'chirp-lib']));
  expect(r.matches.every((m) => m.startsWith('chi'))).toBe(true);
  expect(r.matches).not.toContain('node:child_process');
  expect(r.cursor_start).toBe(r.cursor - 3);
});

test('scoped packages and the node: scheme', async () => {
  expect((await completeAt("import w from '@acme/")).matches).toEqual(['@acme/widgets']);
  expect((await completeAt('require("node:fs/')).matches).toEqual(['node:fs/promises']);
});

test('file paths inside a string, relative to the notebook folder, in code points', async () => {
  const r = await completeAt('const face = "😀🎉"; readFileSync("./da');
  expect(r.matches).toEqual(['data-dir/', 'data.csv']);
  expect(r.cursor_start).toBe(r.cursor - 2);
  const emoji = await completeAt('open("./notes ');
  expect(emoji.matches).toEqual(['notes 😀.md']);
  const abs = await completeAt(`open("${dir}/data-`);
  expect(abs.matches).toEqual(['data-dir/']);
});

test('a cell-defined function: completion of its name, inspection of its signature', async () => {
  const defined = await client.execute('/** Adds. */\nfunction addAll(first: number, second = 2, ...more: number[]): number { return first + second; }');
  expect(defined.reply.content.status).toBe('ok');
  expect((await completeAt('addA')).matches).toEqual(['addAll']);
  const r = await client.call('inspect_request', { code: 'addAll(1, ', cursor_pos: points('addAll(1, '), detail_level: 0 });
  expect(r.reply.content.found).toBe(true);
  const text = (r.reply.content.data as Record<string, string>)['text/plain'];
  expect(text).toContain('Signature: addAll(first, second = 2, ...more)');
  // the JSDoc was written in the defining cell, not in the code sent with the inspect request
  expect(text).toContain('Docstring:\nAdds.');
});

const LEGACY_ACCESSORS = ['__proto__', '__defineGetter__', '__defineSetter__', '__lookupGetter__', '__lookupSetter__'];
const OBJECT_MEMBERS = ['constructor', 'hasOwnProperty', 'isPrototypeOf', 'propertyIsEnumerable', 'toLocaleString', 'toString', 'valueOf'];

test('Math. lists its own members first, Object.prototype members after them, no legacy accessors', async () => {
  const r = await completeAt('Math.');
  const own = Object.getOwnPropertyNames(Math).filter((n) => /^[A-Za-z_$][\w$]*$/.test(n));
  expect(own.length).toBeGreaterThan(30);
  expect(new Set(r.matches.slice(0, own.length))).toEqual(new Set(own));
  expect(r.matches.slice(own.length)).toEqual(OBJECT_MEMBERS);
  for (const legacy of LEGACY_ACCESSORS) expect(r.matches).not.toContain(legacy);
  expect(r.matches.slice(0, 3)).toEqual(['abs', 'acos', 'acosh']); // IPython's order inside a group
  // asked for by name, a legacy accessor is still there
  expect((await completeAt('Math.__proto')).matches).toEqual(['__proto__']);
});

test('an object of a class: own fields, then its methods, then the parent class\'s, then Object\'s', async () => {
  const defined = await client.execute('class BaseSvc { stop() {} toString() { return "svc" } }\nclass WebSvc extends BaseSvc { constructor() { super(); this.replicas = 2; this.name = "api" } scale() {} }\nconst webSvc = new WebSvc()');
  expect(defined.reply.content.status).toBe('ok');
  const r = await completeAt('webSvc.');
  expect(r.matches).toEqual(['name', 'replicas', 'scale', 'stop', 'toString', 'constructor', 'hasOwnProperty', 'isPrototypeOf', 'propertyIsEnumerable', 'toLocaleString', 'valueOf']);
  // with a prefix, the same order
  expect((await completeAt('webSvc.s')).matches).toEqual(['scale', 'stop']);
  expect((await completeAt('webSvc.to')).matches).toEqual(['toString', 'toLocaleString']);
});

test('keys inside obj["…"] follow the same order and leave the legacy accessors out', async () => {
  const r = await completeAt('Math["');
  expect(r.matches[0]).toBe('abs');
  expect(r.matches.slice(-OBJECT_MEMBERS.length)).toEqual(OBJECT_MEMBERS);
  for (const legacy of LEGACY_ACCESSORS) expect(r.matches).not.toContain(legacy);
});
