// Lifecycle: iopub_welcome and status starting for the first subscriber, shutdown_request (restart true/false) on control, children of cells ended.
import { startTestKernel, TestKernel } from '../support/kernel-client';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return check();
}

describe('start', () => {
  let k: TestKernel;
  beforeAll(async () => {
    k = await startTestKernel();
  });
  afterAll(async () => {
    await k.stop();
  });

  test('the first subscriber gets an iopub_welcome, then status starting exactly once, then busy/idle only', async () => {
    const welcome = await k.client.waitForIopub((m) => m.header.msg_type === 'iopub_welcome', 5000, 'iopub_welcome');
    expect(welcome.content).toEqual({ subscription: '' });
    for (let i = 0; i < 3; i++) await k.client.execute(`${i} + 1`);
    await k.client.call('kernel_info_request', {}, { channel: 'control' });
    const log = k.client.iopubLog;
    expect(log[0]).toBe(welcome);
    // published before anyone subscribed, held for the first subscriber (ZeroMQ's slow joiner)
    const states = log.filter((m) => m.header.msg_type === 'status').map((m) => m.content.execution_state);
    expect(states[0]).toBe('starting');
    expect(states.filter((s) => s === 'starting').length).toBe(1);
    expect(states.filter((s) => s === 'busy').length).toBeGreaterThanOrEqual(4);
    expect(new Set(states.slice(1))).toEqual(new Set(['busy', 'idle']));
  });

  test('the busy/idle of requests answered before the subscription are not lost', async () => {
    // the first request the kernel answered was sent right after connecting, before the SUB socket was known
    // to be subscribed: its busy/idle must still arrive
    const first = k.client.replyLog[0].message;
    expect(first.header.msg_type).toBe('kernel_info_reply');
    const id = String(first.parent_header.msg_id);
    await k.client.waitIdle(id, 5000);
    expect(k.client.iopubFor(id).map((m) => m.content.execution_state)).toEqual(['busy', 'idle']);
  });
});

describe('shutdown_request with restart true', () => {
  let k: TestKernel;
  beforeAll(async () => {
    k = await startTestKernel();
  });
  afterAll(async () => {
    await k.stop();
  });

  test('replies, broadcasts shutdown_reply, exits 0 after the reply, and ends the children of cells', async () => {
    const spawned = await k.client.execute('const child = require("child_process").spawn("sleep", ["300"]); console.log(child.pid)');
    expect(spawned.reply.content.status).toBe('ok');
    const pid = Number(String(spawned.outputs.find((m) => m.header.msg_type === 'stream')?.content.text).trim());
    expect(Number.isInteger(pid) && pid > 0).toBe(true);
    expect(alive(pid)).toBe(true);

    let exitedAt = 0;
    const exited = k.kernel.exited.then((code) => {
      exitedAt = Date.now();
      return code;
    });
    const reply = await k.client.request('shutdown_request', { restart: true }, { channel: 'control', timeoutMs: 5000 });
    expect(reply.header.msg_type).toBe('shutdown_reply');
    expect(reply.content).toEqual(expect.objectContaining({ status: 'ok', restart: true }));

    const msgId = String(reply.parent_header.msg_id);
    const broadcast = await k.client.waitForIopub((m) => m.header.msg_type === 'shutdown_reply' && m.parent_header.msg_id === msgId, 5000, 'shutdown_reply on IOPub');
    expect(broadcast.content).toEqual(expect.objectContaining({ status: 'ok', restart: true }));

    const timer = setTimeout(() => k.kernel.child.kill('SIGKILL'), 10000);
    const code = await exited;
    clearTimeout(timer);
    expect(code).toBe(0);
    // the reply was sent (stamped by the kernel) before the process exited
    expect(Date.parse(reply.header.date)).toBeLessThanOrEqual(exitedAt);
    // ended and reaped by the kernel itself (not left as a zombie for init to collect)
    expect(() => process.kill(pid, 0)).toThrow();
  });
});

describe('shutdown_request with restart false', () => {
  let k: TestKernel;
  beforeAll(async () => {
    k = await startTestKernel();
  });
  afterAll(async () => {
    await k.stop();
  });

  test('replies restart false with busy/idle and exits 0', async () => {
    const r = await k.client.request('shutdown_request', { restart: false }, { channel: 'control', timeoutMs: 5000 });
    expect(r.content).toEqual(expect.objectContaining({ status: 'ok', restart: false }));
    const statuses = await until(() => k.client.iopubFor(String(r.parent_header.msg_id)).filter((m) => m.header.msg_type === 'status').length === 2, 3000);
    expect(statuses).toBe(true);
    expect(await k.kernel.exited).toBe(0);
  });
});

describe('SIGTERM', () => {
  let k: TestKernel;
  beforeAll(async () => {
    k = await startTestKernel();
  });
  afterAll(async () => {
    await k.stop();
  });

  test('ends the kernel cleanly (exit 0), children included', async () => {
    const spawned = await k.client.execute('console.log(require("child_process").spawn("sleep", ["300"]).pid)');
    const pid = Number(String(spawned.outputs.find((m) => m.header.msg_type === 'stream')?.content.text).trim());
    expect(alive(pid)).toBe(true);
    k.kernel.child.kill('SIGTERM');
    expect(await k.kernel.exited).toBe(0);
    expect(alive(pid)).toBe(false);
  });
});

describe('a kernel whose launcher dies', () => {
  test('shuts itself down instead of lingering as an orphan', async () => {
    const { makeConnection, CLI } = await import('../support/kernel-process');
    const { execFileSync } = await import('node:child_process');
    const { file, dir } = await makeConnection();
    // the shell starts the kernel in the background, naming itself in JPY_PARENT_PID as jupyter_client does, and
    // exits, maybe before the kernel has even started on a loaded machine: the kernel is re-parented
    const pid = Number(execFileSync('sh', ['-c', `JPY_PARENT_PID=$$ "${process.execPath}" "${CLI}" kernel -f "${file}" >/dev/null 2>&1 & echo $!; sleep 1`], { encoding: 'utf8', env: { ...process.env, OPSBOOK_HISTORY_FILE: `${dir}/history.jsonl` } }).trim());
    expect(pid).toBeGreaterThan(0);
    expect(await until(() => !alive(pid), 8000)).toBe(true);
  });
});
