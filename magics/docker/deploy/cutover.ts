// The local deploy as its algorithm, one named step each, inside a DeployRun (lock, progress, audit record):
//   start candidate → gate → switch → retire
// The candidate starts beside the serving version without the service's ports and must pass the health gate; a
// candidate that fails is removed and the old version, never touched, keeps serving. The switch stops the old version
// and starts the new one on the ports, checks it again, and starts the old one again if that fails. Retire leaves the
// old version stopped (kept for %rollback, `--keep N` of them). Either failure is a MagicError with the new
// container's last log lines and health log.
import type Docker from 'dockerode';
import { MagicError } from '../../../kernel/io/errors';
import { HealthOutcome, describeGate, waitAnswering, waitHealthy, whyUnhealthy } from './health';
import { DeployResult, DeployRun } from './run';
import { CANDIDATE_SUFFIX, STOP_TIMEOUT_S, probeUrl, removeQuietly, serving, trimOld, versionOptions } from './service';
import { seconds } from './spec';

interface Serving {
  id: string;
  name: string;
  image: string;
}

/** What a failed deploy's error shows under its message: the new container's last log lines and health checks. */
async function failureDetails(run: DeployRun, container: Docker.Container): Promise<string> {
  const why = await whyUnhealthy(container);
  return run.mask(['last log lines:', ...why.logs, ...(why.healthLog.length ? ['health checks:', ...why.healthLog] : [])].join('\n'));
}

/** 1. The new version next to the old one, without the service's ports. */
async function startCandidate(run: DeployRun): Promise<Docker.Container> {
  const { docker, spec, deployId } = run;
  run.step('starting the new version next to the old one');
  const candidate = await docker.createContainer(versionOptions(spec, `${spec.service}-${deployId}${CANDIDATE_SUFFIX}`, deployId, run.previousImage, false));
  await candidate.start();
  return candidate;
}

/** 2. The health gate; a candidate that fails it is removed and the deploy fails with the old version untouched. */
async function gate(run: DeployRun, candidate: Docker.Container, old: Serving | undefined): Promise<void> {
  const { spec, io } = run;
  run.step(`waiting for the new version to be healthy (${describeGate(spec.gate)}, up to ${seconds(spec.waitMs)})`);
  const outcome = await waitHealthy(candidate, spec.gate, spec.waitMs, io.signal, await probeUrl(candidate, spec, false));
  if (outcome.healthy) return;
  const details = await failureDetails(run, candidate);
  await removeQuietly(candidate);
  const kept = old ? `${old.name} (${old.image}) keeps serving` : 'nothing was serving before';
  await run.record(`failed: the new version ${outcome.reason}; ${kept}`, undefined);
  throw new MagicError(`${spec.kind} of ${spec.image} to ${spec.service} failed: the new version ${outcome.reason}; ${kept}`, details);
}

/**
 * 3. The switch: the old version stops, the new one starts on the ports and is checked again. Returns the gap, from
 * stopping the old version until the new one answers on the service's (first) port. If the new one fails, it is
 * removed, the old one started again, and the deploy fails.
 */
async function switchOver(run: DeployRun, candidate: Docker.Container, old: Serving | undefined): Promise<number> {
  const { docker, spec, io, deployId } = run;
  run.step('healthy; cutting over');
  const final = await docker.createContainer(versionOptions(spec, `${spec.service}-${deployId}`, deployId, run.previousImage, true));
  const cutStart = Date.now();
  if (old) await docker.getContainer(old.id).stop({ t: STOP_TIMEOUT_S }).catch(() => undefined);
  let after: HealthOutcome;
  let gap: number | undefined;
  try {
    await final.start();
    if (spec.ports[0]?.proto === 'tcp' && (await waitAnswering(spec.ports[0].host, spec.waitMs, io.signal))) gap = Date.now() - cutStart;
    after = await waitHealthy(final, spec.gate, spec.waitMs, io.signal, await probeUrl(final, spec, true));
  } catch (e) {
    after = { healthy: false, reason: `could not start on the service's ports: ${(e as Error).message}` };
  }
  gap ??= Date.now() - cutStart;
  await removeQuietly(candidate);
  if (after.healthy) return gap;
  const details = await failureDetails(run, final);
  await removeQuietly(final);
  if (old) await docker.getContainer(old.id).start().catch(() => undefined);
  const kept = old ? `${old.name} restored and serving` : 'nothing was serving before';
  await run.record(`failed at cutover: the new version ${after.reason}; ${kept}`, gap);
  throw new MagicError(`${spec.kind} of ${spec.image} to ${spec.service} failed at cutover: the new version ${after.reason}; ${kept}`, details);
}

/** 4. Retire: the old version stays stopped (no restart with the engine), kept for %rollback up to --keep versions. */
async function retire(run: DeployRun, old: Serving | undefined): Promise<void> {
  if (old) await run.docker.getContainer(old.id).update({ RestartPolicy: { Name: 'no' } }).catch(() => undefined);
  await trimOld(run.docker, run.spec.service, run.spec.keep);
}

/** The whole local deploy inside a run that holds the lock. Throws MagicError on failure (the old version serving). */
export async function cutover(run: DeployRun, bound: boolean): Promise<DeployResult | undefined> {
  const { docker, spec } = run;
  const current = await serving(docker, spec.service);
  const old: Serving | undefined = current && { id: current.Id, name: current.Names[0]?.replace(/^\//, '') ?? current.Id.slice(0, 12), image: current.Image };
  run.previousImage = current?.ImageID ?? '';
  const candidate = await startCandidate(run);
  await gate(run, candidate, old);
  const gap = await switchOver(run, candidate, old);
  await retire(run, old);
  const r = await run.record(spec.kind === 'rollback' ? 'rolled back' : 'deployed', gap);
  return bound ? { ...r, container: `${spec.service}-${run.deployId}` } : undefined;
}
