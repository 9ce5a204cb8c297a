// What `%deploy --strategy canary` is asked to do, as data (pure): the steps (`--steps 10%:2m,50%:2m,100%`: the share
// of requests the new version gets and how long each share holds), the analyses judged during every hold, how often
// (--interval), and the limits (--failure-limit, --inconclusive). Checked with the rest of the spec, before anything on
// the engine is touched.
import { UsageError } from '../../../kernel/io/errors';
import { parseDuration } from '../../lib/time';
import { Analysis, parseAnalyses } from './analysis';

export interface CanaryStep {
  /** The share of requests, in percent (1–100), the new version gets during the step. */
  percent: number;
  /** How long the step holds (0: go on at once), its analyses measured every interval meanwhile. */
  holdMs: number;
}

export interface CanaryPlan {
  steps: CanaryStep[];
  analyses: Analysis[];
  intervalMs: number;
  failureLimit: number;
  inconclusive: 'pass' | 'fail';
}

export const DEFAULT_INTERVAL_MS = 15_000;
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

/**
 * The canary plan of %deploy's options, or undefined for a plain deploy. Options that only a canary reads are usage
 * errors without it; so are the strategies and paths that do not exist (yet).
 */
export function canaryPlanOf(o: Record<string, unknown>): CanaryPlan | undefined {
  const strategy = o.strategy;
  const canaryOnly = ['steps', 'analysis', 'interval', 'failure-limit', 'inconclusive'].filter((k) => o[k] !== undefined);
  if (strategy === undefined) {
    if (canaryOnly.length > 0) throw new UsageError(`%deploy: --${canaryOnly[0]} needs --strategy canary`);
    return undefined;
  }
  if (strategy === 'bluegreen') throw new UsageError('%deploy: --strategy bluegreen does not exist yet; --strategy canary does');
  if (strategy !== 'canary') throw new UsageError(`%deploy: unknown --strategy "${String(strategy)}" (canary)`);
  if (o.swarm === true) throw new UsageError('%deploy: --strategy canary works on the local path, not with --swarm (yet)');
  if (typeof o.steps !== 'string') throw new UsageError('%deploy --strategy canary needs --steps', STEPS_USAGE);
  let intervalMs = DEFAULT_INTERVAL_MS;
  if (typeof o.interval === 'string') {
    try {
      intervalMs = parseDuration(o.interval) * 1000;
    } catch (e) {
      throw new UsageError(`--interval: ${(e as Error).message}`);
    }
    if (intervalMs <= 0) throw new UsageError('--interval must be positive');
  }
  const inconclusive = o.inconclusive ?? 'fail';
  if (inconclusive !== 'pass' && inconclusive !== 'fail') throw new UsageError(`--inconclusive takes pass or fail, not "${String(inconclusive)}"`);
  return {
    steps: parseSteps(o.steps),
    analyses: parseAnalyses(o.analysis),
    intervalMs,
    failureLimit: typeof o['failure-limit'] === 'number' ? o['failure-limit'] : 0,
    inconclusive,
  };
}

/** What --dry-run says about the canary, one line each, indented under the plan. */
export function canaryPlanText(plan: CanaryPlan): string[] {
  const fmt = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  return [
    `  canary: ${plan.steps.map((s) => (s.holdMs > 0 ? `${s.percent}% for ${fmt(s.holdMs)}` : `${s.percent}%`)).join(', ')}, then promotion`,
    ...plan.analyses.map((a) => `  analysis ${a.name}: ${a.query} ${a.op} ${a.thresholdText}, every ${fmt(plan.intervalMs)}`),
    `  rolled back at the ${plan.failureLimit === 0 ? 'first failed measurement' : `failed measurement number ${plan.failureLimit + 1}`}${plan.inconclusive === 'fail' ? ', or at a step with no conclusive one' : ''}`,
  ];
}
