// Commands without a shell for the local stack and the tests that drive the same tools (docker, npm, ldd): run()
// rejects with the command line, the exit status and the end of the output, so a failure says what went wrong.
import { execFile } from 'node:child_process';

export interface CommandResult {
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  timeoutMs?: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/** Runs a command without a shell; rejects with the command line, exit status and output tail. */
export function run(file: string, args: string[], options: RunOptions = {}): Promise<CommandResult> {
  const timeout = options.timeoutMs ?? 60000;
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout, cwd: options.cwd, env: options.env, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (!error) return resolve({ stdout, stderr });
      const status = error.killed ? `killed after ${timeout} ms` : `exit ${String(error.code ?? error.signal)}`;
      reject(new Error(`${file} ${args.join(' ')} failed (${status}):\n${tail(`${stdout}${stderr}`) || error.message}`));
    });
  });
}

export function docker(args: string[], timeoutMs = 60000): Promise<CommandResult> {
  return run('docker', args, { timeoutMs });
}

export function tail(text: string, lines = 30): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
