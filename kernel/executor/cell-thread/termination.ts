// Support for stopping synchronous cell code from the protocol thread. It stops it with V8's
// terminateExecution; when that code runs in a promise job or a timer (`await null; while (true) {}`),
// async_hooks has pushed the job's async id and never pops it, and with AsyncLocalStorage enabled Node aborts
// the whole process on its next stack check. Just before terminating, the protocol thread calls the function
// installed here (in the same inspector interrupt, so no other code runs in between) to empty that stack, as
// Node itself does after an uncaught exception.
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

/** Installs the function the protocol thread calls (by Symbol.for(BEFORE_TERMINATE)) before terminating. */
export function installTerminationSupport(): void {
  Object.defineProperty(globalThis, Symbol.for(BEFORE_TERMINATE), { value: asyncIdStackClearer(), enumerable: false });
}
