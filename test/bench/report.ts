// Turns per-kernel results into the markdown table with the issue's targets and pass/fail, plus notes on what the table hides.
import type { KernelName } from './kernels';
import type { ColdStart, Completions, Floods, Interrupts, Outcome, RoundTrips, TypescriptCells } from './measure';
import type { InProcessCells } from './typescript-cell';
import type { FirstExecutes } from './first-executes';
import type { Summary } from './stats';

export interface Memory {
  rssKiB: number;
  hwmKiB: number;
  processes: number;
}

export interface KernelResult {
  name: KernelName;
  label: string;
  available: boolean;
  reason?: string;
  interruptMode?: 'message' | 'signal';
  coldStart?: Outcome<ColdStart>;
  /** The first 300 executes of `1` after a fresh start, sent by Debian's jupyter_client. */
  firstExecutes?: Outcome<FirstExecutes>;
  execute?: Outcome<RoundTrips>;
  kernelInfo?: Outcome<Summary>;
  flood?: Outcome<Floods>;
  interrupt?: Outcome<Interrupts>;
  memory?: Outcome<Memory>;
  /** opsbook only: the 200-line TypeScript cell in this process (rewriteCell + vm) and through the kernel. */
  inProcessCell?: Outcome<InProcessCells>;
  typescriptCell?: Outcome<TypescriptCells>;
  /** opsbook only: complete_request on an object with 10,000 properties. */
  completion?: Outcome<Completions>;
  wallMs?: number;
}

type Unit = 'ms' | 'count' | 'bytes' | 'MiB';
/** A measured number, or why there is none. */
type Cell = { value: number; suffix?: string } | { text: string };
type Verdict = 'PASS' | 'FAIL' | 'n/a' | '';

interface RowSpec {
  metric: string;
  unit: Unit;
  pick(r: KernelResult): Cell;
  /** The issue's target for opsbook; `check` gets opsbook's and ipykernel's values. */
  target?: { text: string; check(ops: number, ipy: number | undefined): boolean | undefined };
}

export interface Row {
  metric: string;
  unit: Unit;
  cells: Record<KernelName, Cell>;
  ratio: number | undefined;
  target: string;
  verdict: Verdict;
}

function from<T>(o: Outcome<T> | undefined, get: (v: T) => number | undefined, suffix?: string): Cell {
  if (!o) return { text: 'not run' };
  if (!o.ok) return { text: 'failed' };
  const value = get(o.value);
  return value === undefined || Number.isNaN(value) ? { text: 'none' } : { value, suffix };
}

/** Rows measured for opsbook alone (TypeScript cells, its own completion): the other kernels show a dash. */
function opsbookOnly(pick: (r: KernelResult) => Cell): (r: KernelResult) => Cell {
  return (r) => (r.name === 'opsbook' ? pick(r) : { text: '—' });
}

const atMost = (ms: number) => ({ text: `≤ ${ms} ms`, check: (ops: number) => ops <= ms });

const ratioAtMost = (k: number) => (ops: number, ipy: number | undefined) => (ipy === undefined || ipy <= 0 ? undefined : ops / ipy <= k);

const FIRST_EXECUTES = 'execute `1` → idle, the first 300 after start (jupyter_client, back to back)';

const ROWS: RowSpec[] = [
  {
    metric: 'cold start → first kernel_info_reply (median of 5)',
    unit: 'ms',
    pick: (r) => from(r.coldStart, (c) => c.medianStartMs),
    target: { text: '≤ 0.5× ipykernel', check: ratioAtMost(0.5) },
  },
  { metric: 'cold start → first execute_reply of `1` (median of 5)', unit: 'ms', pick: (r) => from(r.coldStart, (c) => c.medianFirstExecuteMs) },
  {
    metric: 'execute `1` → idle, p50 (500 sequential, after 1,000 warm-up)',
    unit: 'ms',
    pick: (r) => from(r.execute, (e) => e.toIdle.p50),
    target: { text: '≤ 0.5 ms and ≤ 0.5× ipykernel', check: (ops, ipy) => ops <= 0.5 && (ratioAtMost(0.5)(ops, ipy) ?? true) },
  },
  { metric: 'execute `1` → idle, p50 (the same runs; issue 3 target)', unit: 'ms', pick: (r) => from(r.execute, (e) => e.toIdle.p50), target: atMost(1) },
  { metric: 'execute `1` → idle, p99', unit: 'ms', pick: (r) => from(r.execute, (e) => e.toIdle.p99) },
  { metric: `${FIRST_EXECUTES}, p50`, unit: 'ms', pick: (r) => from(r.firstExecutes, (f) => f.toIdle.p50) },
  {
    metric: `${FIRST_EXECUTES}, p99`,
    unit: 'ms',
    pick: (r) => from(r.firstExecutes, (f) => f.toIdle.p99),
    target: { text: '≤ ipykernel', check: ratioAtMost(1) },
  },
  {
    metric: `${FIRST_EXECUTES}, max`,
    unit: 'ms',
    pick: (r) => from(r.firstExecutes, (f) => f.toIdle.max),
    target: { text: '≤ ipykernel', check: ratioAtMost(1) },
  },
  { metric: 'execute `1` → idle, p50 of the first 500 after start (JIT-cold client and kernel)', unit: 'ms', pick: (r) => from(r.execute, (e) => e.coldToIdle.p50) },
  { metric: 'execute `1` → execute_reply, p50', unit: 'ms', pick: (r) => from(r.execute, (e) => e.toReply.p50) },
  { metric: 'execute `1` → execute_reply, p99', unit: 'ms', pick: (r) => from(r.execute, (e) => e.toReply.p99) },
  { metric: 'kernel_info_request → idle, p50 (200; no code runs)', unit: 'ms', pick: (r) => from(r.kernelInfo, (s) => s.p50) },
  {
    metric: '20 MB printed in 100-byte lines → idle (median of 3)',
    unit: 'ms',
    pick: (r) => (r.flood?.ok && !r.flood.value.allIdle ? { text: `no idle (reply: ${formatNumber(r.flood.value.medianReplyMs, 'ms')})` } : from(r.flood, (f) => f.medianIdleMs)),
    target: { text: '≤ 0.5× ipykernel', check: ratioAtMost(0.5) },
  },
  {
    metric: '20 MB: stream messages (worst of 3)',
    unit: 'count',
    pick: (r) => from(r.flood, (f) => f.maxMessages),
    target: { text: '≤ 200', check: (ops) => ops <= 200 },
  },
  {
    metric: '20 MB: bytes lost (worst of 3)',
    unit: 'bytes',
    pick: (r) => from(r.flood, (f) => f.maxBytesLost, r.flood?.ok && !r.flood.value.allIntact && r.flood.value.maxBytesLost === 0 ? ' (text differs)' : undefined),
    target: { text: '0', check: (ops) => ops === 0 },
  },
  {
    metric: 'interrupt `while (true) {}` → execute_reply (median of 5)',
    unit: 'ms',
    pick: (r) => {
      const how = r.interruptMode === 'message' ? ' (interrupt_request)' : ' (SIGINT)';
      if (r.interrupt?.ok && r.interrupt.value.failure && r.interrupt.value.samplesMs.length === 0) return { text: `no reply${how}` };
      const n = r.interrupt?.ok ? r.interrupt.value.samplesMs.length : 0;
      return from(r.interrupt, (i) => i.medianMs, n > 0 && n < 5 ? `${how}, n=${n}` : how);
    },
    target: { text: '≤ 50 ms', check: (ops) => ops <= 50 },
  },
  {
    metric: '200-line TS cell: rewriteCell + compile + run in-process, p50 (20 new cells)',
    unit: 'ms',
    pick: opsbookOnly((r) => from(r.inProcessCell, (c) => c.newCell.p50)),
    target: atMost(20),
  },
  { metric: '200-line TS cell in-process: rewriteCell alone, p50', unit: 'ms', pick: opsbookOnly((r) => from(r.inProcessCell, (c) => c.rewrite.p50)) },
  { metric: '200-line TS cell in-process: first call of the bench process (JIT warm-up)', unit: 'ms', pick: opsbookOnly((r) => from(r.inProcessCell, (c) => c.firstMs)) },
  {
    metric: '200-line TS cell execute → reply, first request to a fresh kernel, 1 s after its kernel_info',
    unit: 'ms',
    pick: opsbookOnly((r) => from(r.typescriptCell, (c) => c.firstAfterPause.replyMs, wrongSuffix(r))),
    target: atMost(20),
  },
  {
    metric: '200-line TS cell execute → reply, first request to a fresh kernel, sent the moment kernel_info answers',
    unit: 'ms',
    pick: opsbookOnly((r) => from(r.typescriptCell, (c) => c.firstFresh.replyMs, wrongSuffix(r))),
  },
  {
    metric: '200-line TS cell execute → reply, first in the warm session',
    unit: 'ms',
    pick: opsbookOnly((r) => from(r.typescriptCell, (c) => c.firstInSession.replyMs, wrongSuffix(r))),
    target: atMost(20),
  },
  {
    metric: '200-line TS cell execute → reply, p50 (20 new cells)',
    unit: 'ms',
    pick: opsbookOnly((r) => from(r.typescriptCell, (c) => c.newCell.toReply.p50, wrongSuffix(r))),
    target: atMost(20),
  },
  {
    metric: '200-line TS cell execute → reply, p50 (20 re-runs of one cell)',
    unit: 'ms',
    pick: opsbookOnly((r) => from(r.typescriptCell, (c) => c.rerun.toReply.p50, wrongSuffix(r))),
    target: atMost(20),
  },
  {
    metric: 'complete_request `benchBig.` (10,000 properties) → reply, p50 of 50',
    unit: 'ms',
    pick: opsbookOnly((r) => from(r.completion, (c) => c.toReply.p50, r.completion?.ok && !r.completion.value.correct ? ' (wrong matches)' : undefined)),
    target: atMost(20),
  },
  { metric: 'complete_request 10,000 properties → reply, p99', unit: 'ms', pick: opsbookOnly((r) => from(r.completion, (c) => c.toReply.p99)) },
  { metric: 'RSS after the runs above (process tree)', unit: 'MiB', pick: (r) => from(r.memory, (m) => m.rssKiB / 1024) },
  { metric: 'peak RSS (VmHWM of the kernel process)', unit: 'MiB', pick: (r) => from(r.memory, (m) => m.hwmKiB / 1024) },
];

function wrongSuffix(r: KernelResult): string | undefined {
  return r.typescriptCell?.ok && r.typescriptCell.value.wrong > 0 ? ` (${r.typescriptCell.value.wrong} wrong)` : undefined;
}

export function buildRows(results: readonly KernelResult[]): Row[] {
  const byName = (name: KernelName) => results.find((r) => r.name === name);
  return ROWS.map((spec) => {
    const cells = {} as Record<KernelName, Cell>;
    for (const name of ['opsbook', 'ipykernel', 'tslab'] as const) {
      const r = byName(name);
      cells[name] = !r ? { text: 'not run' } : !r.available ? { text: 'n/a' } : spec.pick(r);
    }
    const ops = cells.opsbook;
    const ipy = cells.ipykernel;
    const opsValue = 'value' in ops ? ops.value : undefined;
    const ipyValue = 'value' in ipy ? ipy.value : undefined;
    const ratio = opsValue !== undefined && ipyValue !== undefined && ipyValue !== 0 ? opsValue / ipyValue : undefined;
    let verdict: Verdict = '';
    const opsRan = results.some((r) => r.name === 'opsbook' && r.available);
    if (spec.target) {
      if (!opsRan) verdict = 'n/a';
      else if (opsValue === undefined) verdict = 'FAIL';
      else {
        const ok = spec.target.check(opsValue, ipyValue);
        verdict = ok === undefined ? 'n/a' : ok ? 'PASS' : 'FAIL';
      }
    }
    return { metric: spec.metric, unit: spec.unit, cells, ratio, target: spec.target?.text ?? '—', verdict };
  });
}

function formatNumber(value: number, unit: Unit): string {
  switch (unit) {
    case 'ms':
      return `${value < 10 ? value.toFixed(3) : value < 1000 ? value.toFixed(1) : Math.round(value).toLocaleString('en-US')} ms`;
    case 'MiB':
      return `${value.toFixed(1)} MiB`;
    case 'count':
    case 'bytes':
      return Math.round(value).toLocaleString('en-US');
  }
}

function formatCell(cell: Cell, unit: Unit): string {
  return 'value' in cell ? `${formatNumber(cell.value, unit)}${cell.suffix ?? ''}` : cell.text;
}

export function markdown(rows: readonly Row[], results: readonly KernelResult[]): string {
  const header = (name: KernelName) => results.find((r) => r.name === name)?.label ?? name;
  const lines = [
    `| metric | ${header('opsbook')} | ${header('ipykernel')} | ${header('tslab')} | ratio opsbook/ipykernel | target (opsbook) | pass/fail |`,
    '|---|---:|---:|---:|---:|---|---|',
  ];
  for (const row of rows) {
    const verdict = row.verdict === 'FAIL' ? '**FAIL** ✗' : row.verdict === 'PASS' ? 'PASS ✓' : row.verdict;
    const ratio = row.ratio === undefined ? '—' : `${row.ratio.toFixed(2)}×`;
    lines.push(`| ${row.metric} | ${formatCell(row.cells.opsbook, row.unit)} | ${formatCell(row.cells.ipykernel, row.unit)} | ${formatCell(row.cells.tslab, row.unit)} | ${ratio} | ${row.target} | ${verdict} |`);
  }
  return lines.join('\n');
}

/** What a flood run would add to the notes, to say the same thing once for all runs. */
function notesOf(f: Floods['runs'][number]): string {
  return JSON.stringify([f.idleReceived, f.intact, f.replyStatus, f.stderrBytes > 0]);
}

function oneLine(text: string, max = 400): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** Everything the table hides: unavailable kernels, failed phases, early stops, odd replies. */
export function notes(results: readonly KernelResult[]): string[] {
  const out: string[] = [];
  for (const r of results) {
    if (!r.available) {
      out.push(`${r.name}: not available: ${oneLine(r.reason ?? 'unknown reason')}`);
      continue;
    }
    const phases: Array<[string, Outcome<unknown> | undefined]> = [
      ['cold start', r.coldStart],
      ['first executes after start (jupyter_client)', r.firstExecutes],
      ['execute round trip', r.execute],
      ['kernel_info round trip', r.kernelInfo],
      ['20 MB', r.flood],
      ['interrupt', r.interrupt],
      ['memory', r.memory],
      ['200-line TypeScript cell in-process', r.inProcessCell],
      ['200-line TypeScript cell', r.typescriptCell],
      ['completion on 10,000 properties', r.completion],
    ];
    const seen = new Set<string>();
    for (const [phase, o] of phases) {
      if (!o || o.ok) continue;
      const error = oneLine(o.error);
      if (seen.has(error)) continue; // a kernel that did not start fails every later phase the same way
      seen.add(error);
      out.push(`${r.name}: ${phase} failed: ${error}`);
    }
    if (r.execute?.ok && (r.execute.value.missingIdle > 0 || r.execute.value.notOk > 0)) {
      out.push(`${r.name}: execute round trip: ${r.execute.value.missingIdle} idle statuses missing, ${r.execute.value.notOk} replies not ok`);
    }
    for (const [i, f] of (r.flood?.ok ? r.flood.value.runs : []).entries()) {
      if (i > 0 && r.flood?.ok && notesOf(f) === notesOf(r.flood.value.runs[0])) continue; // say it once
      if (!f.idleReceived) out.push(`${r.name}: 20 MB: no idle status arrived (reply after ${f.toReplyMs.toFixed(0)} ms)`);
      if (!f.intact) out.push(`${r.name}: 20 MB: the stdout text received differs from what was printed (${f.stdoutBytes} of ${f.expectedBytes} bytes)`);
      if (f.replyStatus !== 'ok') out.push(`${r.name}: 20 MB: execute_reply status ${f.replyStatus}`);
      if (f.stderrBytes > 0) out.push(`${r.name}: 20 MB: ${f.stderrBytes} bytes on stderr: ${JSON.stringify(f.stderrSample.slice(0, 160))}`);
    }
    if (r.firstExecutes?.ok) {
      const f = r.firstExecutes.value;
      const slowest = f.samplesMs.map((ms, i) => ({ ms, i })).sort((a, b) => b.ms - a.ms).slice(0, 3);
      out.push(`${r.name}: first executes after start: ready after ${f.readySeconds.toFixed(2)} s; slowest ${slowest.map((s) => `#${s.i + 1} ${s.ms.toFixed(1)} ms`).join(', ')}${f.notOk > 0 ? `; ${f.notOk} replies not ok` : ''}`);
    }
    if (r.typescriptCell?.ok && r.typescriptCell.value.wrong > 0) {
      out.push(`${r.name}: 200-line TypeScript cell: ${r.typescriptCell.value.wrong} executions did not reply ok with the cell's value`);
    }
    if (r.completion?.ok && !r.completion.value.correct) {
      out.push(`${r.name}: completion on ${r.completion.value.properties} properties: the reply did not list every property (${r.completion.value.matches} matches)`);
    }
    if (r.interrupt?.ok) {
      const i = r.interrupt.value;
      if (i.failure) out.push(`${r.name}: interrupt (${i.how}): ${i.failure}`);
      if (!i.aliveAfter) out.push(`${r.name}: interrupt: the kernel did not run \`1\` afterwards`);
      if (i.answeredEarly.length > 0) {
        out.push(`${r.name}: interrupt: ${i.answeredEarly.length} loop cells were answered before any interrupt was sent (${i.answeredEarly.map((x) => `${x.status} after ${x.afterMs.toFixed(1)} ms`).join(', ')}); not counted, the cell was sent again`);
      }
      const odd = i.replies.filter((x) => x.status !== 'error');
      if (odd.length > 0) out.push(`${r.name}: interrupt: ${odd.length} replies were not errors (${odd.map((x) => x.status).join(', ')})`);
    }
  }
  return out;
}
