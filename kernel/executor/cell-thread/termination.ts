// Support for stopping synchronous cell code from the protocol thread. It stops it with V8's
// terminateExecution, which ends the JavaScript running at that moment or, when none runs, the next to start. So
// the protocol thread first asks, through the inspector, CODE_RUNNING, which runs on top of whatever runs (an
// inspector interrupt) and answers whether any code runs beneath it: an idle thread is only slow to take the
// interrupt message, and terminating "the next" code would cut the handling of that message short.
// BEFORE_TERMINATE is called in the same inspector dispatch as the termination: when the code to be stopped runs in
// a promise job or a timer (`await null; while (true) {}`), async_hooks has pushed the job's async id and never
// pops it, and with AsyncLocalStorage enabled Node aborts the whole process on its next stack check; it empties
// that stack, as Node itself does after an uncaught exception.
import { BEFORE_TERMINATE, CODE_RUNNING } from '../thread-messages';
import { framesBelow } from './stack-frames';

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
  // frames below the callee: the inspector's evaluated expression, then whatever it interrupted
  return (framesBelow(callee, 2, (frames) => frames.length) ?? 0) > 1;
}

/** Installs the two functions the protocol thread calls by Symbol.for(CODE_RUNNING) and Symbol.for(BEFORE_TERMINATE). */
export function installTerminationSupport(): void {
  const codeRunning = (): boolean => calledOnTopOfCode(codeRunning);
  Object.defineProperty(globalThis, Symbol.for(CODE_RUNNING), { value: codeRunning, enumerable: false });
  Object.defineProperty(globalThis, Symbol.for(BEFORE_TERMINATE), { value: asyncIdStackClearer(), enumerable: false });
}
