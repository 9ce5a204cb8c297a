// A service's containers on the engine, for every Docker magic: what is bookkeeping (deploy locks, audit records:
// created, never started, not workloads), container names and states as tables show them, the values of a
// container's secret variables (to mask them), the services that exist, resolving a name given to %logs or %stop (a
// service first, else a container), and completing such names.
import type Docker from 'dockerode';
import { MagicError } from '../../../kernel/io/errors';
import type { DockerConnection } from './connection';
import { LABEL, serviceFilter } from './labels';

export const NONE = '—';

/** The part of `docker inspect`'s State a row needs. */
export type ContainerState = Docker.ContainerInspectInfo['State'];

/**
 * %deploy's bookkeeping containers (a service's deploy lock, its audit records) are created and never started:
 * they are not workloads, so %ps leaves them out and %logs / %stop never take them for a service's container.
 */
export function isBookkeeping(labels: Record<string, string> | null | undefined): boolean {
  return labels?.[LABEL.lock] === 'true' || labels?.[LABEL.deployRecord] === 'true';
}

/** The proxy in front of a service (it carries the service's label but is not one of its versions). */
export function isProxy(labels: Record<string, string> | null | undefined): boolean {
  return labels?.[LABEL.role] === 'proxy';
}

/** A task container of a `%deploy --swarm` service: Swarm starts, stops, replaces and rolls back those, never a deploy. */
export function isSwarmTask(labels: Record<string, string> | null | undefined): boolean {
  return labels?.[LABEL.mode] === 'swarm' && !isProxy(labels);
}

/**
 * A version of a service: a container a deploy started from one of its images (not bookkeeping, not its proxy, not
 * a task Swarm runs: reconciling or trimming versions must leave Swarm's tasks to Swarm).
 */
export function isVersion(labels: Record<string, string> | null | undefined): boolean {
  return !isBookkeeping(labels) && !isProxy(labels) && !isSwarmTask(labels);
}

export function containerName(info: Pick<Docker.ContainerInfo, 'Names' | 'Id'>): string {
  return (info.Names[0] ?? info.Id.slice(0, 12)).replace(/^\//, '');
}

/** The state, with the exit code when exited: "exited (3)". */
export function statusText(info: Pick<Docker.ContainerInfo, 'State' | 'Status'>, state?: ContainerState): string {
  const name = state?.Status ?? info.State;
  if (name !== 'exited') return name;
  const code = state?.ExitCode ?? /^Exited \((-?\d+)\)/.exec(info.Status)?.[1];
  return code === undefined ? name : `exited (${code})`;
}

/** The values of the environment variables the opsbook.secret-env label names (`NAME=value` entries of Config.Env). */
export function secretValues(labels: Record<string, string> | undefined, env: readonly string[] | undefined): string[] {
  const names = (labels?.[LABEL.secretEnv] ?? '').split(',').map((n) => n.trim()).filter((n) => n !== '');
  if (names.length === 0) return [];
  const values = new Map((env ?? []).map((entry): [string, string] => {
    const eq = entry.indexOf('=');
    return eq < 0 ? [entry, ''] : [entry.slice(0, eq), entry.slice(eq + 1)];
  }));
  return names.map((n) => values.get(n) ?? '').filter((v) => v !== '');
}

/** Runs `work` over `items`, at most `limit` at a time, keeping the order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export function isNotFound(e: unknown): boolean {
  return (e as { statusCode?: number }).statusCode === 404;
}

/** inspect's State, or undefined when the container went away meanwhile. */
export async function stateOf(docker: Docker, id: string, signal?: AbortSignal): Promise<ContainerState | undefined> {
  try {
    return (await docker.getContainer(id).inspect({ abortSignal: signal })).State;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/** The names of the services that have containers (running or not), sorted. */
export async function knownServices(docker: Docker, signal?: AbortSignal): Promise<string[]> {
  const listed = await docker.listContainers({ all: true, filters: { label: [LABEL.service] }, abortSignal: signal });
  const containers = listed.filter((c) => !isBookkeeping(c.Labels));
  return [...new Set(containers.map((c) => c.Labels?.[LABEL.service]).filter((s): s is string => !!s))].sort();
}

/** What a name given to %logs or %stop is: a service (its containers, newest first) or one container. */
export type Target =
  | { kind: 'service'; service: string; containers: Docker.ContainerInfo[] }
  | { kind: 'container'; container: Docker.ContainerInspectInfo };

/** The engine's rule for container names (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`), which ids and id prefixes (hex) also meet. */
const CONTAINER_NAME_OR_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/**
 * Whether some container could be named so. Anything else (a space, `;`, `/`...) is no container, and must not go
 * into a request path: Node refuses such a path with a TypeError, and `..` or `/` would address another endpoint.
 */
export function couldNameContainer(name: string): boolean {
  return CONTAINER_NAME_OR_ID.test(name);
}

/** A service name first (any container labelled with it but bookkeeping), else a container name or id; else a MagicError. */
export async function resolveTarget(docker: Docker, name: string, magic: string, signal?: AbortSignal): Promise<Target> {
  // the service is looked up by a label filter, a query parameter: any text is safe there
  const listed = await docker.listContainers({ all: true, filters: serviceFilter(name), abortSignal: signal });
  const containers = listed.filter((c) => !isBookkeeping(c.Labels));
  // versions first, newest first; the service's proxy last, so "the service's newest container" is a version
  const order = (c: Docker.ContainerInfo) => (isProxy(c.Labels) ? 1 : 0);
  if (containers.length > 0) return { kind: 'service', service: name, containers: containers.sort((a, b) => order(a) - order(b) || b.Created - a.Created) };
  if (couldNameContainer(name)) {
    try {
      return { kind: 'container', container: await docker.getContainer(name).inspect({ abortSignal: signal }) };
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
  const services = await knownServices(docker, signal);
  const hint = services.length > 0 ? `services: ${services.join(', ')} (%ps --all lists every container)` : 'no opsbook service has containers on this engine; %ps --all lists every container';
  throw new MagicError(`%${magic}: no service or container named "${name}"`, hint);
}

/** Completes the first argument of %logs / %stop: service names, then container names. */
export async function completeTarget(connection: DockerConnection, before: string): Promise<{ matches: string[]; replace: number }> {
  const word = /^\s*([^\s-]\S*|)$/.exec(before)?.[1];
  if (word === undefined) return { matches: [], replace: 0 };
  const { docker } = await connection.engine();
  const containers = (await docker.listContainers({ all: true })).filter((c) => !isBookkeeping(c.Labels));
  const services = containers.map((c) => c.Labels?.[LABEL.service]).filter((s): s is string => !!s).sort();
  const names = containers.map((c) => containerName(c)).sort();
  return { matches: [...new Set([...services, ...names])].filter((n) => n.startsWith(word)), replace: word.length };
}
