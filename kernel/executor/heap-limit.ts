// The cell thread's heap limit (V8's old generation, where a notebook's data lives): by default a quarter of the
// memory this process may use (the machine's, or its cgroup's when that is lower), so a runaway allocation ends in
// a clear "out of memory" for the cell instead of growing until the machine swaps or the OOM killer picks a
// process. OPSBOOK_CELL_HEAP_MB sets it: a number of MB, or a share of memory such as `50%`.
import * as os from 'node:os';

export const HEAP_LIMIT_ENV = 'OPSBOOK_CELL_HEAP_MB';
export const DEFAULT_SHARE = 0.25;
/** Below this the cell thread cannot load its own code (the rewrite, the magics) and would never start. */
export const MIN_HEAP_MB = 64;

export interface HeapLimit {
  mb: number;
  /** Why a setting was not taken as it was, for the kernel's log. */
  warning?: string;
}

/** The memory this process may use: the machine's, or a lower cgroup limit (a container's). */
export function availableMemoryBytes(): number {
  const total = os.totalmem();
  const constrained = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : 0;
  // without a limit, constrainedMemory() answers 0 or a huge number (2^64 on cgroup v1)
  return constrained !== undefined && constrained > 0 && constrained < total ? constrained : total;
}

export function cellHeapLimit(setting: string | undefined = process.env[HEAP_LIMIT_ENV], memoryBytes = availableMemoryBytes()): HeapLimit {
  const share = (fraction: number) => Math.round((memoryBytes * fraction) / 1048576);
  const fallback = Math.max(MIN_HEAP_MB, share(DEFAULT_SHARE));
  const text = setting?.trim() ?? '';
  if (text === '') return { mb: fallback };
  const percent = /^(\d+(?:\.\d+)?)\s*%$/.exec(text);
  const wanted = percent ? (Number(percent[1]) > 0 && Number(percent[1]) <= 100 ? share(Number(percent[1]) / 100) : NaN) : /^\d+(?:\.\d+)?$/.test(text) ? Math.round(Number(text)) : NaN;
  if (!Number.isFinite(wanted)) {
    return { mb: fallback, warning: `${HEAP_LIMIT_ENV}="${setting}" is not a number of MB or a share such as 50%; using ${fallback} MB` };
  }
  if (wanted < MIN_HEAP_MB) {
    return { mb: MIN_HEAP_MB, warning: `${HEAP_LIMIT_ENV}="${setting}" is below the ${MIN_HEAP_MB} MB the cell thread needs to start; using ${MIN_HEAP_MB} MB` };
  }
  return { mb: wanted };
}
