// The messages between the two threads of the executor, the one file both sides import: the protocol thread
// (main: ./client.ts) sends ToWorker, the cell thread (a worker: ./cell-thread/worker.ts) answers ToMain.
// Structured-clone data only.
import type { MimeBundle } from '../protocol/messages';
import type { OpsEvent } from '../io/io';

/**
 * Symbol.for keys of two functions on the worker's global that the protocol thread calls through the inspector
 * (see cell-thread/termination.ts): CODE_RUNNING answers whether any code runs on the thread, and BEFORE_TERMINATE
 * prepares running code for its termination, in the same inspector dispatch as the termination itself.
 */
export const CODE_RUNNING = 'opsbook.codeRunning';
export const BEFORE_TERMINATE = 'opsbook.beforeTerminate';

/**
 * The worker's workerData, memory both threads share.
 * - `cellRunning[0]` is 1 from the moment the cell thread takes an execute command until the cell is answered,
 *   else 0. The protocol thread terminates running code only while it is 1: a thread still loading its modules, or
 *   about to take the next message, must never be terminated (that ends the thread, or kills the next command
 *   before it can be answered).
 * - `interruptSeen[0]` is the id of the newest interrupt the cell thread has begun to handle. A thread that has
 *   taken the interrupt is not stuck in a cell's synchronous code, only slow (a loaded machine): it is given time
 *   to answer before anything is terminated, since a termination would cut its own handling short.
 * - `requestsReceived[0]` counts the requests the kernel has received (every channel, also those the protocol
 *   thread answers itself): the cell thread's warm-up waits until it has stopped changing (idle-slices.ts).
 */
export interface CellThreadData {
  cellRunning: Int32Array;
  interruptSeen: Int32Array;
  requestsReceived: Int32Array;
}

export interface ExecuteCommand {
  type: 'execute';
  id: string;
  code: string;
  silent: boolean;
  allowStdin: boolean;
  executionCount: number;
  userExpressions: Record<string, string>;
  /** JupyterLab's `cellId` from the request's metadata. */
  cellId?: string;
}

export type ToWorker =
  | ExecuteCommand
  | { type: 'complete'; id: string; code: string; cursor: number }
  | { type: 'inspect'; id: string; code: string; cursor: number; detailLevel: number }
  | { type: 'is_complete'; id: string; code: string }
  | { type: 'comm_info'; id: string; targetName?: string }
  | { type: 'comm'; id: string; msgType: 'comm_open' | 'comm_msg' | 'comm_close'; content: Record<string, unknown> }
  | { type: 'input_reply'; inputId: string; value?: string; error?: string }
  /** `interruptId` names one user interrupt; `attempt` numbers its deliveries (they may be retried). */
  | { type: 'interrupt'; interruptId: number; attempt: number };

export type ToMain =
  | { type: 'ready' }
  /** `iopub`: the request's last outputs (execute_result, error), published just before the reply: one hop, not two. */
  | { type: 'reply'; id: string; content: Record<string, unknown>; iopub?: Array<{ msgType: string; content: Record<string, unknown> }> }
  /** An IOPub message owned by request `id` (its parent header). */
  | { type: 'iopub'; id: string; msgType: string; content: Record<string, unknown>; metadata?: Record<string, unknown> }
  | { type: 'input_request'; id: string; inputId: string; prompt: string; password: boolean }
  | { type: 'interrupted'; interruptId: number; attempt: number }
  /** An ops event for the kernel's metrics (kernel/metrics.ts). */
  | { type: 'metric'; event: OpsEvent };

export interface ErrorContent {
  ename: string;
  evalue: string;
  traceback: string[];
}

export type Bundle = { data: MimeBundle; metadata: Record<string, unknown> };
