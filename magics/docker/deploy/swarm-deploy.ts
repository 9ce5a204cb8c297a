// %deploy --swarm as its algorithm inside a DeployRun (lock, progress, audit record): the service's proxy is readied
// first (swarm-front.ts: an overlay network, the proxy routing to the service's tasks by DNS), then Swarm does the
// rolling update and its own rollback (swarm.ts builds the service spec and waits for convergence), then the proxy
// must see the tasks healthy. The run records the outcome and ends with the audit line above the task table and
// the proxy's line. A rollback by Swarm fails the cell, saying so.
import { MagicError } from '../../../kernel/io/errors';
import { escapeHtml } from '../../../kernel/io/html';
import { proxyName } from '../proxy/proxy';
import { DeployResult, DeployRun, auditBundle } from './run';
import { versionLabels } from './service';
import { portText } from './spec';
import { deploySwarm, swarmLabels, tasksBundle } from './swarm';
import { awaitTasksBehindProxy, prepareSwarmFront } from './swarm-front';

interface SwarmServiceInfo {
  Spec?: { TaskTemplate?: { ContainerSpec?: { Image?: string } }; EndpointSpec?: { Mode?: string; Ports?: unknown[] } };
}

/** How long the proxy may take to see the tasks Swarm says run (a DNS hold and two checks are about 3 s). */
const PROXY_SEES_TASKS_MS = 30_000;

export async function swarmUpdate(run: DeployRun, replicas: number, bound: boolean): Promise<DeployResult | undefined> {
  const { docker, spec, io, deployId } = run;
  const existing = (await docker.getService(spec.service).inspect().catch(() => undefined)) as SwarmServiceInfo | undefined;
  const previousImage = existing?.Spec?.TaskTemplate?.ContainerSpec?.Image?.split('@')[0] ?? '';
  run.previousImage = previousImage;
  const warn = (line: string) => io.stream('stderr', `[opsbook] ${line}\n`);
  if (spec.ports.length > 0) run.step(`readying the proxy ${proxyName(spec.service)}`);
  const front = await prepareSwarmFront(docker, spec, replicas, (existing?.Spec?.EndpointSpec?.Ports ?? []).length > 0, warn);
  const labels = swarmLabels(versionLabels(spec, deployId, previousImage));
  const outcome = await deploySwarm(
    docker,
    { image: spec.image, service: spec.service, replicas, ports: spec.ports, env: spec.env, labels, gate: spec.gate, waitMs: spec.waitMs, network: front.network },
    io,
    (line) => run.step(line),
    front.afterSubmit,
  );
  let proxyLine = '';
  if (front.network) {
    run.step(`waiting for the proxy to see ${replicas} healthy task${replicas === 1 ? '' : 's'}`);
    const seen = await awaitTasksBehindProxy(docker, spec, replicas, PROXY_SEES_TASKS_MS, io.signal);
    proxyLine = `  proxy ${proxyName(spec.service)} on ${spec.ports.map(portText).join(', ')} → tasks.${spec.service}: ${seen} healthy`;
  }
  const rolledBack = outcome.result === 'rolled back';
  const r = await run.record(rolledBack ? `failed: Swarm rolled the update back to ${previousImage || 'the previous version'} (${outcome.message})` : outcome.result, {});
  const tasks = tasksBundle(outcome.tasks);
  const audit = auditBundle(r);
  const proxyText = proxyLine ? `\n${proxyLine}` : '';
  const proxyHtml = proxyLine ? `<pre>${escapeHtml(proxyLine.trim())}</pre>` : '';
  run.finish({ 'text/plain': `${audit['text/plain']}\n${tasks['text/plain']}${proxyText}`, 'text/html': `${audit['text/html']}${tasks['text/html']}${proxyHtml}` });
  if (rolledBack) throw new MagicError(`the Swarm update of ${spec.service} to ${spec.image} failed and Swarm rolled it back to ${previousImage || 'the previous version'}`, run.mask(outcome.message));
  return bound ? { ...r, container: spec.service } : undefined;
}
