// The last part of what a server a test started wrote to stdout and stderr, kept for error messages.
import type { ChildProcess } from 'node:child_process';

export interface ChildLog {
  /** What was kept, oldest first. */
  text(): string;
  /** Adds a line of our own (e.g. why the process could not start). */
  note(line: string): void;
}

/** Keeps the last `limit` characters `child` writes to stdout and stderr. */
export function captureLog(child: ChildProcess, limit = 256 * 1024): ChildLog {
  let log = '';
  const append = (more: string): void => {
    log += more;
    if (log.length > limit) log = log.slice(-limit);
  };
  child.stdout?.on('data', (chunk: Buffer) => append(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => append(chunk.toString()));
  return { text: () => log, note: (line) => append(`\n${line}\n`) };
}
