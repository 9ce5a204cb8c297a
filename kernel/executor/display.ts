// Turns values into mime bundles: Deno's Symbol.for("Jupyter.display") convention first, a
// _repr_mimebundle_-style method next, util.inspect text otherwise. Errors into error content.
import { inspect } from 'node:util';
import type { Bundle, ErrorContent } from './protocol';

const JUPYTER_DISPLAY = Symbol.for('Jupyter.display');

type WithDisplay = { [JUPYTER_DISPLAY]: () => unknown };
type WithReprBundle = { _repr_mimebundle_: () => unknown };

function isObject(v: unknown): v is Record<string | symbol, unknown> {
  return (typeof v === 'object' || typeof v === 'function') && v !== null;
}

export function inspectText(value: unknown): string {
  return typeof value === 'string' ? inspect(value) : inspect(value, { depth: 4, maxArrayLength: 200, breakLength: 100 });
}

/** The bundle a value displays as. A display method that throws falls back to text. */
export function toBundle(value: unknown): Bundle {
  if (isObject(value)) {
    try {
      const custom = typeof value[JUPYTER_DISPLAY] === 'function' ? (value as WithDisplay)[JUPYTER_DISPLAY]()
        : typeof value._repr_mimebundle_ === 'function' ? (value as WithReprBundle)._repr_mimebundle_() : undefined;
      if (isObject(custom)) {
        const data = { ...(custom as Record<string, unknown>) };
        if (!('text/plain' in data)) data['text/plain'] = inspectText(value);
        return { data, metadata: {} };
      }
    } catch {
      // fall through to plain text
    }
  }
  return { data: { 'text/plain': inspectText(value) }, metadata: {} };
}

/** Frames of our own code are noise in a notebook; keep the cell's frames and user modules. */
function userFrames(stack: string): string[] {
  return stack
    .split('\n')
    .slice(1)
    .filter((line) => /^\s+at /.test(line))
    .filter((line) => !line.includes('/dist/kernel/') && !/\(node:|at node:/.test(line));
}

export function toErrorContent(error: unknown): ErrorContent {
  if (error instanceof Error || (isObject(error) && typeof error.message === 'string' && typeof error.name === 'string')) {
    const e = error as Error;
    const head = `${e.name}: ${e.message}`;
    return { ename: e.name, evalue: e.message, traceback: [head, ...userFrames(typeof e.stack === 'string' ? e.stack : '')] };
  }
  const text = inspectText(error);
  return { ename: 'Uncaught', evalue: text, traceback: [`Uncaught ${text}`] };
}
