// The proxy in front of one service, on the engine: its network, its container, and the confirmed switch of its
// routing. One proxy per service, not one per engine: Docker cannot add port bindings to a running container, so a
// shared proxy would have to be recreated (a gap for every service behind it) whenever any service gains a port;
// a per-service proxy owns exactly its service's ports, fixed for its life, and a broken configuration or a
// restart touches one service only. Service containers publish nothing and sit on the service's bridge network,
// where the proxy reaches them by container name; a Swarm service's tasks sit on an attachable overlay network the
// proxy container joins too, and the proxy finds them through Docker's DNS (see SwarmBackend in config.ts). Everything goes through the Docker API (dockerode), so it works
// the same over unix://, tcp:// and ssh://. The routing lives in the proxy container's haproxy.cfg, which outlives
// a restart of the container: the proxy comes back routing to the version that was serving.
import type Docker from 'dockerode';
import { LABEL } from '../engine/labels';
import { putFiles, readFile } from './archive';
import { CONFIG_DIR, CONFIG_FILE, MAX_WEIGHT, ProxyPort, Routing, RoutingError, SwarmBackend, backendName, descriptionOf, generationOf, metricsPortFor, parseRouting, renderConfig, serverName, stagedRouting, validateRouting } from './config';
import { reloadWith } from './reload';
import { PROBE_CONFIG, PROBE_CONFIG_TEXT, PROBE_LUA, PROBE_LUA_TEXT, ServerState, readServerStates, runningDescription, runtimeApi, runtimeSnapshot } from './runtime';

/** Users may point this at the official haproxy image (≥ 2.6); tests and the local stack build opsbook/haproxy:local. */
export const DEFAULT_PROXY_IMAGE = 'opsbook/haproxy:local';
/** "proxy" on the proxy container, "network" on the service's network (the service's versions carry none). */
export const ROLE_LABEL = LABEL.role;

const READY_TIMEOUT_MS = 20_000;
const HEALTHY_TIMEOUT_MS = 30_000;
const POLL_MS = 200;

export class ProxyError extends Error {}

/** The network the proxy and the service share: the service's bridge by default, an attachable overlay for Swarm. */
export interface ProxyNetwork {
  name: string;
  driver: 'bridge' | 'overlay';
}

export interface ProxySpec {
  service: string;
  ports: ProxyPort[];
  image?: string;
  /** Host port of the metrics frontend (/metrics, /stats), on `metricsHostIp`; the engine picks a free one if absent. */
  metricsHostPort?: number;
  metricsHostIp?: string;
  /** How the first configuration routes (no servers yet); later switches replace it. */
  mode?: Routing['mode'];
  check?: Routing['check'];
  drainSeconds?: number;
  /** Extra labels (tests mark what they create). */
  labels?: Record<string, string>;
  /** Where the proxy reaches the service: the bridge `networkName(service)` unless given. */
  network?: ProxyNetwork;
  /** The first configuration routes to a Swarm service's tasks (found by DNS) instead of named versions. */
  swarm?: SwarmBackend;
}

export interface ProxyInfo {
  id: string;
  name: string;
  network: string;
  /** The host port the metrics frontend is published on (127.0.0.1 by default). */
  metricsHostPort: number;
  image: string;
  /** The engine's state of the proxy container: running, exited, ... */
  state: string;
  /** The ports it publishes, as formatPorts writes them ("127.0.0.1:8080:80,9000:9000"). */
  ports: string;
}

export function proxyName(service: string): string {
  return `opsbook-proxy-${service}`;
}

export function networkName(service: string): string {
  return `opsbook-net-${service}`;
}

/** The ports as the proxy's label keeps them: "127.0.0.1:8080:80,9000:9000". */
export function formatPorts(ports: ProxyPort[]): string {
  return ports.map((p) => `${p.hostIp ? `${p.hostIp}:` : ''}${p.host}:${p.container}`).join(',');
}

function statusOf(e: unknown): number | undefined {
  return (e as { statusCode?: number }).statusCode;
}

/**
 * The service's network (created and labelled if missing): its user-defined bridge, or the given one (an
 * attachable overlay for a Swarm service: its tasks and the plain proxy container both join it). Returns its name.
 */
export async function ensureNetwork(docker: Docker, service: string, labels: Record<string, string> = {}, network: ProxyNetwork = { name: networkName(service), driver: 'bridge' }): Promise<string> {
  const { name, driver } = network;
  try {
    await docker.getNetwork(name).inspect();
    return name;
  } catch (e) {
    if (statusOf(e) !== 404) throw e;
  }
  try {
    await docker.createNetwork({ Name: name, Driver: driver, ...(driver === 'overlay' ? { Attachable: true } : {}), CheckDuplicate: true, Labels: { [LABEL.managed]: 'true', [LABEL.service]: service, [ROLE_LABEL]: 'network', ...labels } });
  } catch (e) {
    if (statusOf(e) !== 409) throw e; // created meanwhile by another kernel
  }
  return name;
}

/** The service's proxy container, running or not. */
async function findProxy(docker: Docker, service: string): Promise<Docker.ContainerInfo | undefined> {
  const found = await docker.listContainers({ all: true, filters: { label: [`${ROLE_LABEL}=proxy`, `${LABEL.service}=${service}`] } });
  return found[0];
}

async function runningProxy(docker: Docker, service: string): Promise<Docker.Container> {
  const info = await findProxy(docker, service);
  if (!info) throw new ProxyError(`${service} has no proxy (ensureProxy creates it)`);
  if (info.State !== 'running') throw new ProxyError(`the proxy of ${service} is ${info.State}, not running`);
  return docker.getContainer(info.Id);
}

/** The network a proxy container is attached to (the service's bridge, or a Swarm service's overlay). */
function attachedNetwork(networks: Record<string, unknown> | undefined, service: string): string {
  return Object.keys(networks ?? {}).find((n) => n.startsWith('opsbook-')) ?? networkName(service);
}

async function proxyInfo(docker: Docker, id: string): Promise<ProxyInfo> {
  const c = await docker.getContainer(id).inspect();
  const ports = (c.Config.Labels[LABEL.ports] ?? '').split(',').filter((p) => p !== '').map((p) => ({ host: Number(p.split(':').slice(-2)[0]), container: 0 }));
  const published = c.NetworkSettings.Ports?.[`${metricsPortFor(ports)}/tcp`]?.[0]?.HostPort;
  return { id: c.Id, name: c.Name.replace(/^\//, ''), network: attachedNetwork(c.NetworkSettings.Networks, c.Config.Labels[LABEL.service]), metricsHostPort: Number(published ?? 0), image: c.Config.Image, state: c.State.Status, ports: c.Config.Labels[LABEL.ports] ?? '' };
}

/** Waits until the runtime API answers at all (a started or restarted proxy). */
async function awaitRuntime(container: Docker.Container): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if ((await runningDescription(container)) !== '') return;
    } catch (e) {
      last = e;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  throw new ProxyError(`the proxy did not answer within ${READY_TIMEOUT_MS / 1000} s${last ? `: ${(last as Error).message}` : ''}`);
}

function createOptions(spec: ProxySpec, network: string, routing: Routing): Docker.ContainerCreateOptions {
  const exposed: Record<string, object> = {};
  const bindings: Record<string, Array<{ HostIp?: string; HostPort: string }>> = {};
  for (const p of spec.ports) {
    // inside the proxy each frontend binds the host port, so two host ports to one container port never collide
    const key = `${p.host}/tcp`;
    exposed[key] = {};
    (bindings[key] ??= []).push({ HostIp: p.hostIp ?? '', HostPort: String(p.host) });
  }
  const metricsKey = `${metricsPortFor(spec.ports)}/tcp`;
  exposed[metricsKey] = {};
  bindings[metricsKey] = [{ HostIp: spec.metricsHostIp ?? '127.0.0.1', HostPort: spec.metricsHostPort ? String(spec.metricsHostPort) : '' }];
  return {
    name: proxyName(spec.service),
    Image: spec.image ?? DEFAULT_PROXY_IMAGE,
    // the same command for the official image and ours: master-worker (-W) in the foreground (-db)
    Entrypoint: ['haproxy'],
    Cmd: ['-W', '-db', '-f', `${CONFIG_DIR}/${CONFIG_FILE}`],
    // SIGUSR1 is HAProxy's soft stop (finish in-flight requests); an imported image cannot carry STOPSIGNAL
    StopSignal: 'SIGUSR1',
    ExposedPorts: exposed,
    Labels: { [LABEL.managed]: 'true', [LABEL.service]: spec.service, [ROLE_LABEL]: 'proxy', [LABEL.ports]: formatPorts(spec.ports), ...spec.labels },
    HostConfig: {
      PortBindings: bindings,
      RestartPolicy: { Name: 'unless-stopped' },
      // reloads are confirmed from the master's log: keep it readable whatever the engine's default driver is
      LogConfig: { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '2' } },
    },
    NetworkingConfig: { EndpointsConfig: { [network]: {} } },
  };
}

/** Whether an engine error says a host port is taken (by another process or container). */
export function portsBusy(e: unknown): boolean {
  return /port is already allocated|address already in use/i.test((e as Error).message);
}

/**
 * The service's proxy, running: created (publishing the service's ports and the metrics port) and started when
 * missing, started when stopped (it comes back with the routing it had). A proxy publishing other ports is an
 * error: Docker cannot change a container's ports, the caller must decide to replace it (a short gap).
 */
export async function ensureProxy(docker: Docker, spec: ProxySpec): Promise<ProxyInfo> {
  const routing: Routing = { service: spec.service, ports: spec.ports, servers: [], mode: spec.mode ?? 'http', check: spec.check ?? { kind: 'tcp' }, drainSeconds: spec.drainSeconds ?? 30, ...(spec.swarm ? { swarm: spec.swarm } : {}) };
  validateRouting(routing);
  const network = await ensureNetwork(docker, spec.service, spec.labels, spec.network);
  const existing = await findProxy(docker, spec.service);
  if (existing) {
    if (existing.Labels[LABEL.ports] !== formatPorts(spec.ports)) {
      throw new ProxyError(`the proxy of ${spec.service} publishes ${existing.Labels[LABEL.ports]}, not ${formatPorts(spec.ports)}`);
    }
    const on = attachedNetwork(existing.NetworkSettings?.Networks, spec.service);
    if (on !== network) throw new ProxyError(`the proxy of ${spec.service} is on the network ${on}, not ${network}`);
    const container = docker.getContainer(existing.Id);
    if (existing.State !== 'running') await container.start();
    await awaitRuntime(container);
    return proxyInfo(docker, existing.Id);
  }
  const container = await docker.createContainer(createOptions(spec, network, routing));
  try {
    await putFiles(container, CONFIG_DIR, { [CONFIG_FILE]: renderConfig(routing), [PROBE_CONFIG]: PROBE_CONFIG_TEXT, [PROBE_LUA]: PROBE_LUA_TEXT });
    await container.start();
  } catch (e) {
    await container.remove({ force: true }).catch(() => undefined);
    if (portsBusy(e)) throw new ProxyError(`a host port of ${spec.service} (${formatPorts(spec.ports)}) is held by another process: ${(e as Error).message.split('\n')[0]}`);
    throw e;
  }
  await awaitRuntime(container);
  return proxyInfo(docker, container.id);
}

/**
 * The service's proxy as it is now. An engine-picked metrics port changes when the proxy container restarts: give
 * ProxySpec.metricsHostPort for a stable scrape target.
 */
export async function inspectProxy(docker: Docker, service: string): Promise<ProxyInfo | undefined> {
  const info = await findProxy(docker, service);
  return info ? proxyInfo(docker, info.Id) : undefined;
}

/** The routing the proxy's configuration file holds (what it serves, and what it loads after a restart). */
export async function currentRouting(docker: Docker, service: string): Promise<Routing | undefined> {
  const info = await findProxy(docker, service);
  if (!info) return undefined;
  const text = await readFile(docker.getContainer(info.Id), `${CONFIG_DIR}/${CONFIG_FILE}`);
  return text === undefined ? undefined : parseRouting(text);
}

/** Every server of the service's proxy as HAProxy sees it now: up or not, weight, last check, traffic. */
export async function serverStates(docker: Docker, service: string): Promise<ServerState[]> {
  return readServerStates(await runningProxy(docker, service));
}

const queues = new Map<string, Promise<unknown>>();

/** Runs fn after every earlier switch of the same service in this process: close-together signals would merge. */
function serialized<T>(service: string, fn: () => Promise<T>): Promise<T> {
  const before = queues.get(service) ?? Promise.resolve();
  const run = before.then(fn, fn);
  queues.set(service, run.catch(() => undefined));
  return run;
}

/**
 * Waits until every named server is healthy in the proxy's own checks (`first`: states already read); the states
 * of those that are not (or none, when the proxy does not know them) at the deadline, undefined when all are.
 */
async function awaitHealthy(container: Docker.Container, names: string[], timeoutMs: number, first?: ServerState[]): Promise<ServerState[] | undefined> {
  const deadline = Date.now() + timeoutMs;
  let states = first ?? (await readServerStates(container));
  for (;;) {
    const unhealthy = names.flatMap((n) => states.filter((s) => s.server === n && !s.healthy));
    const missing = names.filter((n) => !states.some((s) => s.server === n));
    if (unhealthy.length === 0 && missing.length === 0) return undefined;
    if (Date.now() >= deadline) return unhealthy;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    states = await readServerStates(container);
  }
}

export interface SwitchOutcome {
  generation: string;
  /** Whether new servers were first loaded at weight 0 and waited for (a first switch to a version). */
  staged: boolean;
  /** Time to the confirmed switch: staging, health wait and reload. */
  ms: number;
  /** The reload of the final configuration alone (0 when the proxy already ran it). */
  reloadMs: number;
  /** Where the time went, step by step (ms). */
  steps: Record<string, number>;
}

/**
 * Routes the service as `target` says, confirmed. Servers that would get requests (weight > 0) must be healthy in
 * the proxy's own checks first: one the proxy does not know yet is loaded at weight 0 and waited for (up to
 * `healthTimeoutMs`), since a new worker treats servers as up before their first check. Then the configuration is
 * checked, written and reloaded (see reload.ts). Throws ProxyError (unhealthy target: the routing is unchanged) or
 * ProxyConfigError (refused configuration: the previous one keeps serving). Switches of one service run one at a time.
 */
export function switchTo(docker: Docker, target: Routing, options: { healthTimeoutMs?: number } = {}): Promise<SwitchOutcome> {
  return serialized(target.service, async () => {
    const started = Date.now();
    const steps: Record<string, number> = {};
    let mark = started;
    const step = (name: string) => {
      steps[name] = Date.now() - mark;
      mark = Date.now();
    };
    validateRouting(target);
    const container = await runningProxy(docker, target.service);
    const current = parseRouting((await readFile(container, `${CONFIG_DIR}/${CONFIG_FILE}`)) ?? '') ?? { ...target, servers: [] };
    if (formatPorts(current.ports) !== formatPorts(target.ports)) throw new RoutingError(`the proxy of ${target.service} publishes ${formatPorts(current.ports)}; a switch cannot change ports to ${formatPorts(target.ports)}`);
    step('read');
    const routed = target.servers.filter((s) => s.weight > 0).map(serverName);
    const before = await runtimeSnapshot(container);
    step('snapshot');
    const known = new Set(before.states.map((s) => s.server));
    const staged = routed.some((n) => !known.has(n));
    if (staged) {
      await reloadWith(container, renderConfig(stagedRouting(current, target)));
      step('stage');
    }
    const unhealthy = await awaitHealthy(container, routed, options.healthTimeoutMs ?? HEALTHY_TIMEOUT_MS, staged ? undefined : before.states);
    step('health');
    if (unhealthy) {
      const why = unhealthy.map((s) => `${s.server} is ${s.status}${s.checkStatus ? ` (check ${s.checkStatus})` : ''}`).join('; ') || 'not known to the proxy';
      throw new ProxyError(`${target.service}: not switched, the proxy does not see the target healthy: ${why}`);
    }
    const generation = generationOf(target);
    if (!staged && before.description === descriptionOf(generation)) return { generation, staged, ms: Date.now() - started, reloadMs: 0, steps };
    const reload = await reloadWith(container, renderConfig(target));
    Object.assign(steps, reload.steps);
    return { generation, staged, ms: Date.now() - started, reloadMs: reload.ms, steps };
  });
}

/**
 * Waits until the named servers (serverName) are healthy in the proxy's own checks, whatever their weight (a canary
 * staged at weight 0 is checked too); throws ProxyError saying which are not at the deadline.
 */
export async function awaitServersHealthy(docker: Docker, service: string, names: string[], timeoutMs: number): Promise<void> {
  const unhealthy = await awaitHealthy(await runningProxy(docker, service), names, timeoutMs);
  if (unhealthy) throw new ProxyError(`${service}: the proxy does not see ${unhealthy.map((s) => `${s.server} healthy: it is ${s.status}${s.checkStatus ? ` (check ${s.checkStatus})` : ''}`).join('; ') || `${names.join(', ')}: not known to it`}`);
}

/**
 * Sets the weights of servers the running proxy knows (by container name, 0–MAX_WEIGHT) through the runtime API, on
 * every backend of the routing, confirmed from the proxy's own stats: no reload, so no new worker, no request
 * dropped, and counters keep counting. The configuration file is not touched: a restarted proxy (or a reconcile)
 * routes as the file says. Runs in turn with the service's switches.
 */
export function setWeights(docker: Docker, routing: Routing, weights: ReadonlyMap<string, number>): Promise<void> {
  return serialized(routing.service, async () => {
    const container = await runningProxy(docker, routing.service);
    const backends = [...new Set(routing.ports.map((p) => backendName(routing.service, p.container)))];
    const wanted = new Map<string, number>();
    for (const s of routing.servers) {
      const weight = weights.get(s.container);
      if (weight === undefined) continue;
      if (!Number.isInteger(weight) || weight < 0 || weight > MAX_WEIGHT) throw new RoutingError(`weight ${weight} of ${s.container} is not an integer in 0–${MAX_WEIGHT}`);
      wanted.set(serverName(s), weight);
    }
    const commands = backends.flatMap((b) => [...wanted].map(([server, weight]) => `set weight ${b}/${server} ${weight}`));
    if (commands.length === 0) return;
    const answer = (await runtimeApi(container, commands.join(';'))).trim();
    if (answer !== '') throw new ProxyError(`${routing.service}: the proxy refused the weights (${commands.join('; ')}): ${answer.split('\n')[0]}`);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      const states = await readServerStates(container);
      const off = states.filter((st) => backends.includes(st.backend) && wanted.has(st.server) && st.userWeight !== wanted.get(st.server));
      if (off.length === 0) return;
      if (Date.now() >= deadline) throw new ProxyError(`${routing.service}: the proxy reports ${off.map((st) => `${st.server} at weight ${st.userWeight}`).join(', ')} after setting ${[...wanted].map(([n, w]) => `${n} ${w}`).join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  });
}

/** HAProxy processes of the proxy container: the master and its workers (a probe exec excluded). */
async function workers(container: Docker.Container): Promise<number> {
  const top = (await container.top({ ps_args: '-o pid,ppid,args' })) as { Processes?: string[][] };
  const rows = (top.Processes ?? []).map((p: string[]) => ({ pid: p[0], ppid: p[1], args: p[2] ?? '' })).filter((p) => !p.args.includes('opsbook-probe'));
  const pids = new Set(rows.map((r) => r.pid));
  const master = rows.find((r) => !pids.has(r.ppid));
  return rows.filter((r) => r.ppid === master?.pid).length;
}

/**
 * Waits until the workers of earlier configurations have exited (their in-flight requests finished, bounded by the
 * routing's hard-stop-after): only then may a version that no longer gets requests be stopped. False at the deadline.
 */
export async function waitDrained(docker: Docker, service: string, timeoutMs: number): Promise<boolean> {
  const container = await runningProxy(docker, service);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await workers(container)) <= 1) return true;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return false;
}

/** Removes the service's proxy and network (the service's versions must be gone from the network first). */
export async function removeProxy(docker: Docker, service: string): Promise<void> {
  const info = await findProxy(docker, service);
  if (info) await docker.getContainer(info.Id).remove({ force: true });
  await docker.getNetwork(networkName(service)).remove().catch((e: unknown) => {
    if (statusOf(e) !== 404) throw e;
  });
}
