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
/** Blocks of the sample per pass: enough code (~8 x 60 lines) for V8 to optimise sucrase's and acorn's hot paths. */
const BLOCKS = 4;

/** Common TypeScript constructs, BLOCKS times over; `pass` makes each text new, so the rewrite cache never answers. */
export function sampleCell(pass: number): string {
  const blocks: string[] = [`// opsbook warm-up ${pass}`];
  for (let b = 0; b < BLOCKS; b++) blocks.push(sampleBlock(`${pass}_${b}`));
  return blocks.join('\n');
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
