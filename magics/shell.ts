// %sh and `!command`: runs a command with /bin/sh in the notebook's folder. Output streams into the cell as it
// comes; a non-zero exit status or a signal is reported on stderr (the cell goes on, as in IPython). Interrupt
// stops the command's whole process group at once. `const r = %sh cmd` captures stdout instead of streaming it.
import { spawn } from 'node:child_process';
import type { Magic, MagicCall } from './registry';
import { MagicError } from '../kernel/io/errors';

/** What `const r = %sh cmd` binds. */
export interface ShellResult {
  command: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** stdout split into lines, without the final empty one. */
  lines: string[];
}

/** Captured stdout beyond this is dropped (with a notice): a bound result must not exhaust memory. */
const CAPTURE_LIMIT = 64 * 1024 * 1024;
const KILL_GRACE_MS = 2000;

function stopGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

export function runShell(command: string, call: Pick<MagicCall, 'io' | 'bound'>): Promise<ShellResult | undefined> {
  const { io, bound } = call;
  if (command === '') return Promise.reject(new MagicError('no command given', 'write the command after ! or %sh, e.g. !ls -la'));
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let captured = '';
    let truncated = false;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (text: string) => {
      if (!bound) return io.stream('stdout', text);
      if (captured.length + text.length > CAPTURE_LIMIT) truncated = true;
      else captured += text;
    });
    child.stderr.on('data', (text: string) => io.stream('stderr', text));
    let killer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      stopGroup(child.pid, 'SIGINT');
      killer = setTimeout(() => stopGroup(child.pid, 'SIGKILL'), KILL_GRACE_MS);
    };
    io.signal.addEventListener('abort', onAbort, { once: true });
    child.on('error', (e) => {
      io.signal.removeEventListener('abort', onAbort);
      reject(new MagicError(`could not run /bin/sh: ${e.message}`));
    });
    child.on('close', (exitCode, signal) => {
      clearTimeout(killer);
      io.signal.removeEventListener('abort', onAbort);
      if (truncated) io.stream('stderr', `[opsbook] only the first ${CAPTURE_LIMIT / 1024 / 1024} MiB of stdout were captured\n`);
      if (signal) io.stream('stderr', `[${command.length > 60 ? `${command.slice(0, 57)}...` : command}: killed by ${signal}]\n`);
      else if (exitCode !== 0) io.stream('stderr', `[exit status ${exitCode}]\n`);
      if (!bound) return resolve(undefined);
      const lines = captured.split('\n');
      if (lines[lines.length - 1] === '') lines.pop();
      resolve({ command, exitCode, signal, stdout: captured, lines });
    });
  });
}

export const shellMagic: Magic = {
  name: 'sh',
  summary: 'run a shell command in the notebook folder (also: a line starting with !); const r = %sh cmd captures stdout',
  kind: 'line',
  rawArgs: true,
  options: [],
  run: (call) => runShell(call.args.rest, call),
};
