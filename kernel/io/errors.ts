// Part of the kernel↔magics contract (kernel/io/).
// Errors a magic raises for expected failures (a wrong option, an unreachable service, a failed build). They
// carry `expected = true`, so the kernel shows their name, message and hint lines without a stack trace: the
// user needs to know what failed and what to do, not where in opsbook it was noticed.

/** A failure the user can act on: message says what failed, `hint` what to do next. */
export class MagicError extends Error {
  override name = 'MagicError';
  readonly expected = true;
  constructor(message: string, readonly hint?: string) {
    super(message);
  }
}

/** A magic line that does not parse: unknown option, wrong type, missing argument. `usage` is its usage line. */
export class UsageError extends MagicError {
  override name = 'UsageError';
  constructor(message: string, readonly usage?: string) {
    super(message, usage);
  }
}

/**
 * Stops a runbook early, as a success the way papermill understands it: an `error` named SystemExit whose
 * value is the exit code (0). Raised by `exit(0)` in a cell and by %stop-here.
 */
export class SystemExit extends Error {
  override name = 'SystemExit';
  readonly expected = true;
  constructor(readonly code: number = 0, readonly hint?: string) {
    super(String(code));
  }
}

/** Whether an error is one of ours that needs no traceback (duck-typed: it may come from another realm). */
export function isExpectedError(error: unknown): error is Error & { expected: true; hint?: string } {
  return error instanceof Error && (error as { expected?: unknown }).expected === true;
}
