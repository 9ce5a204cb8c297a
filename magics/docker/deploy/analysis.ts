// The analyses of a canary rollout, as data (pure: no Prometheus, no clock): `--analysis "name: <PromQL> <op>
// <threshold>"` parsed and checked, one measurement judged, and the tally that decides, as Argo Rollouts' analysis
// runs do, when an analysis has failed the rollout:
// - a measurement is a success (the value meets the condition), a failure (it does not), inconclusive (no data yet,
//   or NaN, such as an error ratio with no requests: 0/0), or an error (the query could not be answered);
// - failures are counted over the whole rollout: more than the failure limit fails it (Argo's failureLimit, default 0:
//   the first failure fails);
// - errors fail it only when more than CONSECUTIVE_ERROR_LIMIT come in a row (Argo's consecutiveErrorLimit, 4);
// - a step that ends without a single conclusive measurement of an analysis fails it, unless inconclusive results
//   are accepted (--inconclusive pass); Argo pauses the rollout there for a person to decide, a notebook run has no
//   one to wait for.
import { UsageError } from '../../../kernel/io/errors';

export type Op = '<' | '<=' | '>' | '>=';

export interface Analysis {
  name: string;
  /** The PromQL query, asked as an instant query. */
  query: string;
  op: Op;
  /** The threshold in the query's own unit (1% → 0.01, 300ms → 0.3: seconds, as Prometheus counts time). */
  threshold: number;
  /** The threshold as written ("1%", "0.3"). */
  thresholdText: string;
}

export type Measurement =
  | { kind: 'success' | 'failure'; value: number; at: number }
  | { kind: 'inconclusive'; why: string; at: number }
  | { kind: 'error'; message: string; at: number };

/** Errors in a row that fail an analysis (Argo's default consecutiveErrorLimit). */
export const CONSECUTIVE_ERROR_LIMIT = 4;

const USAGE = '--analysis "name: <PromQL> <op> <threshold>", op one of < <= > >=, e.g. "errors: sum(rate(x{code=~\'5..\'}[1m])) / sum(rate(x[1m])) < 0.01"';
const NAME = /^\s*([A-Za-z][A-Za-z0-9_-]*)\s*:\s+/;
const NUMBER = '([-+]?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][-+]?\\d+)?)';
const CONDITION = new RegExp(`(<=|>=|<|>)\\s*${NUMBER}\\s*(%|ms|s)?\\s*$`);
/** Something that looks like a comparison at the end but is not one of ours: `== 0.01`, `!= 1`, `=> 2`, `=< 2`. */
const OTHER_OP = new RegExp(`(==|!=|=>|=<|<>|=|~)\\s*${NUMBER}\\s*(%|ms|s)?\\s*$`);

/** A threshold with its unit in the query's unit: a percentage as a ratio, milliseconds as seconds. */
function thresholdValue(number: string, unit: string | undefined): number {
  const n = Number(number);
  if (unit === '%') return n / 100;
  if (unit === 'ms') return n / 1000;
  return n;
}

/** `name: <PromQL> <op> <threshold>` → an Analysis; a UsageError says what is wrong and how it is written. */
export function parseAnalysis(text: string): Analysis {
  const named = NAME.exec(text);
  if (!named) throw new UsageError(`--analysis "${text.trim()}": it starts with a name and a colon`, USAGE);
  const rest = text.slice(named[0].length).trim();
  const condition = CONDITION.exec(rest);
  const before = condition ? rest.slice(0, condition.index) : '';
  // `x == 1`, `x != 1`, `x => 1`: a comparison is at the end, but not one of ours
  const other = condition ? (/[=!~<>]$/.test(before) ? `${before.slice(-1)}${condition[1]}` : undefined) : OTHER_OP.exec(rest)?.[1];
  if (other !== undefined) throw new UsageError(`--analysis ${named[1]}: unknown comparison "${other}"; use <, <=, > or >=`, USAGE);
  if (!condition) throw new UsageError(`--analysis ${named[1]}: no condition at the end (<op> <threshold>)`, USAGE);
  const query = before.trim();
  if (query === '') throw new UsageError(`--analysis ${named[1]}: no query before "${condition[0].trim()}"`, USAGE);
  return { name: named[1], query, op: condition[1] as Op, threshold: thresholdValue(condition[2], condition[3]), thresholdText: `${condition[2]}${condition[3] ?? ''}` };
}

/** Every --analysis, parsed; two with one name are a usage error (the progress and the record name them). */
export function parseAnalyses(values: unknown): Analysis[] {
  if (!Array.isArray(values)) return [];
  const analyses = values.map((v) => parseAnalysis(String(v)));
  const names = new Set<string>();
  for (const a of analyses) {
    if (names.has(a.name)) throw new UsageError(`--analysis: the name "${a.name}" is given twice`, USAGE);
    names.add(a.name);
  }
  return analyses;
}

function meets(value: number, op: Op, threshold: number): boolean {
  if (op === '<') return value < threshold;
  if (op === '<=') return value <= threshold;
  if (op === '>') return value > threshold;
  return value >= threshold;
}

/** One value judged: undefined is no data (an empty answer), NaN is inconclusive too. */
export function judge(analysis: Analysis, value: number | undefined, at: number): Measurement {
  if (value === undefined) return { kind: 'inconclusive', why: 'no data', at };
  if (Number.isNaN(value)) return { kind: 'inconclusive', why: 'NaN', at };
  return { kind: meets(value, analysis.op, analysis.threshold) ? 'success' : 'failure', value, at };
}

/** A value as the progress shows it: 3 significant digits, no exponent for everyday sizes. */
export function valueText(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (value !== 0 && (Math.abs(value) < 1e-4 || Math.abs(value) >= 1e6)) return value.toExponential(2);
  return String(Number(value.toPrecision(3)));
}

/** "0.0021 < 0.01 ✓", "0.31 ≮ 0.01 ✗", "no data", "error: ..." — the latest measurement against its condition. */
export function measurementText(analysis: Analysis, m: Measurement | undefined): string {
  if (!m) return 'not measured yet';
  if (m.kind === 'inconclusive') return `inconclusive (${m.why})`;
  if (m.kind === 'error') return `error: ${m.message}`;
  return `${valueText(m.value)} ${m.kind === 'success' ? analysis.op : `not ${analysis.op}`} ${analysis.thresholdText} ${m.kind === 'success' ? '✓' : '✗'}`;
}

/** The condition as written: "errors: <query> < 0.01". */
export function analysisText(a: Analysis): string {
  return `${a.name}: ${a.query} ${a.op} ${a.thresholdText}`;
}

export interface AnalysisLimits {
  /** Failures tolerated over the rollout (Argo's failureLimit): one more fails it. */
  failureLimit: number;
  /** A step that ends with no conclusive measurement of an analysis: fail (default) or pass. */
  inconclusive: 'pass' | 'fail';
}

interface Tally {
  failures: number;
  consecutiveErrors: number;
  /** Conclusive measurements (success or failure) in the current step, and measurements of any kind. */
  stepConclusive: number;
  stepMeasured: number;
  latest: Measurement | undefined;
}

/** Why an analysis failed the rollout: the analysis, and a sentence naming the value. */
export interface AnalysisVerdict {
  analysis: Analysis;
  why: string;
}

/** The measurements of every analysis over one rollout, step by step, and the verdict they lead to. */
export class AnalysisRun {
  private readonly tallies = new Map<string, Tally>();

  constructor(readonly analyses: readonly Analysis[], readonly limits: AnalysisLimits) {
    for (const a of analyses) this.tallies.set(a.name, { failures: 0, consecutiveErrors: 0, stepConclusive: 0, stepMeasured: 0, latest: undefined });
  }

  private tally(a: Analysis): Tally {
    const t = this.tallies.get(a.name);
    if (!t) throw new Error(`no analysis named ${a.name}`);
    return t;
  }

  latest(a: Analysis): Measurement | undefined {
    return this.tally(a).latest;
  }

  /** Counts one measurement; the verdict when it makes the analysis fail the rollout. */
  record(a: Analysis, m: Measurement): AnalysisVerdict | undefined {
    const t = this.tally(a);
    t.latest = m;
    t.stepMeasured += 1;
    if (m.kind === 'error') {
      t.consecutiveErrors += 1;
      if (t.consecutiveErrors > CONSECUTIVE_ERROR_LIMIT) return { analysis: a, why: `${a.name} could not be measured ${t.consecutiveErrors} times in a row (${m.message})` };
      return undefined;
    }
    t.consecutiveErrors = 0;
    if (m.kind === 'success' || m.kind === 'failure') t.stepConclusive += 1;
    if (m.kind !== 'failure') return undefined;
    t.failures += 1;
    if (t.failures > this.limits.failureLimit) {
      const count = this.limits.failureLimit === 0 ? '' : ` (failure ${t.failures}, more than --failure-limit ${this.limits.failureLimit})`;
      return { analysis: a, why: `${a.name} was ${valueText(m.value)}, not ${a.op} ${a.thresholdText}${count}` };
    }
    return undefined;
  }

  /** Starts counting a new step's measurements. */
  startStep(): void {
    for (const t of this.tallies.values()) {
      t.stepConclusive = 0;
      t.stepMeasured = 0;
    }
  }

  /** At a step's end: the verdict when an analysis measured nothing conclusive in it (and that is not accepted). */
  endStep(): AnalysisVerdict | undefined {
    if (this.limits.inconclusive === 'pass') return undefined;
    for (const a of this.analyses) {
      const t = this.tally(a);
      if (t.stepMeasured > 0 && t.stepConclusive === 0) {
        const last = t.latest?.kind === 'inconclusive' ? t.latest.why : t.latest?.kind === 'error' ? t.latest.message : 'nothing';
        return { analysis: a, why: `${a.name} had no conclusive measurement in the step (last: ${last}); --inconclusive pass accepts that` };
      }
    }
    return undefined;
  }
}
