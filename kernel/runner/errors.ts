// What `opsbook run` can fail with before a cell runs, and the exit codes it ends with. Expected failures are
// one clear line for the user (what failed, what to do), never a stack trace.

export const EXIT = {
  ok: 0,
  /** a cell failed, timed out, or the kernel died */
  cellFailed: 1,
  /** bad arguments, unreadable notebook, kernel did not start, Pushgateway unreachable */
  setup: 2,
  /** the run succeeded but its metrics could not be pushed */
  pushFailed: 3,
  sigint: 130,
  sigterm: 143,
} as const;

/** Bad command-line arguments or parameters (exit 2). */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Something the run needs is missing or broken: the notebook, the kernel, the Pushgateway (exit 2). */
export class SetupError extends Error {
  override name = 'SetupError';
}

/** The message of anything thrown, for one-line reports. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
