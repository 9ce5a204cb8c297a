// The `console` cells see. log/info/debug and warn/error format and route straight to the running cell's
// Io (Node's Console adds listeners per call and is ~4x slower on floods); everything else (table, dir,
// group, time, count, assert, trace) is a real Console on the same streams, which keeps group indentation.
import { Console } from 'node:console';
import { formatWithOptions } from 'node:util';

export type Route = (name: 'stdout' | 'stderr', text: string) => void;

export function cellConsole(route: Route, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): Console {
  const full = new Console({ stdout, stderr });
  let groupDepth = 0;
  const direct = (name: 'stdout' | 'stderr', slow: (...args: unknown[]) => void) => (...args: unknown[]) => {
    if (groupDepth > 0) return slow(...args);
    route(name, `${args.length === 1 && typeof args[0] === 'string' ? args[0] : formatWithOptions({}, ...args)}\n`);
  };
  return {
    ...full,
    log: direct('stdout', full.log),
    info: direct('stdout', full.info),
    debug: direct('stdout', full.debug),
    warn: direct('stderr', full.warn),
    error: direct('stderr', full.error),
    group: (...label: unknown[]) => {
      full.group(...label);
      groupDepth += 1;
    },
    groupCollapsed: (...label: unknown[]) => {
      full.groupCollapsed(...label);
      groupDepth += 1;
    },
    groupEnd: () => {
      full.groupEnd();
      groupDepth = Math.max(0, groupDepth - 1);
    },
  };
}
