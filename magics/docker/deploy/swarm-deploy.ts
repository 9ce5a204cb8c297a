// %deploy --swarm as its algorithm inside a DeployRun (lock, progress, audit record): Swarm does the rolling update
// and its own rollback (swarm.ts builds the service spec and waits for convergence); the run records the outcome and
// ends with the audit line above the task table. A rollback by Swarm fails the cell, saying so.
import { MagicError } from '../../../kernel/io/errors';
import { DeployResult, DeployRun, auditBundle } from './run';
import { versionLabels } from './service';
import { deploySwarm, swarmLabels, tasksBundle } from './swarm';

interface SwarmServiceInfo {
  Spec?: { TaskTemplate?: { ContainerSpec?: { Image?: string } } };
}

export async function swarmUpdate(run: DeployRun, replicas: number, bound: boolean): Promise<DeployResult | undefined> {
  const { docker, spec, io, deployId } = run;
  const existing = (await docker.getService(spec.service).inspect().catch(() => undefined)) as SwarmServiceInfo | undefined;
  const previousImage = existing?.Spec?.TaskTemplate?.ContainerSpec?.Image?.split('@')[0] ?? '';
  run.previousImage = previousImage;
  const labels = swarmLabels(versionLabels(spec, deployId, previousImage));
  const outcome = await deploySwarm(docker, { image: spec.image, service: spec.service, replicas, ports: spec.ports, env: spec.env, labels, gate: spec.gate, waitMs: spec.waitMs }, io, (line) =>
    run.step(line),
  );
  const rolledBack = outcome.result === 'rolled back';
  const r = await run.record(rolledBack ? `failed: Swarm rolled the update back to ${previousImage || 'the previous version'} (${outcome.message})` : outcome.result, {});
  const tasks = tasksBundle(outcome.tasks);
  const audit = auditBundle(r);
  run.finish({ 'text/plain': `${audit['text/plain']}\n${tasks['text/plain']}`, 'text/html': `${audit['text/html']}${tasks['text/html']}` });
  if (rolledBack) throw new MagicError(`the Swarm update of ${spec.service} to ${spec.image} failed and Swarm rolled it back to ${previousImage || 'the previous version'}`, run.mask(outcome.message));
  return bound ? { ...r, container: spec.service } : undefined;
}

