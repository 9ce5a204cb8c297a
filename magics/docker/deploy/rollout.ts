// The canary steps of a local deploy (`--strategy canary`), run by the cutover in place of its switch and settle,
// once the new version passed its gate:
//   stage → step 1 … step n (shift the share, hold, measure every interval) → promote   (or: roll back)
// Stage writes the canary routing (the old version all requests, the new one at weight 0, see canaryRoutingFor) and
// waits until the proxy's own checks see the new version. Each step then shares requests through the proxy's runtime
// API (setWeights: no reload, no new worker, nothing dropped, counters keep counting) and holds for its duration while
// every analysis is measured each --interval against Prometheus (analysis.ts decides, as Argo Rollouts does). The
// proxy's file never carries a split: a restarted proxy, or a reconcile after a killed kernel, routes all to the old.
// On a failed analysis, an interrupt, or a proxy that stops seeing the new version: the new version's weight goes
// back to 0 at once (the old one takes every request), the file loses it, its in-flight requests finish, it is
// stopped and kept (named …-candidate) for %logs, the audit record says which analysis failed with which value, and
// the cell ends with a short error. After the last step: promotion, the same confirmed switch as a plain deploy (the
// old version kept as the standby), then the cutover's drain and retire. A timeline (timeline.ts) keeps the steps and
// every measurement, so the display ends as a summary and a chart of the rollout (rollout-report.ts) and a rollback's
// record carries its time to restore.
// Blue-green (--strategy bluegreen) is this rollout with one step: the new version takes every request at once (the
// runtime API again: weights 100 and 0, the old version still running and checked by the proxy), held for --hold
// while the analyses judge it; a failure, an interrupt, or the proxy marking the new version down puts the weights
// back at once, so the old version, never stopped, answers again. Passed: the same promotion, drain and retire.
import { MagicError } from '../../../kernel/io/errors';
import { sleep } from '../../lib/sleep';
import { RequestAborted } from '../../promql/client';
import { Routing, serverName } from '../proxy/config';
import { PlotlyLibrary } from '../../plotly-library';
import { ProxyError, awaitServersHealthy, serverStates, setWeights, switchTo, waitDrained } from '../proxy/proxy';
import { AnalysisRun, AnalysisVerdict, measurementText } from './analysis';
import { CanaryPlan, CanaryStep } from './canary';
import { fail } from './failure';
import { FULL_WEIGHT, canaryRoutingFor, routingFor } from './front';
import { MetricsSource, measure } from './measure';
import { pinBuiltins } from './proxy-analyses';
import { ChartTarget, rolloutEnding } from './rollout-report';
import { RolloutTimeline } from './timeline';
import { DeployRun } from './run';
import { Candidate, STOP_TIMEOUT_S, Version } from './service';
import { seconds } from './spec';

interface Rollout {
  run: DeployRun;
  plan: CanaryPlan;
  source: MetricsSource;
  candidate: Candidate;
  old: Version;
  /** The routing the proxy's file holds during the rollout. */
  routing: Routing;
  analyses: AnalysisRun;
  timeline: RolloutTimeline;
}

/** Why a step ended the rollout early: an analysis' verdict, an interrupt, or the proxy. */
type Stop = { why: string; verdict?: AnalysisVerdict };

function stepLabel(r: Rollout, index: number): string {
  if (r.plan.strategy === 'bluegreen') return 'the blue-green hold';
  return `step ${index + 1} of ${r.plan.steps.length} (${r.plan.steps[index].percent}%)`;
}

/** What the rollout is called in its messages. */
function rolloutName(r: Rollout): string {
  return r.plan.strategy === 'bluegreen' ? 'blue-green deploy' : 'canary';
}

/** The progress: the step, the shares, time left, and each analysis' latest measurement against its condition. */
function show(r: Rollout, index: number, step: CanaryStep, endsAt: number): void {
  const left = Math.max(0, endsAt - Date.now());
  const shares = r.plan.strategy === 'bluegreen'
    ? `every request to the new version, ${r.old.name} kept running behind it`
    : `canary ${stepLabel(r, index)}: ${step.percent}% of requests to the new version, ${100 - step.percent}% to ${r.old.name}`;
  const lines = r.plan.analyses.map((a) => `${a.name}: ${measurementText(a, r.analyses.latest(a))}   (wants ${a.op} ${a.thresholdText})`);
  r.run.step(`${shares}${step.holdMs > 0 ? `; ${seconds(left)} left` : ''}`, lines);
}

/**
 * The shares of a step: the new version `percent`, the old one the rest (weights out of FULL_WEIGHT). The version
 * that gets more comes first: the proxy sets them in this order, so the two are never both at 0 in between (a
 * blue-green rollback from 100/0 to 0/100 would otherwise leave no server for a moment).
 */
function weightsAt(r: Rollout, percent: number): Map<string, number> {
  const candidate = Math.round((percent / 100) * FULL_WEIGHT);
  const shares: Array<[string, number]> = [
    [r.candidate.route.container, candidate],
    [r.old.route.container, FULL_WEIGHT - candidate],
  ];
  return new Map(shares.sort((a, b) => b[1] - a[1]));
}

/** Why the proxy no longer sends the new version requests (marked down by its checks), or undefined. */
async function candidateDown(r: Rollout): Promise<string | undefined> {
  const name = serverName(r.candidate.route);
  const mine = (await serverStates(r.run.docker, r.run.spec.service).catch(() => [])).filter((s) => s.server === name);
  if (mine.length === 0 || !mine.every((s) => s.status.startsWith('DOWN'))) return undefined;
  return `the proxy marked the new version down (${mine[0].checkStatus || 'failed checks'})`;
}

/** 1. Stage: the proxy knows the new version (weight 0) and sees it healthy; the old one keeps every request. */
async function stage(r: Rollout, waitLeftMs: number): Promise<void> {
  const { docker, spec } = r.run;
  r.run.step('the proxy checks the new version before it gets any request');
  const timeoutMs = Math.max(5000, waitLeftMs);
  try {
    await switchTo(docker, r.routing);
    await awaitServersHealthy(docker, spec.service, [serverName(r.candidate.route)], timeoutMs);
  } catch (e) {
    if (!(e instanceof ProxyError)) throw e;
    await switchTo(docker, routingFor(spec, r.old.route, [])).catch(() => undefined);
    await fail(r.run, r.candidate.container, `the proxy did not see the new version healthy within ${seconds(timeoutMs)}`, `${r.old.name} (${r.old.image}) keeps serving`);
  }
}

/** Measures every analysis once; the verdict of the first that fails the rollout. */
async function measureAll(r: Rollout, signal: AbortSignal): Promise<AnalysisVerdict | undefined> {
  const measured = await Promise.all(r.plan.analyses.map(async (a) => ({ a, m: await measure(r.source, a, signal) })));
  let verdict: AnalysisVerdict | undefined;
  for (const { a, m } of measured) {
    r.timeline.measured(a, m);
    verdict = r.analyses.record(a, m) ?? verdict;
  }
  return verdict;
}

/** 2. One step: the new version gets its share, held for the step's duration, every analysis measured each interval. */
async function runStep(r: Rollout, index: number): Promise<Stop | undefined> {
  const { run, plan } = r;
  const { signal } = run.io;
  const step = plan.steps[index];
  if (signal.aborted) return { why: `interrupted before ${stepLabel(r, index)}` };
  await setWeights(run.docker, r.routing, weightsAt(r, step.percent));
  r.timeline.stepStarted(index, step.percent);
  r.analyses.startStep();
  const endsAt = Date.now() + step.holdMs;
  show(r, index, step, endsAt);
  while (Date.now() < endsAt) {
    await sleep(Math.min(plan.intervalMs, Math.max(0, endsAt - Date.now())), signal);
    if (signal.aborted) return { why: `interrupted during ${stepLabel(r, index)}` };
    let verdict: AnalysisVerdict | undefined;
    try {
      verdict = await measureAll(r, signal);
    } catch (e) {
      if (e instanceof RequestAborted) return { why: `interrupted during ${stepLabel(r, index)}` };
      throw e;
    }
    show(r, index, step, endsAt);
    if (verdict) return { why: `${verdict.why} at ${stepLabel(r, index)}`, verdict };
    // with most requests on it (all, blue-green), a new version the proxy marks down would leave them nowhere to go
    const down = await candidateDown(r);
    if (down) return { why: `${down} at ${stepLabel(r, index)}` };
  }
  const verdict = step.holdMs > 0 ? r.analyses.endStep() : undefined;
  return verdict ? { why: `${verdict.why} (${stepLabel(r, index)})`, verdict } : undefined;
}

/**
 * Rolls back: the new version's weight to 0 at once (the old version takes every request), the file without it, its
 * in-flight requests finished, then it is stopped and kept for %logs. Throws the deploy's error.
 */
async function rollBack(r: Rollout, stop: Stop): Promise<never> {
  const { run, old, candidate } = r;
  const { docker, spec, io } = run;
  run.step(`${stop.why}: rolling back, ${old.name} takes every request again`);
  try {
    await setWeights(docker, r.routing, weightsAt(r, 0));
    r.timeline.rolledBack(stop.why, stop.verdict);
  } catch (e) {
    // the reload below puts the old version alone in place all the same, only a little later
    io.stream('stderr', `[opsbook] the proxy's weights could not be set back at once (${(e as Error).message}); reloading it with ${old.name} alone\n`);
  }
  await switchTo(docker, routingFor(spec, old.route, []));
  if (r.timeline.end === undefined) r.timeline.rolledBack(stop.why, stop.verdict);
  await waitDrained(docker, spec.service, spec.drainMs + 2000);
  const name = (await candidate.container.inspect().catch(() => undefined))?.Name.replace(/^\//, '') ?? candidate.route.container;
  await candidate.container.stop({ t: STOP_TIMEOUT_S }).catch(() => undefined);
  const served = `rolled back: ${old.name} (${old.image}) serves every request; the new version is stopped and kept as ${name}`;
  const restoredMs = r.timeline.restoredMs;
  await run.record(`failed: ${stop.why}; ${served}`, restoredMs === undefined ? {} : { restoredMs });
  throw new MagicError(`${rolloutName(r)} of ${spec.image} to ${spec.service} failed: ${stop.why}; ${served}`, `its logs: %logs ${name}; %deploy --cleanup --name ${spec.service} removes it`);
}

/** 3. Promotion: every request to the new version, confirmed by the proxy, the old one its standby until retired. */
async function promote(r: Rollout): Promise<number> {
  const { run, candidate, old } = r;
  const { docker, spec } = run;
  run.step(r.plan.strategy === 'bluegreen' ? `the hold passed: the new version keeps every request, ${old.name} goes` : 'every step passed: promoting the new version to all requests');
  const started = Date.now();
  try {
    await switchTo(docker, routingFor(spec, candidate.route, [old.route]), { healthTimeoutMs: 5000 });
    r.timeline.promoted();
  } catch (e) {
    if (!(e instanceof ProxyError)) throw e;
    return rollBack(r, { why: `the proxy no longer sees the new version healthy at promotion (${e.message})` });
  }
  await candidate.container.update({ RestartPolicy: { Name: 'unless-stopped' } });
  await candidate.container.rename({ name: candidate.route.container });
  return Date.now() - started;
}

/**
 * The canary (or blue-green) rollout from a gated new version to its promotion: stage, the steps, promote. Returns
 * the promotion's switch time; throws MagicError after rolling back (the old version then serves every request).
 * Built-in analyses are pinned to the new version's server first; `charts` is where the ending's chart gets plotly.js.
 */
export async function canaryRollout(run: DeployRun, canaryPlan: CanaryPlan, source: MetricsSource, candidate: Candidate, old: Version, waitLeftMs: number, charts: ChartTarget = { plotly: new PlotlyLibrary() }): Promise<number> {
  const plan = { ...canaryPlan, analyses: pinBuiltins(canaryPlan.analyses, { service: run.spec.service, version: candidate.route.version }, serverName(candidate.route)) };
  const timeline = new RolloutTimeline(plan.analyses);
  run.ending = (record) => (timeline.end === undefined ? undefined : rolloutEnding(record, timeline, charts));
  const r: Rollout = { run, plan, source, candidate, old, routing: canaryRoutingFor(run.spec, old.route, candidate.route), analyses: new AnalysisRun(plan.analyses, plan), timeline };
  await stage(r, waitLeftMs);
  for (let i = 0; i < plan.steps.length; i++) {
    let stop: Stop | undefined;
    try {
      stop = await runStep(r, i);
    } catch (e) {
      if (!(e instanceof ProxyError)) throw e;
      stop = { why: `the proxy refused the weights of ${stepLabel(r, i)}: ${e.message}` };
    }
    if (stop) await rollBack(r, stop);
  }
  if (run.io.signal.aborted) await rollBack(r, { why: 'interrupted before the promotion' });
  return promote(r);
}
