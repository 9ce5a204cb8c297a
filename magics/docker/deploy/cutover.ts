// The local deploy as its algorithm, one named step each, inside a DeployRun (lock, progress, audit record):
//   proxy ready → start candidate → gate → switch → settle → drain → retire
// or, with --strategy canary or bluegreen (rollout.ts; blue-green is one step of 100%):
//   proxy ready → start candidate → gate → canary steps (stage, shift, hold, measure; or roll back) → promote → drain → retire
// The service's proxy owns its published ports (front.ts). The candidate starts beside the serving version on the
// service's network, publishing nothing, and must pass the health gate (Docker's health status for the image's
// HEALTHCHECK or --health-cmd; the proxy's own HTTP check for --health-url); a candidate that fails is removed and
// the old version, never touched, keeps serving. The switch routes every new request to the candidate, confirmed by
// the proxy (proxy/proxy.ts); the old version stays in the routing as a standby the proxy fails over to by itself.
// Settle watches the new version until it has passed its checks for a while in a row: one missed check is not a
// failure, a version the proxy marks down is switched back (the old one is still running, and already serving). Drain lets the old version finish its in-flight
// requests; only then is it stopped, kept for %rollback (--keep N of them). A kernel killed at any step leaves the
// service served; the next deploy puts it in order (reconcile.ts).
import type Docker from 'dockerode';
import { LABEL } from '../engine/labels';
import { RoutedServer } from '../proxy/config';
import { ProxyConfigError } from '../proxy/reload';
import { ProxyError, currentRouting, ensureNetwork, ensureProxy, networkName, removeProxy, serverStates, switchTo, waitDrained } from '../proxy/proxy';
import { FULL_WEIGHT, ProxyPlan, createProxy, planProxy, proxySpecOf, routingFor } from './front';
import { describeGate, waitHealthy } from './health';
import { MagicError } from '../../../kernel/io/errors';
import { fail } from './failure';
import { MetricsSource } from './measure';
import { canaryRollout } from './rollout';
import type { ChartTarget } from './rollout-report';
import { DeployResult, DeployRun } from './run';
import { CANDIDATE_SUFFIX, Candidate, STOP_TIMEOUT_S, Version, addressOf, probeUrl, serving, trimOld, versionFrom, versionOf, versionOptions } from './service';
import { seconds } from './spec';
import { sleep } from '../../lib/sleep';

/** How long in a row the new version must pass its checks after the switch before the old one may go (about 8 checks). */
const SETTLE_CLEAN_MS = 8000;
/** A new version still missing checks this long after the switch is switched back. */
const SETTLE_MAX_MS = 30_000;
const SETTLE_POLL_MS = 250;

function keptText(old: Version | undefined): string {
  return old ? `${old.name} (${old.image}) keeps serving` : 'nothing was serving before';
}

/** 1. The new version next to the old one, on the service's network, publishing nothing. */
async function startCandidate(run: DeployRun, plan: ProxyPlan, old: Version | undefined): Promise<Candidate> {
  const { docker, spec, deployId } = run;
  run.step('starting the new version next to the old one');
  const route: RoutedServer = { container: `${spec.service}-${deployId}`, version: versionOf(spec.image), weight: FULL_WEIGHT };
  const options = versionOptions(spec, `${route.container}${CANDIDATE_SUFFIX}`, deployId, run.previousImage);
  if (old) (options.Labels ??= {})[LABEL.previousRef] = old.image;
  if (plan.kind !== 'none') options.NetworkingConfig = { EndpointsConfig: { [networkName(spec.service)]: { Aliases: [route.container] } } };
  // a proxy that is still to come (replace plan) has no network yet: the candidate needs it now
  if (plan.kind === 'replace') await ensureNetwork(docker, spec.service);
  const container = await docker.createContainer(options);
  await container.start();
  const address = addressOf((await container.inspect()).NetworkSettings.Networks, spec.service);
  return { container, route: address ? { ...route, address } : route };
}

/**
 * 2. The health gate, where Docker can judge it (the image's HEALTHCHECK, --health-cmd, or "still running" without
 * a check); a --health-url gate behind the proxy is the proxy's own HTTP check, judged at the switch.
 */
async function gate(run: DeployRun, candidate: Docker.Container, old: Version | undefined, plan: ProxyPlan): Promise<void> {
  const { spec, io } = run;
  if (spec.gate.kind === 'url' && plan.kind !== 'none') return;
  run.step(`waiting for the new version to be healthy (${describeGate(spec.gate)}, up to ${seconds(spec.waitMs)})`);
  const outcome = await waitHealthy(candidate, spec.gate, spec.waitMs, io.signal, plan.kind === 'none' ? await probeUrl(candidate, spec) : undefined);
  if (!outcome.healthy) await fail(run, candidate, `the new version ${outcome.reason}`, keptText(old));
}

/** The proxy takes the ports now (replace plan): the old holder goes first, a gap; put back if the new proxy fails. */
async function takeOverPorts(run: DeployRun, plan: Extract<ProxyPlan, { kind: 'replace' }>, candidate: Docker.Container, old: Version | undefined): Promise<number> {
  const { docker, spec } = run;
  run.step(`${plan.why}: the proxy takes the ports over (a short gap, this once)`);
  const gapStart = Date.now();
  if (plan.legacyHolder) await docker.getContainer(plan.legacyHolder.Id).stop({ t: STOP_TIMEOUT_S }).catch(() => undefined);
  const oldRouting = plan.oldProxy ? await currentRouting(docker, spec.service) : undefined;
  if (plan.oldProxy) await docker.getContainer(plan.oldProxy.id).remove({ force: true });
  try {
    await createProxy(docker, spec);
  } catch (e) {
    if (plan.legacyHolder) await docker.getContainer(plan.legacyHolder.Id).start().catch(() => undefined);
    if (oldRouting) {
      await removeProxy(docker, spec.service).catch(() => undefined);
      await ensureProxy(docker, { ...proxySpecOf(spec), ports: oldRouting.ports }).then(() => switchTo(docker, oldRouting)).catch(() => undefined);
    }
    await fail(run, candidate, `the proxy could not take the ports: ${(e as Error).message}`, old ? `${old.name} restored` : 'nothing was serving before');
  }
  return gapStart;
}

/**
 * 3. The switch: every new request goes to the candidate (the old version stays known at weight 0), confirmed by the
 * proxy, which checks the candidate itself first. A candidate the proxy never sees healthy is removed; the old
 * version kept serving throughout.
 */
async function switchTraffic(run: DeployRun, candidate: Candidate, old: Version | undefined, waitLeftMs: number): Promise<void> {
  const { docker, spec } = run;
  run.step(`switching the proxy to the new version${spec.gate.kind === 'url' ? ` once it answers ${spec.gate.path}` : ''}`);
  const others = old ? [old.route] : [];
  try {
    await switchTo(docker, routingFor(spec, candidate.route, others), { healthTimeoutMs: Math.max(5000, waitLeftMs) });
  } catch (e) {
    if (!(e instanceof ProxyError) && !(e instanceof ProxyConfigError)) throw e;
    const what = e instanceof ProxyError ? `the new version did not pass the proxy's health check (${describeGate(spec.gate)}) within ${seconds(Math.max(5000, waitLeftMs))}` : `the proxy refused its configuration: ${e.message}`;
    await fail(run, candidate.container, what, keptText(old));
  }
  // it serves now: it restarts with the engine, and gets its final name (the proxy routes by its alias, unchanged)
  await candidate.container.update({ RestartPolicy: { Name: 'unless-stopped' } });
  await candidate.container.rename({ name: candidate.route.container });
}

/**
 * What settle watches of the new version after the switch: Docker's view (running, health status, failed health checks
 * since the switch) and the proxy's (marked down, failed checks of the worker the switch started).
 */
interface SettleWatch {
  since: number;
  /** Failed Docker health-log entries (by start time) already seen: those of the first look are from before it. */
  dockerMisses: Set<string> | undefined;
  /** The proxy worker's failed-check count already seen. */
  proxyFailedChecks: number;
}

/** A reason to switch back (`problem`), a check the new version just missed (`miss`), or neither. */
async function lookAt(run: DeployRun, candidate: Candidate, watch: SettleWatch): Promise<{ problem?: string; miss?: string }> {
  const { docker, spec } = run;
  const state = (await candidate.container.inspect()).State;
  if (!state.Running) return { problem: `stopped (exit code ${state.ExitCode}) after the switch` };
  const mine = (await serverStates(docker, spec.service).catch(() => [])).filter((s) => s.server.endsWith(`:${candidate.route.container}`));
  // marked down: the proxy already sends the requests to the old version (its standby) and keeps doing so
  if (mine.length > 0 && mine.every((s) => s.status.startsWith('DOWN'))) return { problem: `was marked down by the proxy after the switch (${mine[0].checkStatus || 'failed checks'})` };
  let miss: string | undefined;
  // (the engine's clock may not be ours, on a remote engine: entries are told apart by what was seen before)
  const failedLog = (state.Health?.Log ?? []).filter((h) => h.ExitCode !== 0).map((h) => h.Start);
  if (watch.dockerMisses === undefined) watch.dockerMisses = new Set(failedLog);
  for (const start of failedLog) {
    if (watch.dockerMisses.has(start)) continue;
    watch.dockerMisses.add(start);
    miss = "Docker's health check failed";
  }
  const failedChecks = Math.max(0, ...mine.map((s) => s.failedChecks));
  if (failedChecks > watch.proxyFailedChecks) {
    watch.proxyFailedChecks = failedChecks;
    const last = mine.find((s) => s.checkStatus !== '')?.checkStatus;
    miss = `the proxy's check failed${last ? `; its last check: ${last}` : ''}`;
  }
  // going down ("UP 2/3"), or unhealthy in Docker's eyes, is not clean either, though the misses that led there were
  // counted already. Docker's verdict alone never switches back: its check is a process started in the container,
  // which a loaded machine can make time out three times in a row while the version serves well; the proxy's
  // own check (marked down) decides, or a version that is still not clean after SETTLE_MAX_MS.
  if (!miss && (state.Health?.Status === 'unhealthy' || mine.some((s) => s.status.startsWith('UP ') || s.status.startsWith('DOWN')))) return { miss: '' };
  return miss === undefined ? {} : { miss };
}

/**
 * 4. Settle: the new version must stay clean for SETTLE_CLEAN_MS in a row after the switch, in Docker's health checks
 * and in the proxy's (one a second each). A missed check is not a failure: it starts the count again, so one flap
 * only makes settle last longer. A version that is really failing is marked down by the proxy (three failed checks
 * in a row): the proxy has then already sent requests to the old version, its standby since the switch, and the
 * deploy switches back for good and fails. So does a version still not clean after SETTLE_MAX_MS (Docker calling it
 * unhealthy all along, say), or one that stopped.
 */
async function settle(run: DeployRun, candidate: Candidate, old: Version | undefined): Promise<void> {
  const { docker, spec, io } = run;
  run.step('switched; watching the new version');
  const watch: SettleWatch = { since: Date.now(), dockerMisses: undefined, proxyFailedChecks: 0 };
  let cleanSince = watch.since;
  let lastMiss = 'not clean';
  let problem: string | undefined;
  while (!problem && !io.signal.aborted) {
    await sleep(SETTLE_POLL_MS, io.signal);
    const seen = await lookAt(run, candidate, watch);
    const now = Date.now();
    if (seen.problem) problem = seen.problem;
    else if (seen.miss !== undefined) {
      cleanSince = now;
      if (seen.miss !== '') {
        lastMiss = seen.miss;
        io.stream('stderr', `[opsbook] the new version of ${spec.service} missed a health check after the switch (${seen.miss}); one miss is not a failure: watching until it passes ${seconds(SETTLE_CLEAN_MS)} in a row\n`);
        run.step(`switched; watching the new version (it missed a check: until ${seconds(SETTLE_CLEAN_MS)} in a row pass)`);
      }
    } else if (now - cleanSince >= SETTLE_CLEAN_MS) return;
    if (!problem && now - watch.since >= SETTLE_MAX_MS) problem = `kept missing health checks for ${seconds(SETTLE_MAX_MS)} after the switch (last: ${lastMiss})`;
  }
  if (!problem) return;
  if (!old) await fail(run, candidate.container, `the new version ${problem}`, 'nothing was serving before');
  run.step(`the new version ${problem}: switching back to ${old?.name}`);
  await switchTo(docker, routingFor(spec, (old as Version).route, [candidate.route]));
  await fail(run, candidate.container, `the new version ${problem}`, `switched back: ${old?.name} (${old?.image}) serves again`);
}

/** 5. Drain: the old version finishes the requests it had (bounded by --drain) before it may stop. */
async function drain(run: DeployRun): Promise<void> {
  const { docker, spec, io } = run;
  run.step(`the old version finishes its in-flight requests (up to ${seconds(spec.drainMs)})`);
  const drained = await waitDrained(docker, spec.service, spec.drainMs + 2000);
  if (!drained) io.stream('stderr', `[opsbook] the old version of ${spec.service} still had requests after ${seconds(spec.drainMs)}: the proxy ended them (--drain)\n`);
}

/** 6. Retire: the old version stops (it gets no requests now) and stays, with --keep N others, for %rollback. */
async function retire(run: DeployRun, old: Version | undefined): Promise<void> {
  const { docker, spec } = run;
  if (old) {
    run.step(`stopping the old version ${old.name} (kept for %rollback)`);
    const container = docker.getContainer(old.id);
    await container.update({ RestartPolicy: { Name: 'no' } }).catch(() => undefined);
    await container.stop({ t: STOP_TIMEOUT_S }).catch(() => undefined);
  }
  await trimOld(docker, spec.service, spec.keep);
}

/** Without published ports there is no proxy and no traffic to keep: the old version stops, the new one keeps running. */
async function swapWithoutProxy(run: DeployRun, candidate: Candidate): Promise<void> {
  run.step('healthy; replacing the old version');
  await candidate.container.update({ RestartPolicy: { Name: 'unless-stopped' } });
  await candidate.container.rename({ name: candidate.route.container });
}

/**
 * A canary (--strategy canary) needs the old version behind the service's proxy, ports unchanged: it is judged
 * against it. A first deploy has nothing to compare with and goes at once, as Argo Rollouts does; a proxy that must
 * first take the ports over is refused before anything starts.
 */
function canaryApplies(run: DeployRun, plan: ProxyPlan, old: Version | undefined): boolean {
  const { spec, io } = run;
  if (!spec.canary) return false;
  const { strategy } = spec.canary;
  if (plan.kind === 'replace') throw new MagicError(`${strategy} deploy of ${spec.image} to ${spec.service} refused: ${plan.why}`, `deploy once without --strategy ${strategy} (a short gap, this once), then roll out the next version; nothing was changed`);
  if (old) return true;
  io.stream('stderr', `[opsbook] nothing serves ${spec.service} yet: a ${strategy} rollout has nothing to fall back on, so all requests go to the new version once it is healthy (as Argo Rollouts does for a first rollout)\n`);
  return false;
}

/** What a deploy needs besides its run: where the analyses of a canary are measured, and its chart's plotly.js. */
export interface CutoverOptions {
  metrics?: MetricsSource;
  charts?: ChartTarget;
}

/** The whole local deploy inside a run that holds the lock. Throws MagicError on failure (the old version serving). */
export async function cutover(run: DeployRun, bound: boolean, options: CutoverOptions = {}): Promise<DeployResult | undefined> {
  const { docker, spec } = run;
  const current = await serving(docker, spec.service);
  const old = current && versionFrom(current, spec.service);
  run.previousImage = current?.ImageID ?? '';
  run.step('preparing the proxy');
  const plan = await planProxy(docker, spec, current);
  const canary = canaryApplies(run, plan, old);
  const candidate = await startCandidate(run, plan, old);
  await gate(run, candidate.container, old, plan);
  const gated = Date.now();
  let gapMs: number | undefined;
  let switchMs: number;
  if (canary && spec.canary && old) {
    switchMs = await canaryRollout(run, spec.canary, options.metrics ?? noMetrics(), candidate, old, spec.waitMs - (gated - run.startedAt), options.charts);
    await drain(run);
  } else {
    if (plan.kind === 'none') {
      await swapWithoutProxy(run, candidate);
    } else {
      const gapStart = plan.kind === 'replace' ? await takeOverPorts(run, plan, candidate.container, old) : undefined;
      await switchTraffic(run, candidate, plan.kind === 'replace' && plan.legacyHolder ? undefined : old, spec.waitMs - (gated - run.startedAt));
      if (gapStart !== undefined) gapMs = Date.now() - gapStart;
    }
    switchMs = Date.now() - gated;
    if (plan.kind !== 'none') {
      await settle(run, candidate, plan.kind === 'ready' ? old : undefined);
      await drain(run);
    }
  }
  await retire(run, old);
  const r = await run.record(spec.kind === 'rollback' ? 'rolled back' : 'deployed', gapMs === undefined ? { switchMs } : { switchMs, gapMs });
  return bound ? { ...r, container: candidate.route.container } : undefined;
}

/** A canary without --analysis measures nothing: no Prometheus is asked. */
function noMetrics(): MetricsSource {
  return { settings: { url: undefined, source: 'not set' }, env: {} };
}
