// The proxy as a deploy sees it: the proxy spec and routings a DeploySpec asks for, the proxy image made present on
// the engine (pulled only when missing, never for the local stack's own image), and what the deploy must do with the
// proxy before it starts the new version: reuse it, create it (a first deploy: a busy host port fails here, before
// anything is stopped), or replace it after the gate (the service's ports change, or the serving version was deployed
// before the proxy and holds the ports itself: a one-time gap, said so). Before a replace plan is taken, the host
// ports the service does not hold yet are tried with a short-lived probe container, so a port another process holds
// is refused before the old proxy or version is touched.
import type Docker from 'dockerode';
import { MagicError } from '../../../kernel/io/errors';
import { ProxyPort, RoutedServer, Routing } from '../proxy/config';
import { LABEL } from '../engine/labels';
import { ProxyError, ProxyInfo, ProxySpec, ensureProxy, formatPorts, inspectProxy, networkName, portsBusy } from '../proxy/proxy';
import { DeploySpec } from './spec';

/** The weight of the version that takes all requests; 0 is a version that takes none (the old one, draining). */
export const FULL_WEIGHT = 100;

export type ProxyPlan =
  /** No published ports: no proxy, the versions are swapped directly. */
  | { kind: 'none' }
  /** The proxy runs (or is created now) with the service's ports. */
  | { kind: 'ready'; proxy: ProxyInfo }
  /** The proxy must take the ports after the gate: `holder` is what holds them now (a pre-proxy version or an old proxy). */
  | { kind: 'replace'; why: string; oldProxy: ProxyInfo | undefined; legacyHolder: Docker.ContainerInfo | undefined };

export function proxyPorts(spec: DeploySpec): ProxyPort[] {
  return spec.ports.map((p) => ({ ...(p.hostIp !== undefined ? { hostIp: p.hostIp } : {}), host: p.host, container: p.container }));
}

export function proxySpecOf(spec: DeploySpec): ProxySpec {
  return { service: spec.service, ports: proxyPorts(spec), image: spec.proxyImage, mode: 'http', check: checkOf(spec), drainSeconds: Math.max(1, Math.round(spec.drainMs / 1000)) };
}

function checkOf(spec: DeploySpec): Routing['check'] {
  return spec.gate.kind === 'url' ? { kind: 'http', path: spec.gate.path } : { kind: 'tcp' };
}

/**
 * The routing that sends every request to `serving`, keeping the others known to the proxy at weight 0 as standbys
 * (backup servers): they take requests only while `serving` is marked down, until the deploy stops them.
 */
export function routingFor(spec: DeploySpec, serving: RoutedServer, others: RoutedServer[]): Routing {
  return {
    service: spec.service,
    ports: proxyPorts(spec),
    servers: [{ ...serving, weight: FULL_WEIGHT, backup: false }, ...others.filter((o) => o.container !== serving.container).map((o) => ({ ...o, weight: 0, backup: true }))],
    mode: 'http',
    check: checkOf(spec),
    drainSeconds: Math.max(1, Math.round(spec.drainMs / 1000)),
  };
}

/**
 * The routing of a canary, as the proxy's file keeps it for the whole rollout: the old version takes every request,
 * the new one is known at weight 0, both regular servers (no standby), so the runtime API can share requests between
 * them without a reload. A proxy restarted (or a service reconciled) mid-rollout routes as this says: all to the old.
 */
export function canaryRoutingFor(spec: DeploySpec, old: RoutedServer, candidate: RoutedServer): Routing {
  return { ...routingFor(spec, old, []), servers: [{ ...old, weight: FULL_WEIGHT, backup: false }, { ...candidate, weight: 0, backup: false }] };
}

/** The proxy image on the engine: pulled when missing (a user's engine reaches a registry); a clear error otherwise. */
export async function ensureProxyImage(docker: Docker, image: string): Promise<void> {
  try {
    await docker.getImage(image).inspect();
    return;
  } catch {
    // not there: pull it
  }
  try {
    const stream = await docker.pull(image);
    await new Promise<void>((resolve, reject) => docker.modem.followProgress(stream, (e: Error | null) => (e ? reject(e) : resolve())));
  } catch (e) {
    throw new MagicError(`the proxy image ${image} is not on the engine and could not be pulled: ${(e as Error).message.split('\n')[0]}`, 'pull it on the engine, or name an image it has with --proxy-image or OPSBOOK_PROXY_IMAGE');
  }
}

/** Whether a running container publishes host ports itself (a version deployed before the proxy). */
function publishesPorts(c: Docker.ContainerInfo): boolean {
  return (c.Ports ?? []).some((p) => p.PublicPort !== undefined && p.PublicPort > 0);
}

/** The host port numbers a proxy label ("127.0.0.1:8080:80,9000:9000") publishes. */
function hostPortsOfLabel(label: string): number[] {
  return label.split(',').filter((p) => p !== '').map((p) => Number(p.split(':').slice(-2)[0]));
}

/** What to do with the proxy before the new version starts; `old` is the serving version, if any. */
export async function planProxy(docker: Docker, spec: DeploySpec, old: Docker.ContainerInfo | undefined): Promise<ProxyPlan> {
  if (spec.ports.length === 0) return { kind: 'none' };
  const existing = await inspectProxy(docker, spec.service);
  if (existing && existing.network !== networkName(spec.service)) {
    // a `--swarm` service's proxy: staging a local version there would drop its tasks from the routing
    throw new MagicError(`${spec.kind} of ${spec.image} to ${spec.service} refused: ${spec.service} is a Swarm service (its proxy routes its tasks on ${existing.network})`, 'deploy it with --swarm, or under another --name; nothing was changed');
  }
  const wanted = formatPorts(proxyPorts(spec));
  if (existing && existing.ports !== wanted) {
    await probeFreePorts(docker, spec, hostPortsOfLabel(existing.ports));
    return { kind: 'replace', why: `the service's ports change from ${existing.ports} to ${wanted}`, oldProxy: existing, legacyHolder: undefined };
  }
  if (!existing && old && publishesPorts(old)) {
    await probeFreePorts(docker, spec, (old.Ports ?? []).map((p) => p.PublicPort));
    return { kind: 'replace', why: `${old.Names[0]?.replace(/^\//, '')} was deployed before the proxy and publishes the ports itself`, oldProxy: undefined, legacyHolder: old };
  }
  return { kind: 'ready', proxy: existing ?? (await createProxy(docker, spec, { firstProxy: true })) };
}

function portsRefused(spec: DeploySpec, why: string): MagicError {
  return new MagicError(`${spec.kind} of ${spec.image} to ${spec.service} refused: ${why}`, 'free the port, or publish the service on another one (-p HOST:CONTAINER); nothing was changed');
}

/**
 * Creates (or starts) the service's proxy; a host port held by another process is a MagicError. `firstProxy`: the
 * service had no proxy, so a network created for it is removed again when the proxy cannot be created.
 */
export async function createProxy(docker: Docker, spec: DeploySpec, options: { firstProxy?: boolean } = {}): Promise<ProxyInfo> {
  await ensureProxyImage(docker, spec.proxyImage);
  try {
    return await ensureProxy(docker, proxySpecOf(spec));
  } catch (e) {
    // only an empty network goes: the engine refuses to remove one that a version is attached to
    if (options.firstProxy) await docker.getNetwork(networkName(spec.service)).remove().catch(() => undefined);
    if (e instanceof ProxyError) throw portsRefused(spec, e.message);
    throw e;
  }
}

/**
 * Tries the host ports the service will publish and does not hold yet (`held`: what its current proxy or version
 * publishes) with a probe container from the proxy image that binds them and exits at once, removed again whatever
 * happens. Through the Docker API alone, so it holds on a remote engine too. A port another process holds is refused
 * here, before the old proxy or version is stopped.
 */
async function probeFreePorts(docker: Docker, spec: DeploySpec, held: number[]): Promise<void> {
  const toProbe = spec.ports.filter((p) => !held.includes(p.host));
  if (toProbe.length === 0) return;
  await ensureProxyImage(docker, spec.proxyImage);
  const exposed: Record<string, object> = {};
  const bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const p of toProbe) {
    const key = `${p.host}/tcp`;
    exposed[key] = {};
    (bindings[key] ??= []).push({ HostIp: p.hostIp ?? '', HostPort: String(p.host) });
  }
  const probe = await docker.createContainer({
    Image: spec.proxyImage,
    Entrypoint: ['haproxy'],
    Cmd: ['-v'],
    ExposedPorts: exposed,
    Labels: { [LABEL.managed]: 'true', [LABEL.role]: 'port-probe', 'opsbook.probe-of': spec.service },
    HostConfig: { PortBindings: bindings, AutoRemove: false },
  });
  try {
    await probe.start();
  } catch (e) {
    if (portsBusy(e)) throw portsRefused(spec, `a host port of ${spec.service} (${formatPorts(proxyPorts({ ...spec, ports: toProbe }))}) is held by another process: ${(e as Error).message.split('\n')[0]}`);
    throw e;
  } finally {
    await probe.remove({ force: true }).catch(() => undefined);
  }
}
