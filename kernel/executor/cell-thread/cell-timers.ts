// The timers a cell's own code starts (setTimeout, setInterval, setImmediate called directly from a `<cell N>`
// frame), remembered with the request that owns them: the running request's Io, which AsyncLocalStorage carries
// into the cell's callbacks and promise continuations, so a timer a cell's interval or `.then` starts is the
// cell's too. An interrupt stops them (worker.ts): those of the interrupted cell, or on an idle kernel all that
// earlier cells left running. Timers that the kernel, the magics and libraries start are never recorded, even
// while a cell runs (a magic ends its own work through io.signal; a library's keep-alive or timeout timers must
// survive an interrupt), so only calls whose direct caller is cell code count.
import type { CellIo } from './cell-io';
import { framesBelow } from './stack-frames';

export type TimerKind = 'timeout' | 'interval' | 'immediate';
export type TimerCounts = Record<TimerKind, number>;
type TimerHandle = NodeJS.Timeout | NodeJS.Immediate;
/** Where the starters live: the global object cells see (a test may hand in another). */
export type TimerScope = Pick<typeof globalThis, 'setTimeout' | 'setInterval' | 'setImmediate'>;

interface Started {
  kind: TimerKind;
  owner: CellIo | undefined;
}

/** The file name vm gives a cell's script (worker.ts names it `<cell N>`). */
const CELL_FILE_PREFIX = '<cell ';

/** Whether the direct caller of `callee` is a cell's code: one stack frame, its file name only. */
function calledFromCell(callee: (...args: never[]) => unknown): boolean {
  const file = framesBelow(callee, 1, (frames) => frames[0]?.getFileName());
  return typeof file === 'string' && file.startsWith(CELL_FILE_PREFIX);
}

/**
 * Node sets `_destroyed` on a Timeout or Immediate once it has run for the last time or been cleared, by any
 * path (clearTimeout with the object or its numeric id, `timeout.close()`), so the registry needs no wrapper
 * around callbacks or the clear functions. test/unit/cell-timers.test.ts pins this behaviour.
 */
function finished(handle: TimerHandle): boolean {
  return (handle as unknown as { _destroyed?: unknown })._destroyed === true;
}

const emptyCounts = (): TimerCounts => ({ timeout: 0, interval: 0, immediate: 0 });

export class CellTimers {
  private readonly started = new Map<TimerHandle, Started>();
  /** Size at which finished entries are next swept out, so a cell that sleeps in a loop does not grow the map. */
  private sweepAt = 1024;
  private readonly clear = { timeout: clearTimeout, interval: clearInterval, immediate: clearImmediate };

  constructor(private readonly owner: () => CellIo | undefined) {}

  /** Replaces the global setTimeout, setInterval and setImmediate (of `scope`) with recording ones, same behaviour. */
  install(scope: TimerScope = globalThis): void {
    this.wrap(scope, 'setTimeout', 'timeout');
    this.wrap(scope, 'setInterval', 'interval');
    this.wrap(scope, 'setImmediate', 'immediate');
  }

  private wrap(scope: TimerScope, name: keyof TimerScope, kind: TimerKind): void {
    const descriptor = Object.getOwnPropertyDescriptor(scope, name);
    const host = scope[name] as (...args: unknown[]) => TimerHandle;
    const record = (handle: TimerHandle) => this.record(handle, kind);
    // A named function expression: completion and inspection show the name cells expect.
    const starters = {
      [name](this: unknown, ...args: unknown[]): TimerHandle {
        const handle = Reflect.apply(host, this, args);
        if (calledFromCell(starters[name])) record(handle);
        return handle;
      },
    };
    const starter = starters[name];
    // util.promisify(setTimeout) finds the promise version under this symbol: keep it (and any other).
    for (const key of Reflect.ownKeys(host)) {
      if (key === 'length' || key === 'name' || key === 'prototype') continue;
      const own = Object.getOwnPropertyDescriptor(host, key);
      if (own) Object.defineProperty(starter, key, own);
    }
    Object.defineProperty(scope, name, { ...(descriptor ?? { writable: true, enumerable: true, configurable: true }), value: starter });
  }

  private record(handle: TimerHandle, kind: TimerKind): void {
    this.started.set(handle, { kind, owner: this.owner() });
    if (this.started.size >= this.sweepAt) {
      for (const known of this.started.keys()) if (finished(known)) this.started.delete(known);
      this.sweepAt = Math.max(1024, this.started.size * 2);
    }
  }

  /** Stops the timers `owner`'s code started that are still pending; returns how many of each kind. */
  stopStartedBy(owner: CellIo): TimerCounts {
    return this.stop((started) => started.owner === owner).get(owner) ?? emptyCounts();
  }

  /** Stops every pending timer cells started; returns the counts per owning request. */
  stopAll(): Map<CellIo | undefined, TimerCounts> {
    return this.stop(() => true);
  }

  private stop(selected: (started: Started) => boolean): Map<CellIo | undefined, TimerCounts> {
    const stopped = new Map<CellIo | undefined, TimerCounts>();
    for (const [handle, started] of this.started) {
      if (!selected(started)) continue;
      this.started.delete(handle);
      if (finished(handle)) continue;
      this.clear[started.kind](handle as NodeJS.Timeout & NodeJS.Immediate);
      const counts = stopped.get(started.owner) ?? emptyCounts();
      counts[started.kind] += 1;
      stopped.set(started.owner, counts);
    }
    return stopped;
  }
}

const NAMED_ORDER: TimerKind[] = ['interval', 'timeout', 'immediate'];

/** "1 interval and 2 timeouts": what an interrupt stopped, for the notice in the cell; undefined for nothing. */
export function describeTimers(counts: TimerCounts): string | undefined {
  const parts = NAMED_ORDER.filter((kind) => counts[kind] > 0).map((kind) => `${counts[kind]} ${kind}${counts[kind] === 1 ? '' : 's'}`);
  if (parts.length === 0) return undefined;
  return parts.length === 1 ? parts[0] : `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
}
