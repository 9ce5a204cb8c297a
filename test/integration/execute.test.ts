// Execute semantics: execute_input/execute_result, error content, silent, store_history, user_expressions, stop_on_error.
import { startTestKernel, TestKernel } from '../support/kernel-client';
import type { Message } from '../../kernel/protocol/messages';

let k: TestKernel;
beforeAll(async () => {
  k = await startTestKernel();
});
afterAll(async () => {
  await k.stop();
});

const types = (outputs: Message[]) => outputs.map((m) => m.header.msg_type);

async function currentCount(): Promise<number> {
  // a silent execute does not advance the counter and reports the current one
  const r = await k.client.execute('undefined', { silent: true, store_history: false });
  return Number(r.reply.content.execution_count);
}

test('execute_input and execute_result carry the same, increasing execution_count', async () => {
  const a = await k.client.execute('const base = 20; base + 1');
  const b = await k.client.execute('base * 2');
  expect(types(a.outputs)).toEqual(['execute_input', 'execute_result']);
  const [inputA, resultA] = a.outputs;
  expect(inputA.content.code).toBe('const base = 20; base + 1');
  expect(inputA.content.execution_count).toBe(a.reply.content.execution_count);
  expect(resultA.content.execution_count).toBe(a.reply.content.execution_count);
  expect(resultA.content.data).toEqual({ 'text/plain': '21' });
  expect(resultA.content.metadata).toEqual({});
  expect(b.reply.content.execution_count).toBe(Number(a.reply.content.execution_count) + 1);
  expect(b.outputs[1].content.data).toEqual({ 'text/plain': '40' });
  expect(a.reply.content.status).toBe('ok');
  expect(a.reply.content.user_expressions).toEqual({});
  expect(a.statuses).toEqual(['busy', 'idle']);
});

test('a cell ending in a statement has no execute_result', async () => {
  const r = await k.client.execute('let quiet = 5;');
  expect(types(r.outputs)).toEqual(['execute_input']);
});

test('error: ename, evalue and a traceback without kernel or node-internal frames', async () => {
  const r = await k.client.execute('function boom() { throw new RangeError("too far") }\nfunction outer() { boom() }\nouter()');
  expect(r.reply.content.status).toBe('error');
  expect(r.reply.content.ename).toBe('RangeError');
  expect(r.reply.content.evalue).toBe('too far');
  const errors = r.outputs.filter((m) => m.header.msg_type === 'error');
  expect(errors).toHaveLength(1);
  const e = errors[0].content;
  expect(e.ename).toBe('RangeError');
  expect(e.evalue).toBe('too far');
  const traceback = e.traceback as string[];
  expect(Array.isArray(traceback)).toBe(true);
  expect(traceback[0]).toContain('RangeError: too far');
  expect(traceback.some((l) => l.includes('boom'))).toBe(true);
  for (const line of traceback) {
    expect(typeof line).toBe('string');
    expect(line).not.toMatch(/dist\/kernel|node:internal/);
  }
  expect(r.reply.content.traceback).toEqual(traceback);
  expect(types(r.outputs)).toEqual(['execute_input', 'error']);
});

test('a syntax error is an error reply and the kernel keeps working', async () => {
  const r = await k.client.execute('const = 3');
  expect(r.reply.content.status).toBe('error');
  expect(r.reply.content.ename).toBe('SyntaxError');
  const next = await k.client.execute('base + 2');
  expect(next.reply.content.status).toBe('ok');
  expect(next.outputs[1].content.data).toEqual({ 'text/plain': '22' });
});

test('a thrown non-Error value is reported', async () => {
  const r = await k.client.execute('throw "plain string"');
  expect(r.reply.content.status).toBe('error');
  expect(String(r.reply.content.evalue)).toContain('plain string');
});

test('silent: no execute_input, execute_result or stream, and the count does not advance', async () => {
  const before = await currentCount();
  const r = await k.client.execute('console.log("hidden"); console.error("hidden too"); globalThis.silentRan = true; 99', { silent: true });
  expect(r.reply.content.status).toBe('ok');
  expect(r.outputs).toEqual([]);
  expect(r.statuses).toEqual(['busy', 'idle']);
  expect(r.reply.content.execution_count).toBe(before);
  const next = await k.client.execute('silentRan');
  expect(next.reply.content.execution_count).toBe(before + 1);
  expect(next.outputs[1].content.data).toEqual({ 'text/plain': 'true' });
});

test('store_history false: the count does not advance and the cell is not in history', async () => {
  const before = await currentCount();
  const r = await k.client.execute('"not stored " + 1', { store_history: false });
  expect(r.reply.content.status).toBe('ok');
  expect(r.outputs.find((m) => m.header.msg_type === 'execute_result')?.content.data).toEqual({ 'text/plain': "'not stored 1'" });
  const next = await k.client.execute('"stored"');
  expect(next.reply.content.execution_count).toBe(before + 1);
  const history = await k.client.request('history_request', { hist_access_type: 'tail', n: 100, output: false, raw: true });
  const inputs = (history.content.history as Array<[number, number, string]>).map((h) => h[2]);
  expect(inputs).toContain('"stored"');
  expect(inputs).not.toContain('"not stored " + 1');
});

test('user_expressions: ok and error entries', async () => {
  const r = await k.client.execute('const ue = {n: 7}', {
    user_expressions: { good: 'ue.n * 6', bad: 'ue.missing.deeper', str: '"s" + ue.n' },
  });
  expect(r.reply.content.status).toBe('ok');
  const ue = r.reply.content.user_expressions as Record<string, Record<string, unknown>>;
  expect(ue.good).toEqual({ status: 'ok', data: { 'text/plain': '42' }, metadata: {} });
  expect(ue.str.status).toBe('ok');
  expect(ue.str.data).toEqual({ 'text/plain': "'s7'" });
  expect(ue.bad.status).toBe('error');
  expect(ue.bad.ename).toBe('TypeError');
  expect(typeof ue.bad.evalue).toBe('string');
  expect(Array.isArray(ue.bad.traceback)).toBe(true);
  // user_expressions produce no output of their own
  expect(types(r.outputs)).toEqual(['execute_input']);
});

describe('stop_on_error', () => {
  const failing = 'await new Promise((r) => setTimeout(r, 300)); throw new Error("first fails")';

  async function threeBackToBack(stopOnError: boolean): Promise<Message[]> {
    const opts = { silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: stopOnError };
    const replies = [
      k.client.request('execute_request', { ...opts, code: failing }),
      k.client.request('execute_request', { ...opts, code: 'globalThis.ranSecond = (globalThis.ranSecond ?? 0) + 1' }),
      k.client.request('execute_request', { ...opts, code: 'globalThis.ranThird = (globalThis.ranThird ?? 0) + 1' }),
    ];
    const out = await Promise.all(replies);
    for (const r of out) await k.client.waitIdle(String(r.parent_header.msg_id));
    return out;
  }

  test('true: the executes queued behind a failing one are aborted', async () => {
    const [first, second, third] = await threeBackToBack(true);
    expect(first.content.status).toBe('error');
    expect(first.content.evalue).toBe('first fails');
    expect(second.content.status).toBe('aborted');
    expect(third.content.status).toBe('aborted');
    for (const r of [second, third]) {
      expect(r.header.msg_type).toBe('execute_reply');
      const statuses = k.client.iopubFor(String(r.parent_header.msg_id)).filter((m) => m.header.msg_type === 'status').map((m) => m.content.execution_state);
      expect(statuses).toEqual(['busy', 'idle']);
    }
    const check = await k.client.execute('[globalThis.ranSecond, globalThis.ranThird]');
    expect(check.reply.content.status).toBe('ok');
    expect(check.outputs[1].content.data).toEqual({ 'text/plain': '[ undefined, undefined ]' });
  });

  test('false: the queued executes run', async () => {
    const [first, second, third] = await threeBackToBack(false);
    expect(first.content.status).toBe('error');
    expect(second.content.status).toBe('ok');
    expect(third.content.status).toBe('ok');
    const check = await k.client.execute('[globalThis.ranSecond, globalThis.ranThird]');
    expect(check.outputs[1].content.data).toEqual({ 'text/plain': '[ 1, 1 ]' });
  });

  test('executes sent after the failure has been handled are not aborted', async () => {
    const r = await k.client.execute('throw new Error("alone")');
    expect(r.reply.content.status).toBe('error');
    const next = await k.client.execute('"fine"');
    expect(next.reply.content.status).toBe('ok');
  });
});

describe('failures outside the flow of a cell never kill the kernel', () => {
  test('an exception thrown later in a timer is reported in the cell that started it', async () => {
    const a = await k.client.execute('setTimeout(() => { throw new Error("late boom") }, 100); "scheduled"');
    expect(a.reply.content.status).toBe('ok');
    const id = String(a.reply.parent_header.msg_id);
    const late = await k.client.waitForIopub((m) => m.header.msg_type === 'error' && m.parent_header.msg_id === id, 5000, 'the late error');
    expect(late.content.ename).toBe('Error');
    expect(String(late.content.evalue)).toMatch(/late boom \(uncaught exception\)/);
    expect((await k.client.execute('"still alive"')).reply.content.status).toBe('ok');
  });

  test('an unhandled promise rejection is reported and the kernel goes on', async () => {
    const a = await k.client.execute('Promise.reject(new RangeError("nobody caught me")); 1');
    const id = String(a.reply.parent_header.msg_id);
    const late = await k.client.waitForIopub((m) => m.header.msg_type === 'error' && m.parent_header.msg_id === id, 5000, 'the rejection');
    expect(late.content.ename).toBe('RangeError');
    expect(String(late.content.evalue)).toMatch(/unhandled promise rejection/);
    expect((await k.client.execute('2')).reply.content.status).toBe('ok');
  });

  test('process.exit() in a cell ends only the cell thread: a clear error, and a fresh one runs the next cell', async () => {
    await k.client.execute('const before = 1');
    const r = await k.client.execute('process.exit(3)');
    expect(r.reply.content.status).toBe('error');
    expect(r.reply.content.ename).toBe('ExecutorExited');
    expect(String(r.reply.content.evalue)).toMatch(/earlier state is gone/);
    const next = await k.client.execute('typeof before');
    expect(next.reply.content.status).toBe('ok');
    expect(next.outputs.find((m) => m.header.msg_type === 'execute_result')?.content.data).toEqual({ 'text/plain': "'undefined'" });
    expect(k.kernel.child.exitCode).toBeNull();
  });
});

test('a re-run cell (compiled from the code cache) is named by its own execution count in tracebacks', async () => {
  const code = 'const rerun = 1;\nnull.boom';
  const first = await k.client.execute(code);
  const second = await k.client.execute(code);
  const frames = (r: typeof first) => (r.reply.content.traceback as string[]).join('\n');
  expect(frames(first)).toContain(`<cell ${String(first.reply.content.execution_count)}>:2:`);
  expect(frames(second)).toContain(`<cell ${String(second.reply.content.execution_count)}>:2:`);
  expect(second.reply.content.execution_count).not.toBe(first.reply.content.execution_count);
});

test('tracebacks point at the TypeScript line and column, in this cell and in the cell that defined a function', async () => {
  const defining = await k.client.execute('/** throws */\nfunction failLater(n: number = 1): never { throw new Error(`late ${n}`) }');
  expect(defining.reply.content.status).toBe('ok');
  const line2 = 'const typed: Record<string, number> = { a: 1 }; await failLater(typed.a)';
  const r = await k.client.execute(`await null;\n${line2}`);
  const frames = r.reply.content.traceback as string[];
  const definedIn = `<cell ${String(defining.reply.content.execution_count)}>`;
  expect(frames).toContain(`    at failLater (${definedIn}:2:${'function failLater(n: number = 1): never { throw '.length + 1})`);
  expect(frames.some((f) => f.includes(`<cell ${String(r.reply.content.execution_count)}>:2:${line2.indexOf('failLater') + 1}`))).toBe(true);
});

test('a cell that ends in `await x;` or an awaiting loop gets its reply (no value)', async () => {
  for (const code of ['await null;', 'for (const a of [1, 2]) { await a }']) {
    const r = await k.client.execute(code, {}, 5000);
    expect(r.reply.content.status).toBe('ok');
    expect(r.outputs.filter((m) => m.header.msg_type === 'execute_result')).toEqual([]);
  }
});

test("papermill's injected Python parameters bind TypeScript values; exit(0) and %stop-here end a run as SystemExit 0", async () => {
  const injected = '# Parameters\nservice = "api"\nversion = 2\nconfirm = True\nnote = None\nhosts = ["a", "b"]\nlimits = {"cpu": 0.5, "tags": ["x"]}\n';
  const r = await k.client.execute(injected);
  expect(r.reply.content.status).toBe('ok');
  const used = await k.client.execute('[service, version + 1, confirm, note, hosts.join("+"), limits.tags[0]]');
  expect(used.outputs.find((m) => m.header.msg_type === 'execute_result')?.content.data).toEqual({ 'text/plain': "[ 'api', 3, true, null, 'a+b', 'x' ]" });
  for (const code of ['exit(0)', '%stop-here nothing to do today']) {
    const stopped = await k.client.execute(code);
    expect([stopped.reply.content.status, stopped.reply.content.ename, stopped.reply.content.evalue]).toEqual(['error', 'SystemExit', '0']);
    expect((stopped.reply.content.traceback as string[])[0]).toBe('SystemExit: 0');
  }
});
