// The engine operations on a deployed service's versions, each one call or a few: which image id a reference names,
// which version serves now, the labels and create options of a version, where its health probe goes, removing and
// trimming versions. The deploy run
// (run.ts) strings these together; nothing here decides what happens next.
import * as os from 'node:os';
import type Docker from 'dockerode';
import { MagicError } from '../../../kernel/io/errors';
import { isProxy, isVersion } from '../engine/containers';
import { LABEL, serviceFilter } from '../engine/labels';
import { Routing, RoutedServer } from '../proxy/config';
import { currentRouting, networkName } from '../proxy/proxy';
import { describeGate } from './health';
import { DeploySpec, portsLabel } from './spec';

/** The name suffix of a version started beside the serving one, before it passed the gate. */
export const CANDIDATE_SUFFIX = '-candidate';
/** A version of the service as a deploy handles it: its container, name, image, and how the proxy routes it. */
export interface Version {
  id: string;
  name: string;
  image: string;
  route: RoutedServer;
}

/** The new version a deploy started, and how the proxy will route it. */
export interface Candidate {
  container: Docker.Container;
  route: RoutedServer;
}

/** Seconds a stopping version gets between SIGTERM and SIGKILL. */
export const STOP_TIMEOUT_S = 10;

/** `shop/api:2` → `2`; an id → its first 12 hex digits. */
export function versionOf(image: string): string {
  if (image.startsWith('sha256:')) return image.slice(7, 19);
  const tag = /:([^/:]+)$/.exec(image);
  return tag ? tag[1] : 'latest';
}

export function isCandidate(c: Pick<Docker.ContainerInfo, 'Names'>): boolean {
  return c.Names.some((n) => n.endsWith(CANDIDATE_SUFFIX));
}

/** user@host, as records and labels name who deployed. */
export function whoDeploys(): string {
  return `${os.userInfo().username}@${os.hostname()}`;
}

/** The id of an image on the engine; no registry is used, so a missing image is the user's to build. */
export async function localImageId(docker: Docker, image: string): Promise<string> {
  try {
    return (await docker.getImage(image).inspect()).Id;
  } catch {
    throw new MagicError(`image ${image} is not on the engine`, `build it first with %build <context> -t ${image} (no registry is used)`);
  }
}

/** Every container of the service that is a version of it (running or not): no lock, no audit record, no proxy. */
export async function versions(docker: Docker, service: string, status?: string[]): Promise<Docker.ContainerInfo[]> {
  const filters = { ...serviceFilter(service), ...(status ? { status } : {}) };
  const listed = await docker.listContainers({ all: true, filters });
  return listed.filter((c) => isVersion(c.Labels)).sort((a, b) => b.Created - a.Created);
}

/** The name the proxy routes a version by: `<service>-<deploy id>`, its network alias (and its name once it serves). */
export function routeName(c: Pick<Docker.ContainerInfo, 'Labels'>): string {
  return `${c.Labels[LABEL.service]}-${c.Labels[LABEL.deployId]}`;
}

/** A version's address on its service's network (listed or inspected), undefined when it has none now. */
export function addressOf(networks: Record<string, { IPAddress?: string }> | undefined, service: string): string | undefined {
  return networks?.[networkName(service)]?.IPAddress || undefined;
}

export function versionFrom(c: Docker.ContainerInfo, service: string): Version {
  const address = addressOf(c.NetworkSettings?.Networks, service);
  return { id: c.Id, name: c.Names[0]?.replace(/^\//, '') ?? c.Id.slice(0, 12), image: c.Labels[LABEL.image] || c.Image, route: { container: routeName(c), version: c.Labels[LABEL.version] ?? versionOf(c.Image), weight: 0, ...(address ? { address } : {}) } };
}

/** The routed servers (weight > 0) of a routing. */
export function routedServers(routing: Routing | undefined): RoutedServer[] {
  return (routing?.servers ?? []).filter((s) => s.weight > 0);
}

/** Without a proxy (no published ports, or deployed before the proxy): the newest running version but candidates. */
export async function servingWithoutProxy(docker: Docker, service: string): Promise<Docker.ContainerInfo | undefined> {
  return (await versions(docker, service, ['running'])).find((c) => !isCandidate(c));
}

/** The running version that serves the service now: the one its proxy routes to, else (no proxy) the newest running. */
export async function serving(docker: Docker, service: string): Promise<Docker.ContainerInfo | undefined> {
  const routing = await currentRouting(docker, service);
  if (!routing) return servingWithoutProxy(docker, service);
  const routed = new Set(routedServers(routing).map((s) => s.container));
  return (await versions(docker, service, ['running'])).find((c) => routed.has(routeName(c)));
}

/**
 * Whether anything serves the service, from its containers as listed (any state): with a proxy, the proxy runs and a
 * version its routing names runs; without one, a version that is not a candidate runs.
 */
export async function isServed(docker: Docker, service: string, containers: readonly Docker.ContainerInfo[]): Promise<boolean> {
  const all = containers.filter((c) => isVersion(c.Labels));
  const proxy = containers.find((c) => isProxy(c.Labels));
  if (!proxy) return all.some((c) => c.State === 'running' && !isCandidate(c));
  if (proxy.State !== 'running') return false;
  const routed = new Set(routedServers(await currentRouting(docker, service)).map((s) => s.container));
  return all.some((c) => c.State === 'running' && routed.has(routeName(c)));
}

/** The labels of everything a deploy creates: %ps, %history, %rollback and --cleanup read them back. */
export function versionLabels(spec: DeploySpec, deployId: string, previous: string): Record<string, string> {
  return {
    [LABEL.managed]: 'true',
    [LABEL.service]: spec.service,
    [LABEL.image]: spec.image,
    [LABEL.version]: versionOf(spec.image),
    [LABEL.deployId]: deployId,
    [LABEL.deployedBy]: whoDeploys(),
    [LABEL.deployedAt]: new Date().toISOString(),
    [LABEL.previousImage]: previous,
    [LABEL.ports]: portsLabel(spec.ports),
    [LABEL.health]: describeGate(spec.gate),
    [LABEL.secretEnv]: spec.secretKeys.join(','),
    [LABEL.envKeys]: spec.env.map((e) => e.split('=')[0]).join(','),
  };
}

/**
 * A version's container: it publishes nothing (the service's proxy owns the ports) and starts with restart policy
 * "no"; once it serves, the deploy makes it restart with the engine.
 */
export function versionOptions(spec: DeploySpec, name: string, deployId: string, previous: string): Docker.ContainerCreateOptions {
  const exposed: Record<string, object> = {};
  for (const p of spec.ports) exposed[`${p.container}/${p.proto}`] = {};
  const healthcheck = spec.gate.kind === 'cmd' ? { Test: ['CMD-SHELL', spec.gate.command], Interval: 1e9, Timeout: 3e9, Retries: 3, StartPeriod: 1e9 } : undefined;
  return {
    name,
    Image: spec.image,
    Env: spec.env,
    ExposedPorts: exposed,
    Healthcheck: healthcheck,
    Labels: versionLabels(spec, deployId, previous),
    HostConfig: { RestartPolicy: { Name: 'no' } },
  };
}

/** Where the HTTP probe of a --health-url gate goes when no proxy checks it: the container's bridge address. */
export async function probeUrl(container: Docker.Container, spec: DeploySpec): Promise<string | undefined> {
  if (spec.gate.kind !== 'url') return undefined;
  const info = await container.inspect();
  const ip = Object.values(info.NetworkSettings.Networks ?? {})[0]?.IPAddress;
  const port = spec.ports[0]?.container ?? Number(Object.keys(info.Config.ExposedPorts ?? {})[0]?.split('/')[0] ?? 80);
  return ip ? `http://${ip}:${port}${spec.gate.path}` : undefined;
}

export async function removeQuietly(container: Docker.Container): Promise<void> {
  await container.remove({ force: true, v: true }).catch(() => undefined);
}

/** Stopped versions of the service beyond `keep` (newest kept) are removed; how many went. */
export async function trimOld(docker: Docker, service: string, keep: number): Promise<number> {
  const stopped = await versions(docker, service, ['exited', 'created']);
  for (const c of stopped.slice(keep)) await removeQuietly(docker.getContainer(c.Id));
  return Math.max(0, stopped.length - keep);
}
