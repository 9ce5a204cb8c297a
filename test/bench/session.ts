// One benchmarked kernel process driven by the shared test client: launch with kernel_info polling, timed requests, memory, kill.
import { performance } from 'node:perf_hooks';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { KernelClient } from '../support/kernel-client';
import { KernelProcess, makeConnection, spawnKernel } from '../support/kernel-process';
import type { Message } from '../../kernel/protocol/messages';
import type { KernelUnderTest } from './kernels';

/** The client retries connecting to a not-yet-bound port this often (zeromq's default is 100 ms). */
const RECONNECT_MS = 2;
const POLL_MS = 100;
/** An idle status that has not come after this long without any IOPub traffic is taken as lost. */
const QUIET_MS = 500;

export interface Timed {
  msgId: string;
  reply: Message;
  /** From just before the request was sent to the reply's arrival. */
  replyMs: number;
  /** From just before the request was sent to the arrival of the idle status it caused (NaN if none came). */
  idleMs: number;
}

export function executeContent(code: string): Record<string, unknown> {
  return { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: true, stop_on_error: true };
}

function tail(text: string, chars = 600): string {
  const t = text.trim();
  return t.length > chars ? `…${t.slice(-chars)}` : t;
}

export class Session {
  /** Arrival time (performance.now) of each idle status, by parent msg_id. */
  private readonly idleAt = new Map<string, number>();
  /** Arrival time of the latest IOPub message, whatever its parent. */
  private lastIopubAt = 0;

  private constructor(
    readonly kernel: KernelUnderTest,
    readonly client: KernelClient,
    readonly proc: KernelProcess,
    private readonly dir: string,
  ) {
    client.onIopubMessage((m) => {
      this.lastIopubAt = performance.now();
      if (m.header.msg_type === 'status' && m.content.execution_state === 'idle') this.idleAt.set(String(m.parent_header.msg_id ?? ''), performance.now());
    });
  }

  get pid(): number {
    return this.proc.child.pid ?? -1;
  }

  /**
   * Connects the client first, then spawns the kernel and polls kernel_info (a new request every 100 ms) until
   * one is answered. Returns the session and the ms from spawn to the first kernel_info_reply.
   */
  static async launch(kernel: KernelUnderTest, cwd: string, timeoutMs: number): Promise<{ session: Session; startMs: number }> {
    const conn = await makeConnection();
    const client = new KernelClient(conn.info);
    for (const s of [client.shell, client.control, client.stdin, client.iopub]) s.reconnectInterval = RECONNECT_MS;
    await client.connect();
    const t0 = performance.now();
    const proc = spawnKernel(kernel.argv, conn, { cwd: kernel.cwd ?? cwd, env: kernel.env });
    const session = new Session(kernel, client, proc, conn.dir);
    try {
      const t1 = await new Promise<number>((resolve, reject) => {
        let done = false;
        const finish = (f: () => void) => {
          if (done) return;
          done = true;
          clearInterval(poll);
          clearTimeout(deadline);
          f();
        };
        const ask = () => {
          client.request('kernel_info_request', {}, { timeoutMs }).then(
            () => {
              const t = performance.now();
              finish(() => resolve(t));
            },
            () => undefined,
          );
        };
        const poll = setInterval(ask, POLL_MS);
        const deadline = setTimeout(() => finish(() => reject(new Error(`no kernel_info_reply within ${timeoutMs} ms; stderr: ${tail(proc.stderr())}`))), timeoutMs);
        void proc.exited.then((code) => finish(() => reject(new Error(`exited (code ${code}) before answering kernel_info; stderr: ${tail(proc.stderr())}`))));
        ask();
      });
      return { session, startMs: t1 - t0 };
    } catch (e) {
      await session.kill();
      throw e;
    }
  }

  /** Sends a request and times its reply and its idle status. */
  async timed(msgType: string, content: Record<string, unknown>, timeoutMs: number, channel: 'shell' | 'control' = 'shell'): Promise<Timed> {
    const t0 = performance.now();
    const reply = await this.client.request(msgType, content, { channel, timeoutMs });
    const replyMs = performance.now() - t0;
    const msgId = String(reply.parent_header.msg_id);
    const at = await this.idleTime(msgId, timeoutMs);
    return { msgId, reply, replyMs, idleMs: at === undefined ? Number.NaN : at - t0 };
  }

  execute(code: string, timeoutMs: number): Promise<Timed> {
    return this.timed('execute_request', executeContent(code), timeoutMs);
  }

  /**
   * When the idle status of msgId arrived (performance.now). Call after its reply: gives up (undefined) once
   * IOPub has been quiet for QUIET_MS, or after timeoutMs, since a kernel may drop its idle under load.
   */
  async idleTime(msgId: string, timeoutMs: number): Promise<number | undefined> {
    if (!this.idleAt.has(msgId)) {
      const waited = performance.now();
      let timer: NodeJS.Timeout | undefined;
      const check = (resolve: () => void) => {
        const now = performance.now();
        if (now - Math.max(this.lastIopubAt, waited) >= QUIET_MS || now - waited >= timeoutMs) resolve();
        else timer = setTimeout(() => check(resolve), 20);
      };
      await Promise.race([
        this.client.waitIdle(msgId, timeoutMs).catch(() => undefined),
        new Promise<void>((resolve) => (timer = setTimeout(() => check(resolve), 20))),
      ]);
      clearTimeout(timer);
    }
    const at = this.idleAt.get(msgId);
    this.idleAt.delete(msgId);
    return at;
  }

  /** Resident memory of the kernel process and all its descendants (VmRSS), and the kernel's own peak (VmHWM). */
  memory(): { rssKiB: number; hwmKiB: number; processes: number } {
    const pids = descendants(this.pid);
    let rssKiB = 0;
    for (const pid of pids) rssKiB += statusField(pid, 'VmRSS');
    return { rssKiB, hwmKiB: statusField(this.pid, 'VmHWM'), processes: pids.length };
  }

  async kill(): Promise<void> {
    const { child } = this.proc;
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      for (const pid of descendants(child.pid).reverse()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.proc.exited, new Promise((r) => (timer = setTimeout(r, 5000)))]);
      clearTimeout(timer);
    }
    this.client.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function statusField(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** pid and every process below it, parents first (from /proc/<pid>/stat). */
function descendants(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(path.join('/proc', entry, 'stat'), 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parentOf.set(Number(entry), Number(fields[1]));
    } catch {
      // exited meanwhile
    }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, ppid] of parentOf) if (ppid === out[i]) out.push(pid);
  return out.filter((pid) => pid === root || parentOf.has(pid));
}
