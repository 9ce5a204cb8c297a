// The cell thread's CODE_RUNNING function (kernel/executor/cell-thread/termination.ts), asked through the
// inspector as the protocol thread asks it: true only while code runs on the thread, so an idle thread that is just
// slow to take an interrupt is never terminated (terminateExecution would end the next code to start instead).
import { Worker } from 'node:worker_threads';
import { Session } from 'node:inspector';
import * as path from 'node:path';
import { REPO_ROOT } from '../support/kernel-process';
import { CODE_RUNNING } from '../../kernel/executor/thread-messages';

const TERMINATION_JS = path.join(REPO_ROOT, 'dist', 'kernel', 'executor', 'cell-thread', 'termination.js');

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
require(${JSON.stringify(TERMINATION_JS)}).installTerminationSupport();
parentPort.on('message', (m) => {
  if (m.type === 'spin') { const until = Date.now() + m.ms; while (Date.now() < until) {} parentPort.postMessage({ type: 'spun' }); }
  if (m.type === 'user-stack-settings') { Error.stackTraceLimit = 0; Error.prepareStackTrace = () => 'theirs'; parentPort.postMessage({ type: 'set' }); }
  if (m.type === 'read-stack-settings') parentPort.postMessage({ type: 'settings', limit: Error.stackTraceLimit, prepare: Error.prepareStackTrace?.() });
});
parentPort.postMessage({ type: 'ready' });
`;

let worker: Worker;
let inspector: Session;
let sessionId: string;
const answers = new Map<number, (value: unknown) => void>();
let ids = 0;

function nextMessage(type: string): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const on = (m: Record<string, unknown>) => {
      if (m.type !== type) return;
      worker.off('message', on);
      resolve(m);
    };
    worker.on('message', on);
  });
}

/** Calls CODE_RUNNING on the worker through the inspector: on top of running code, or from the idle loop. */
function askCodeRunning(): Promise<unknown> {
  const id = ++ids;
  return new Promise((resolve) => {
    answers.set(id, resolve);
    const expression = `globalThis[Symbol.for(${JSON.stringify(CODE_RUNNING)})]()`;
    inspector.post('NodeWorker.sendMessageToWorker', { sessionId, message: JSON.stringify({ id, method: 'Runtime.evaluate', params: { expression, returnByValue: true } }) });
  });
}

beforeAll(async () => {
  inspector = new Session();
  inspector.connect();
  const attached = new Promise<string>((resolve) => inspector.on('NodeWorker.attachedToWorker', (ev) => resolve((ev.params as { sessionId: string }).sessionId)));
  inspector.on('NodeWorker.receivedMessageFromWorker', (ev) => {
    const answer = JSON.parse((ev.params as { message: string }).message) as { id?: number; result?: { result?: { value?: unknown } } };
    if (answer.id !== undefined) answers.get(answer.id)?.(answer.result?.result?.value);
  });
  inspector.post('NodeWorker.enable', { waitForDebuggerOnStart: false });
  worker = new Worker(WORKER_SOURCE, { eval: true });
  const ready = nextMessage('ready');
  sessionId = await attached;
  await ready;
});

afterAll(async () => {
  inspector.disconnect();
  await worker.terminate();
});

/**
 * Asks until the answer is `wanted` (at most 50 times): the worker posts its messages from inside the code that
 * runs, so just after one arrives that code may still be on the thread's stack, and a thread that was told to spin
 * may not have begun.
 */
async function askUntil(wanted: boolean): Promise<unknown> {
  let answer: unknown;
  for (let i = 0; i < 50 && answer !== wanted; i++) answer = await askCodeRunning();
  return answer;
}

test('an idle thread answers false: there is nothing to terminate', async () => {
  expect(await askUntil(false)).toBe(false);
});

test('a thread running code answers true, from inside that code', async () => {
  const spun = nextMessage('spun');
  worker.postMessage({ type: 'spin', ms: 1500 });
  expect(await askUntil(true)).toBe(true);
  await spun;
  expect(await askUntil(false)).toBe(false);
});

test("a cell's own Error.stackTraceLimit and prepareStackTrace neither fool it nor are changed by it", async () => {
  const set = nextMessage('set');
  worker.postMessage({ type: 'user-stack-settings' });
  await set;
  expect(await askUntil(false)).toBe(false);
  const spun = nextMessage('spun');
  worker.postMessage({ type: 'spin', ms: 1500 });
  expect(await askUntil(true)).toBe(true);
  await spun;
  const settings = nextMessage('settings');
  worker.postMessage({ type: 'read-stack-settings' });
  expect(await settings).toMatchObject({ limit: 0, prepare: 'theirs' });
});
