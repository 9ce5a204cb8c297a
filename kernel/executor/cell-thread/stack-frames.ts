// The call sites below a function of ours, read without a formatted stack and without disturbing a cell's own
// Error.stackTraceLimit and Error.prepareStackTrace: cell-timers.ts asks whose code called a timer function,
// termination.ts whether any code runs beneath an inspector call.

/** `read` of at most `limit` call sites below `callee` (callee and what it called excluded); undefined if V8 gave none. */
export function framesBelow<T>(callee: (...args: never[]) => unknown, limit: number, read: (frames: NodeJS.CallSite[]) => T): T | undefined {
  const savedLimit = Error.stackTraceLimit;
  const savedPrepare = Error.prepareStackTrace;
  const holder: { stack?: unknown } = {};
  try {
    Error.stackTraceLimit = limit;
    Error.prepareStackTrace = (_error, frames) => read(frames);
    Error.captureStackTrace(holder, callee);
    return holder.stack as T | undefined; // read here, while our prepareStackTrace is in place
  } finally {
    Error.stackTraceLimit = savedLimit;
    Error.prepareStackTrace = savedPrepare;
  }
}
