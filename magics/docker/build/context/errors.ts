// Errors of the build context: reading Node's errors (errno code, message), the docker CLI's messages for a path
// it cannot stat or read or that changed while it was sent, and the handler for errors observed elsewhere.

/** For a promise or stream whose failure is observed elsewhere (awaited later, or reported through `done`). */
export function noop(): void {}

export function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as NodeJS.ErrnoException).code) : undefined;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function unreadable(absolute: string, error: unknown): Error {
  const code = errorCode(error);
  if (code === 'EACCES' || code === 'EPERM') return new Error(`error checking context: no permission to read from '${absolute}'`);
  return new Error(`error checking context: cannot read '${absolute}': ${errorMessage(error)}`);
}

export function changedWhileSending(absolute: string, expected: number): Error {
  return new Error(`error sending build context: '${absolute}' changed while it was read (expected ${expected} bytes)`);
}

export function cantStat(absolute: string): Error {
  return new Error(`error checking context: can't stat '${absolute}'`);
}
