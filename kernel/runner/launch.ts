// Starts the kernel as a real process for `opsbook run`: `node <cli> kernel -f <connection file>` on fresh
// loopback tcp ports with a random HMAC key, in its own process group, then waits for it the way jupyter_client's
// wait_for_ready does (kernel_info until IOPub delivers). Also interrupts, shuts down and kills it. What it knows
// of the kernel (its CLI, its interrupt mode) is given by the caller, as a frontend reads it from a kernelspec.
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { ConnectionInfo, newConnection } from '../protocol/connection';
import type { Message } from '../protocol/messages';
import { RunnerClient } from './client';
import { SetupError } from './errors';

export interface KernelExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export function describeExit(exit: KernelExit): string {
  return exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code ?? 'unknown'}`;
}

export interface LaunchOptions {
  /** The kernel's working folder (the notebook's folder, or --cwd). */
  cwd: string;
  /** Added to the runner's environment. */
  env?: NodeJS.ProcessEnv;
  startTimeoutMs: number;
  /** The kernel's own stdout/stderr (its log), as it arrives. */
  onOutput?: (text: string) => void;
  /** The kernel's CLI, started as `node <cli> kernel -f <connection file>` (the argv of its kernelspec). */
  cli: string;
  /** How its kernelspec says to interrupt it: interrupt_request on control, or SIGINT (Jupyter's default). */
  interruptMode?: 'message' | 'signal';
  /** The kernelspec name, written into the connection file as kernel_name. */
  kernelName?: string;
  /** Aborts the start (SIGINT/SIGTERM to the runner): the kernel is killed and launchKernel rejects. */
  signal?: AbortSignal;
}

const OUTPUT_TAIL = 64 * 1024;
const START_ATTEMPTS = 3;

export class KernelProcess {
  readonly client: RunnerClient;
  readonly exited: Promise<KernelExit>;
  /** Set once the process has exited. */
  exit: KernelExit | undefined;
  /** kernel_info_reply's language_info, once ready. */
  languageInfo: Record<string, unknown> | undefined;
  private output = '';
  private stopped = false;

  constructor(
    readonly child: ChildProcess,
    readonly info: ConnectionInfo,
    private readonly dir: string,
    private readonly interruptMode: 'message' | 'signal',
    onOutput?: (text: string) => void,
  ) {
    const take = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      this.output = (this.output + text).slice(-OUTPUT_TAIL);
      onOutput?.(text);
    };
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      child.once('error', (e) => {
        this.output += `could not start the kernel: ${e.message}\n`;
        this.exit = { code: null, signal: null };
        resolve(this.exit);
      });
    });
    this.client = new RunnerClient(info);
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  /** The last lines the kernel wrote to its stdout/stderr. */
  outputTail(lines = 20): string {
    return this.output.trimEnd().split('\n').slice(-lines).join('\n');
  }

  /** Like jupyter_client's wait_for_ready: kernel_info until a reply comes on shell and IOPub has delivered. */
  async waitReady(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    let iopubSeen = false;
    let replyTo = '';
    let reply: ((m: Message) => void) | undefined;
    let seen: (() => void) | undefined;
    const off = this.client.onMessage((channel, m) => {
      if (channel === 'iopub') {
        iopubSeen = true;
        seen?.();
      } else if (channel === 'shell' && m.header.msg_type === 'kernel_info_reply' && m.parent_header.msg_id === replyTo) reply?.(m);
    });
    const deadline = Date.now() + timeoutMs;
    const died = this.exited.then(() => 'died' as const);
    const aborted = new Promise<'aborted'>((resolve) => {
      if (signal?.aborted) resolve('aborted');
      signal?.addEventListener('abort', () => resolve('aborted'), { once: true });
    });
    try {
      while (Date.now() < deadline) {
        const answered = new Promise<Message>((resolve) => (reply = resolve));
        const request = this.client.request('shell', 'kernel_info_request', {});
        replyTo = request.msgId;
        request.sent.catch(() => undefined); // a kernel that is gone shows as `died` below
        const first = await Promise.race([answered, died, aborted, delay(Math.min(1000, Math.max(0, deadline - Date.now())))]);
        if (first === 'aborted') throw new SetupError('stopped while the kernel was starting');
        if (first === 'died') throw this.startFailure();
        if (first === undefined) continue; // no answer yet: ask again, as jupyter_client does
        this.languageInfo = (first.content.language_info as Record<string, unknown> | undefined) ?? undefined;
        if (!iopubSeen && (await Promise.race([new Promise<void>((resolve) => (seen = resolve)), died, aborted, delay(1000)])) === 'aborted') {
          throw new SetupError('stopped while the kernel was starting');
        }
        if (!this.alive) throw this.startFailure();
        if (iopubSeen) return;
      }
      throw new SetupError(`the kernel did not answer within ${Math.round(timeoutMs / 1000)} s (--start-timeout)${this.tailNote()}`);
    } finally {
      off();
    }
  }

  private tailNote(): string {
    const tail = this.outputTail();
    return tail ? `; its last output:\n${tail}` : '';
  }

  startFailure(): SetupError {
    return new SetupError(`the kernel exited (${describeExit(this.exit ?? { code: null, signal: null })}) before it was ready${this.tailNote()}`);
  }

  /** Interrupts the running cell: interrupt_request on control (the kernelspec's interrupt_mode), or SIGINT. */
  async interrupt(): Promise<void> {
    if (!this.alive) return;
    if (this.interruptMode === 'message') await this.client.send('control', 'interrupt_request', {}).catch(() => undefined);
    else this.signal('SIGINT');
  }

  /** SIGKILL to the kernel's process group (it and what its cells started). */
  kill(): void {
    this.signal('SIGKILL');
  }

  private signal(signal: NodeJS.Signals): void {
    if (!this.alive || this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      this.child.kill(signal);
    }
  }

  /** shutdown_request on control, then SIGKILL after `graceMs`; closes the sockets and removes the connection file. */
  async shutdown(graceMs = 5000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.alive) {
      await Promise.race([this.client.send('control', 'shutdown_request', { restart: false }).catch(() => undefined), delay(1000)]);
      if ((await Promise.race([this.exited, delay(graceMs)])) === undefined) {
        this.kill();
        await Promise.race([this.exited, delay(2000)]);
      }
    }
    this.client.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function delay(ms: number): Promise<undefined> {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), ms).unref());
}

async function startOnce(options: LaunchOptions): Promise<KernelProcess> {
  const { info, file, dir } = await newConnection({ prefix: 'opsbook-run-', kernelName: options.kernelName });
  // its own process group: a Ctrl-C in the terminal reaches the runner, which interrupts the kernel
  const child = spawn(process.execPath, [options.cli, 'kernel', '-f', file], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const kernel = new KernelProcess(child, info, dir, options.interruptMode ?? 'signal', options.onOutput);
  kernel.client.connect();
  return kernel;
}

/** Starts the kernel and waits until it is ready; a SetupError says why it did not start. */
export async function launchKernel(options: LaunchOptions): Promise<KernelProcess> {
  if (!existsSync(options.cli)) throw new SetupError(`the kernel is not built: ${options.cli} is missing (run npm run build)`);
  for (let attempt = 1; ; attempt++) {
    const kernel = await startOnce(options);
    try {
      await kernel.waitReady(options.startTimeoutMs, options.signal);
      return kernel;
    } catch (e) {
      await kernel.shutdown(0);
      // a port picked as free can be taken before the kernel binds it: try fresh ones
      if (attempt < START_ATTEMPTS && !options.signal?.aborted && /address already in use/i.test(kernel.outputTail(50))) continue;
      throw e;
    }
  }
}
