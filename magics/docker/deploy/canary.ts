// What `%deploy --strategy canary|bluegreen` is asked to do, as data (pure): the steps (`--steps 10%:2m,50%:2m,100%`:
// the share of requests the new version gets and how long each share holds), the analyses judged during every hold,
// how often (--interval), and the limits (--failure-limit, --inconclusive). Blue-green is the same rollout with one
// step: every request to the new version at once, held for --hold while the analyses judge it, the old version kept
// running behind it (Argo Rollouts' blueGreen with a postPromotionAnalysis, the old version scaled down only once it
// passed). Checked with the rest of the spec, before anything on the engine is touched.
import { UsageError } from '../../../kernel/io/errors';
import { parseDuration } from '../../lib/time';
import { Analysis, parseAnalyses } from './analysis';

export interface CanaryStep {
  /** The share of requests, in percent (1–100), the new version gets during the step. */
  percent: number;
  /** How long the step holds (0: go on at once), its analyses measured every interval meanwhile. */
  holdMs: number;
}

export type Strategy = 'canary' | 'bluegreen';

export interface CanaryPlan {
  strategy: Strategy;
  steps: CanaryStep[];
  analyses: Analysis[];
  intervalMs: number;
  failureLimit: number;
  inconclusive: 'pass' | 'fail';
}

export const DEFAULT_INTERVAL_MS = 15_000;
/** How long a blue-green deploy judges the new version, the old one kept running, unless --hold says. */
export const DEFAULT_HOLD_MS = 120_000;
const STEPS_USAGE = '--steps PERCENT[:DURATION],... e.g. 10%:2m,50%:2m,100%';

/** `10%:2m,50%:2m,100%` → steps; a bad one is a usage error naming it. */
export function parseSteps(text: string): CanaryStep[] {
  const steps = text.split(',').map((part): CanaryStep => {
    const m = /^\s*(\d+)%(?::(\S+))?\s*$/.exec(part);
    if (!m) throw new UsageError(`--steps: "${part.trim()}" is not PERCENT[:DURATION]`, STEPS_USAGE);
    const percent = Number(m[1]);
    if (percent < 1 || percent > 100) throw new UsageError(`--steps: ${percent}% is not in 1–100%`, STEPS_USAGE);
    let holdMs = 0;
    if (m[2] !== undefined) {
      try {
        holdMs = parseDuration(m[2]) * 1000;
      } catch (e) {
        throw new UsageError(`--steps ${part.trim()}: ${(e as Error).message}`, STEPS_USAGE);
      }
    }
    return { percent, holdMs };
  });
  if (steps.length === 0) throw new UsageError('--steps: no step given', STEPS_USAGE);
  return steps;
}

/** --failure-limit: a whole number of failed measurements tolerated, 0 or more. */
export function failureLimitOption(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0) throw new Error(`"${value}" is not a whole number of failures (0 or more)`);
  return n;
}

/** A positive duration option in ms, or `fallback` when not given; a bad one is a usage error naming the option. */
function durationOption(o: Record<string, unknown>, name: string, fallback: number): number {
  const value = o[name];
  if (typeof value !== 'string') return fallback;
  let ms: number;
  try {
    ms = parseDuration(value) * 1000;
  } catch (e) {
    throw new UsageError(`--${name}: ${(e as Error).message}`);
  }
  if (ms <= 0) throw new UsageError(`--${name} must be positive`);
  return ms;
}

/** The steps of the strategy: canary's from --steps, blue-green's one step of 100% held for --hold. */
function stepsOf(strategy: Strategy, o: Record<string, unknown>): CanaryStep[] {
  if (strategy === 'bluegreen') {
    if (o.steps !== undefined) throw new UsageError('%deploy --strategy bluegreen takes no --steps: every request moves at once; --hold says how long the old version is kept running while the analyses judge the new one');
    return [{ percent: 100, holdMs: durationOption(o, 'hold', DEFAULT_HOLD_MS) }];
  }
  if (o.hold !== undefined) throw new UsageError('%deploy: --hold is for --strategy bluegreen; a canary holds each of its --steps (10%:2m)', STEPS_USAGE);
  if (typeof o.steps !== 'string') throw new UsageError('%deploy --strategy canary needs --steps', STEPS_USAGE);
  return parseSteps(o.steps);
}

/**
 * The canary (or blue-green) plan of %deploy's options, or undefined for a plain deploy. Options that only a rollout
 * reads are usage errors without it; so are the strategies and paths that do not exist (yet).
 */
export function canaryPlanOf(o: Record<string, unknown>): CanaryPlan | undefined {
  const strategy = o.strategy;
  const canaryOnly = ['steps', 'hold', 'analysis', 'interval', 'failure-limit', 'inconclusive'].filter((k) => o[k] !== undefined);
  if (strategy === undefined) {
    if (canaryOnly.length > 0) throw new UsageError(`%deploy: --${canaryOnly[0]} needs --strategy ${canaryOnly[0] === 'hold' ? 'bluegreen' : 'canary or bluegreen'}`);
    return undefined;
  }
  if (strategy !== 'canary' && strategy !== 'bluegreen') throw new UsageError(`%deploy: unknown --strategy "${String(strategy)}" (canary or bluegreen)`);
  if (o.swarm === true) throw new UsageError(`%deploy: --strategy ${strategy} works on the local path, not with --swarm (yet)`);
  const steps = stepsOf(strategy, o);
  const intervalMs = durationOption(o, 'interval', DEFAULT_INTERVAL_MS);
  const inconclusive = o.inconclusive ?? 'fail';
  if (inconclusive !== 'pass' && inconclusive !== 'fail') throw new UsageError(`--inconclusive takes pass or fail, not "${String(inconclusive)}"`);
  return {
    strategy,
    steps,
    analyses: parseAnalyses(o.analysis),
    intervalMs,
    failureLimit: typeof o['failure-limit'] === 'number' ? o['failure-limit'] : 0,
    inconclusive,
  };
}

/** What --dry-run says about the canary, one line each, indented under the plan. */
export function canaryPlanText(plan: CanaryPlan): string[] {
  const fmt = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const how = plan.strategy === 'bluegreen'
    ? `  blue-green: every request to the new version once the proxy sees it healthy, the old one kept running for ${fmt(plan.steps[0].holdMs)}, then stopped`
    : `  canary: ${plan.steps.map((s) => (s.holdMs > 0 ? `${s.percent}% for ${fmt(s.holdMs)}` : `${s.percent}%`)).join(', ')}, then promotion`;
  return [
    how,
    ...plan.analyses.map((a) => `  analysis ${a.name}: ${a.query} ${a.op} ${a.thresholdText}, every ${fmt(plan.intervalMs)}`),
    `  rolled back at the ${plan.failureLimit === 0 ? 'first failed measurement' : `failed measurement number ${plan.failureLimit + 1}`}${plan.inconclusive === 'fail' ? ', or at a step with no conclusive one' : ''}`,
  ];
}
