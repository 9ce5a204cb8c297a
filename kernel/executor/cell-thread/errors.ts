// Error content (ename, evalue, traceback) for anything a cell throws, without the kernel's own frames.
import type { ErrorContent } from '../thread-messages';
import { isObject, safeInspect } from './display';
import { mapCellFrame } from './ran-cells';
import { isExpectedError } from '../../io/errors';

/** Frames of our own code are noise in a notebook; keep the cell's frames (at TypeScript positions) and user modules. */
function userFrames(stack: string): string[] {
  return stack
    .split('\n')
    .slice(1)
    .filter((line) => /^\s+at /.test(line))
    .filter((line) => !line.includes('/dist/kernel/') && !line.includes('/dist/magics/') && !/\(node:|at node:/.test(line))
    .map(mapCellFrame);
}

/** Error content for anything thrown; never throws itself (a getter that throws, a revoked Proxy...). */
export function toErrorContent(error: unknown): ErrorContent {
  try {
    // an expected failure (wrong option, service down): what failed and what to do, no stack trace
    if (isExpectedError(error)) {
      const head = `${error.name}: ${error.message}`;
      return { ename: error.name, evalue: error.message, traceback: error.hint ? [head, error.hint] : [head] };
    }
    if (error instanceof Error || (isObject(error) && typeof error.message === 'string' && typeof error.name === 'string')) {
      const e = error as Error;
      const head = `${e.name}: ${e.message}`;
      return { ename: e.name, evalue: e.message, traceback: [head, ...userFrames(typeof e.stack === 'string' ? e.stack : '')] };
    }
  } catch {
    // not an Error we can read: shown as a value below
  }
  const text = safeInspect(error);
  return { ename: 'Uncaught', evalue: text, traceback: [`Uncaught ${text}`] };
}
