// Background warm-up of the cell thread: soon after start, while no cell runs, a sample TypeScript cell goes
// through the rewrite (sucrase + acorn) and the display code a few times, so the user's first real cell does not
// pay for compiling those libraries' functions (a 200-line cell's first rewrite took ~50 ms, later ones ~7 ms).
// It runs in small steps between messages, never while a cell runs.
import { rewriteCell } from './cell-rewrite';
import { toBundle } from './display';
import { isComplete } from './is-complete';

/** Long enough that a client's first requests (kernel_info, a first cell sent at once) are not delayed. */
const START_DELAY_MS = 150;
const PASSES = 8;

/** Common TypeScript constructs; `pass` makes each text new, so the rewrite cache never answers. */
function sampleCell(pass: number): string {
  return [
    `// opsbook warm-up ${pass}`,
    "import type { Readable } from 'node:stream';",
    'interface Target { host: string; port?: number; tags: readonly string[] }',
    'type Pair<T> = [T, T];',
    'enum Phase { Build = 1, Deploy, Verify }',
    'const targets: Target[] = [{ host: "a", port: 80, tags: ["x"] }, { host: "b", tags: [] }];',
    'let total: number = 0;',
    'for (const { host, port = 443 } of targets) total += host.length + port;',
    'function pick<T extends Target>(list: T[], key: keyof T = "host"): unknown[] { return list.map((t) => t[key]); }',
    'class Service<T> { private readonly items: T[] = []; constructor(public name: string) {} add(item: T): this { this.items.push(item); return this; } get size(): number { return this.items.length; } }',
    'const svc = new Service<Pair<number>>("api").add([1, 2]);',
    'const labels = `${svc.name}:${Phase.Deploy}` as string;',
    'async function fetchAll(urls: string[]): Promise<number> { let n = 0; for await (const u of urls) n += u.length; return n; }',
    'const result = await fetchAll(["a", "b"]);',
    'export const summary = { total, labels, result, picked: pick(targets), ok: total > 0 ? "yes" : "no" } satisfies Record<string, unknown>;',
    'summary',
  ].join('\n');
}

/** Sample values for the display code: a table, a Map, an Error, nested objects. */
const SAMPLE_VALUES: unknown[] = [
  [{ name: 'api', replicas: 2 }, { name: 'web', replicas: 3 }],
  new Map([['a', 1]]),
  new Error('warm-up'),
  { nested: { list: [1, 2, 3], when: new Date(0) } },
];

/** Starts the warm-up after START_DELAY_MS; a step waits while `busy()` (a cell is running). */
export function warmUpSoon(busy: () => boolean): void {
  let pass = 0;
  const step = () => {
    if (pass >= PASSES) return;
    if (!busy()) {
      try {
        const code = sampleCell(pass);
        rewriteCell(code);
        isComplete(code);
        for (const value of SAMPLE_VALUES) toBundle(value);
      } catch {
        return; // a warm-up is an optimisation only
      }
      pass += 1;
    }
    setTimeout(step, 0).unref();
  };
  setTimeout(step, START_DELAY_MS).unref();
}
