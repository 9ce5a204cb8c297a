// The proxy in front of a `%deploy --swarm` service: the same per-service HAProxy container as a local deploy's,
// attached to an attachable overlay network the service's tasks join, routing to whatever tasks Swarm runs. The
// service has endpoint mode dnsrr, so Docker's DNS answers `tasks.<service>` with the addresses of its healthy
// tasks; the proxy's server template takes them up within a second (short resolver holds), and a connection refused
// by a task that is stopping is tried again on another (retries with redispatch): a start-first rolling update or
// Swarm's own rollback loses no request, and neither Swarm's routing mesh nor IPVS is needed.
import type Docker from 'dockerode';
import { MagicError } from '../../../kernel/io/errors';
import { sleep } from '../../lib/sleep';
import { LABEL } from '../engine/labels';
import { MAX_SWARM_SLOTS, Routing, backendName, swarmSlotPrefix } from '../proxy/config';
import { ProxyError, ProxyInfo, ProxySpec, ensureNetwork, ensureProxy, formatPorts, inspectProxy, serverStates, switchTo } from '../proxy/proxy';
import { ensureProxyImage, proxyPorts, proxySpecOf } from './front';
import { DeploySpec } from './spec';

const POLL_MS = 500;

/** The overlay network of a Swarm service: not the local path's bridge `opsbook-net-<service>`, so the two never mix. */
export function swarmNetworkName(service: string): string {
  return `opsbook-swarm-${service}`;
}

/**
 * Server slots for `replicas` tasks: a start-first update runs one task more than the replicas, and a task that
 * stopped may still be in the resolvers' answer for its hold (1 s): twice the replicas and two spare.
 */
export function swarmSlots(replicas: number): number {
  return Math.min(MAX_SWARM_SLOTS, 2 * Math.max(1, replicas) + 2);
}

function swarmProxySpec(spec: DeploySpec, replicas: number): ProxySpec {
  return {
    ...proxySpecOf(spec),
    labels: { [LABEL.mode]: 'swarm' },
    network: { name: swarmNetworkName(spec.service), driver: 'overlay' },
    swarm: { service: spec.service, slots: swarmSlots(replicas) },
  };
}

/** The routing of a Swarm service's proxy: its tasks by DNS, no named servers. */
export function swarmRouting(spec: DeploySpec, replicas: number): Routing {
  const p = swarmProxySpec(spec, replicas);
  return { service: spec.service, ports: proxyPorts(spec), servers: [], mode: p.mode ?? 'http', check: p.check ?? { kind: 'tcp' }, drainSeconds: p.drainSeconds ?? 30, swarm: p.swarm };
}

export interface SwarmFront {
  /** The overlay network the tasks must join (undefined: no ports, no proxy). */
  network: string | undefined;
  /** Runs once Swarm accepted the service's spec: creates the proxy when it had to wait for the ports. */
  afterSubmit: () => Promise<void>;
}

async function createSwarmProxy(docker: Docker, spec: DeploySpec, replicas: number): Promise<ProxyInfo> {
  try {
    return await ensureProxy(docker, swarmProxySpec(spec, replicas));
  } catch (e) {
    if (e instanceof ProxyError) throw new MagicError(`deploy (swarm) of ${spec.image} to ${spec.service} refused: ${e.message}`, 'free the port, or publish the service on another one (-p HOST:CONTAINER)');
    throw e;
  }
}

/**
 * Readies the proxy before Swarm gets the new spec: the overlay network exists, the proxy runs with the service's
 * ports routing to its tasks (created now, or its routing brought up to date, e.g. more slots for more replicas).
 * A proxy with other ports is replaced (a short gap, said on `warn`). A service that still publishes its ports
 * through Swarm's routing mesh (deployed before the proxy) gets its proxy once Swarm accepted the spec without them.
 */
export async function prepareSwarmFront(docker: Docker, spec: DeploySpec, replicas: number, publishedBySwarm: boolean, warn: (line: string) => void): Promise<SwarmFront> {
  if (spec.ports.length === 0) return { network: undefined, afterSubmit: async () => undefined };
  await ensureProxyImage(docker, spec.proxyImage);
  const network = await ensureNetwork(docker, spec.service, { [LABEL.mode]: 'swarm' }, { name: swarmNetworkName(spec.service), driver: 'overlay' });
  const existing = await inspectProxy(docker, spec.service);
  if (existing && existing.network !== network) {
    throw new MagicError(`${spec.service} is deployed without --swarm: its proxy routes to local versions on ${existing.network}`, 'deploy the Swarm service under another --name, or stop the local one first');
  }
  if (existing && existing.ports !== formatPorts(proxyPorts(spec))) {
    warn(`the ports of ${spec.service} change from ${existing.ports} to ${formatPorts(proxyPorts(spec))}: its proxy is replaced, a gap of a few seconds`);
    await docker.getContainer(existing.id).remove({ force: true });
  } else if (existing) {
    await createSwarmProxy(docker, spec, replicas); // started if it was stopped; waits until it answers
    await switchTo(docker, swarmRouting(spec, replicas));
    return { network, afterSubmit: async () => undefined };
  }
  if (publishedBySwarm) {
    warn(`${spec.service} published its ports through Swarm's routing mesh; from this update on its proxy publishes them`);
    return { network, afterSubmit: async () => void (await createSwarmProxy(docker, spec, replicas)) };
  }
  await createSwarmProxy(docker, spec, replicas);
  return { network, afterSubmit: async () => undefined };
}

/** How many of the service's tasks its proxy sees healthy now (its own checks), on the first port's backend. */
export async function healthyTasks(docker: Docker, spec: DeploySpec): Promise<number> {
  const backend = backendName(spec.service, spec.ports[0].container);
  const prefix = swarmSlotPrefix(spec.service);
  return (await serverStates(docker, spec.service)).filter((s) => s.backend === backend && s.server.startsWith(prefix) && s.healthy).length;
}

/**
 * Waits until the proxy sees `replicas` tasks healthy (Swarm said they run; the proxy's DNS hold and checks take a
 * second or two more); how many it sees at the end. A MagicError when it sees none within `timeoutMs`.
 */
export async function awaitTasksBehindProxy(docker: Docker, spec: DeploySpec, replicas: number, timeoutMs: number, signal: AbortSignal): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let seen = await healthyTasks(docker, spec);
  while (seen < replicas && Date.now() < deadline && !signal.aborted) {
    await sleep(POLL_MS, signal);
    seen = await healthyTasks(docker, spec);
  }
  if (seen === 0) {
    throw new MagicError(`Swarm runs ${spec.service} but its proxy sees no healthy task within ${Math.round(timeoutMs / 1000)} s`, `the proxy's /stats page (%ps shows its ports) and docker service ps ${spec.service} show why`);
  }
  return seen;
}
