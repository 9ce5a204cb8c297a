// Support for stopping synchronous cell code from the protocol thread. It stops it with V8's
// terminateExecution, which ends the JavaScript running at that moment or, when none runs, the next to start. So
// the protocol thread first asks, through the inspector, the function installed here (BEFORE_TERMINATE), which
// runs on top of whatever runs (an inspector interrupt) and answers whether any code runs beneath it: an idle thread
// is only slow to take the interrupt message, and terminating "the next" code would cut the handling of that
// message short. When code runs, the function also prepares its termination: when that code runs in a promise job
// or a timer (`await null; while (true) {}`), async_hooks has pushed the job's async id and never pops it, and
// with AsyncLocalStorage enabled Node aborts the whole process on its next stack check; the function empties that
// stack, as Node itself does after an uncaught exception.
import { BEFORE_TERMINATE } from '../thread-messages';

function asyncIdStackClearer(): () => void {
  const proc = process as unknown as { binding?: (name: string) => { clearAsyncIdStack?: () => void } };
  const quiet = process.noDeprecation;
  process.noDeprecation = true; // process.binding('async_wrap') warns once (DEP0111); the warning would land in a cell
  try {
    const binding = proc.binding?.('async_wrap');
    const clear = binding?.clearAsyncIdStack;
    return typeof clear === 'function' ? () => clear.call(binding) : () => undefined;
  } catch {
    return () => undefined;
  } finally {
    process.noDeprecation = quiet;
  }
}

/** Whether `callee` was called on top of other code (an inspector interrupt inside running code), not from an idle thread. */
function calledOnTopOfCode(callee: (...args: never[]) => unknown): boolean {
  const limit = Error.stackTraceLimit;
  const prepare = Error.prepareStackTrace;
  const holder: { stack?: unknown } = {};
  try {
    // frames below the callee: the inspector's evaluated expression, then whatever it interrupted
    Error.stackTraceLimit = 2;
    Error.prepareStackTrace = (_error, frames) => frames.length;
    Error.captureStackTrace(holder, callee);
    const frames = holder.stack; // counted here, while our prepareStackTrace is in place
    return typeof frames === 'number' && frames > 1;
  } finally {
    Error.stackTraceLimit = limit;
    Error.prepareStackTrace = prepare;
  }
}

/**
 * Installs the function the protocol thread calls (by Symbol.for(BEFORE_TERMINATE)) before terminating: true when
 * code runs (and its termination is prepared), false when the thread is idle (nothing to terminate).
 */
export function installTerminationSupport(): void {
  const clearAsyncIdStack = asyncIdStackClearer();
  const beforeTerminate = (): boolean => {
    if (!calledOnTopOfCode(beforeTerminate)) return false;
    clearAsyncIdStack();
    return true;
  };
  Object.defineProperty(globalThis, Symbol.for(BEFORE_TERMINATE), { value: beforeTerminate, enumerable: false });
}
