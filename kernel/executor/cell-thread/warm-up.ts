// Background warm-up of the cell thread: soon after start, while no request needs the thread, sample TypeScript
// goes through the rewrite (sucrase + acorn), the completeness check and the display code, so the user's first
// real cell does not pay for compiling those libraries' functions (a 200-line cell's first rewrite took ~50 ms,
// later ones ~7 ms).
//
// A request must never wait behind this work. Measured with Debian's jupyter_client, 300 executes of `1` sent the
// moment the kernel was ready (p99 / max): 51–56 / 106–142 ms when the warm-up ran a whole 240-line pass (16–90 ms
// each) between messages, against ipykernel's 14–22 / 23–66 ms in the same runs. The choice, among those tried:
// - Off the thread that serves requests: V8's compiled code and type feedback belong to one isolate, so a warm-up
//   on another thread warms nothing the cell thread uses; only moving the rewrite itself to another thread would,
//   and that adds a thread hop to every cell and still serves the cell behind the warm-up.
// - Preempting a slice when a request arrives (terminating it through the inspector, as an interrupt does) costs
//   the ~10 ms of an interrupt on every early request and kills sucrase mid-parse.
// - Kept: the work is cut into slices of one sample line or block (idle-slices.ts turns the event loop between
//   them), and it runs only once the kernel has been quiet for QUIET_MS: a request that arrives meets at most the
//   slice in progress, and a client that keeps sending requests meets no more until it pauses; the rest is done
//   in the next pause. The first slices are single lines, so the coldest work (the first calls into sucrase,
//   which a first request would pay for itself anyway) comes in the smallest pieces.
// - Quiet means the whole kernel, not just this thread: the protocol thread counts every request it receives
//   (CellThreadData.requestsReceived), kernel_info among them, which it answers itself. jupyter_client sends its
//   first execute once IOPub has been quiet for 0.2 s after kernel_info_reply; counting only this thread's
//   requests, with 150 ms of quiet, the first slices met that execute (9.7-42.3 ms over 12 starts; 6.7-9.3 ms now,
//   ipykernel's 12-16), and the CPU the warm-up takes on a 2-core machine costs more than the slice itself.
// - One line goes through the path every first cell takes before the thread says it is ready (warmFirstRequest):
//   ~8 ms that the first cell used to pay itself; kernel_info does not wait for it (the protocol thread answers).
import { rewriteCell } from './cell-rewrite';
import { toBundle } from './display';
import { isComplete } from './is-complete';
import { IdleSlices } from './idle-slices';

/**
 * Quiet time before a slice, after the kernel received a request or this thread finished one: longer than the
 * 0.2 s jupyter_client waits after kernel_info before its first execute, so that a client's first and next
 * requests (sent back to back, Run All) come before the warm-up goes on; short enough that it is done before a
 * user's first typed cell (a pass takes ~20-90 ms here).
 */
const QUIET_MS = 300;
const PASSES = 8;
/** Blocks of the sample per pass: enough code (~8 x 60 lines) for V8 to optimise sucrase's and acorn's hot paths. */
const BLOCKS = 4;

/** Common TypeScript constructs, BLOCKS times over, with names of their own per pass and block. */
export function sampleBlocks(pass: number): string[] {
  const blocks: string[] = [];
  for (let b = 0; b < BLOCKS; b++) blocks.push(sampleBlock(`${pass}_${b}`));
  return blocks;
}

/** A pass's sample as one cell. */
export function sampleCell(pass: number): string {
  return [`// opsbook warm-up ${pass}`, ...sampleBlocks(pass)].join('\n');
}

function sampleBlock(id: string): string {
  return [
    "import type { Readable } from 'node:stream';",
    `interface Target${id} { host: string; port?: number; tags: readonly string[] }`,
    `type Pair${id}<T> = [T, T];`,
    `enum Phase${id} { Build = 1, Deploy, Verify }`,
    `const targets${id}: Target${id}[] = [{ host: "a", port: 80, tags: ["x"] }, { host: "b", tags: [] }];`,
    `let total${id}: number = 0;`,
    `for (const { host, port = 443 } of targets${id}) total${id} += host.length + port;`,
    `function pick${id}<T extends Target${id}>(list: T[], key: keyof T = "host"): unknown[] { return list.map((t) => t[key]); }`,
    `class Service${id}<T> { private readonly items: T[] = []; constructor(public name: string) {} add(item: T): this { this.items.push(item); return this; } get size(): number { return this.items.length; } }`,
    `const svc${id} = new Service${id}<Pair${id}<number>>("api").add([1, 2]);`,
    `const labels${id} = \`\${svc${id}.name}:\${Phase${id}.Deploy}\` as string;`,
    `async function fetchAll${id}(urls: string[]): Promise<number> { let n = 0; for await (const u of urls) n += u.length; return n; }`,
    `const result${id} = await fetchAll${id}(["a", "b"]);`,
    `export const summary${id} = { total${id}, labels${id}, result${id}, picked: pick${id}(targets${id}), ok: total${id} > 0 ? "yes" : "no" } satisfies Record<string, unknown>;`,
    `summary${id}`,
  ].join('\n');
}

/** Sample values for the display code: a table, a Map, an Error, nested objects. */
const SAMPLE_VALUES: unknown[] = [
  [{ name: 'api', replicas: 2 }, { name: 'web', replicas: 3 }],
  new Map([['a', 1]]),
  new Error('warm-up'),
  { nested: { list: [1, 2, 3], when: new Date(0) } },
];

/** The warm-up as slices: the first pass line by line (the coldest), then one block, or one check, per slice. */
export function* warmUpSlices(): Generator<() => void> {
  for (let pass = 0; pass < PASSES; pass++) {
    const blocks = sampleBlocks(pass);
    const pieces = pass === 0 ? blocks.flatMap((block) => block.split('\n')) : blocks;
    for (const piece of pieces) yield () => void rewriteCell(piece);
    for (const piece of pieces) yield () => void isComplete(piece);
    for (const value of SAMPLE_VALUES) yield () => void toBundle(value);
  }
}

/**
 * Before the thread says it is ready: one line through the rewrite and a value through the display code, the
 * coldest part of every first cell (the first calls into sucrase and acorn).
 */
export function warmFirstRequest(): void {
  rewriteCell('const opsbookWarmUp: number = 1;');
  toBundle(1);
}

/**
 * Starts the warm-up: its slices run once the kernel has been quiet for QUIET_MS (`requestsReceived()` unchanged and
 * no `activity()`), never while `busy()`; call `activity()` on the returned IdleSlices whenever a request arrives
 * at this thread or finishes.
 */
export function startWarmUp(busy: () => boolean, requestsReceived: () => number): IdleSlices {
  const slices = new IdleSlices(warmUpSlices(), { busy, quietMs: QUIET_MS, requestsReceived });
  slices.start();
  return slices;
}
