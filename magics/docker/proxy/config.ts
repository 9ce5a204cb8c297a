// The HAProxy configuration of one service's proxy, rendered from its routing (pure: no engine, no clock). The
// routing (ports, versions as servers with weights or a Swarm service's tasks found by DNS, health check, drain) is
// also written into the file as a JSON
// comment, so the file inside the proxy container is the one record of what routes the service: a restarted proxy
// loads it again, and currentRouting() reads it back. The configuration's generation (a hash of the routing) is the
// instance's `description`, which the runtime API shows: that is how a reload is confirmed to have taken effect.
import { createHash } from 'node:crypto';

/** One published port: the proxy binds HOST inside its container too, and forwards to CONTAINER of the service. */
export interface ProxyPort {
  /** Host address to publish on ("127.0.0.1" keeps the service on loopback); all addresses when absent. */
  hostIp?: string;
  host: number;
  container: number;
}

/** One version of the service behind the proxy. */
export interface RoutedServer {
  /** The container's name: the proxy resolves it through Docker's DNS on the service's network when it loads. */
  container: string;
  /**
   * The container's address on the service's network when the routing was made: used when the name does not
   * resolve at load (Docker's DNS forgets a bridge network's names when the engine leaves swarm mode).
   */
  address?: string;
  /** The version text (image tag); it is part of the server's name, so proxy metrics tell versions apart. */
  version: string;
  /** 0–256: 0 takes no new requests (a staged candidate, a draining old version); canaries use the range. */
  weight: number;
  /**
   * A standby (the version a switch replaced): it takes requests only while every routed server is down, so a new
   * version the proxy marks down right after the switch fails over to the old one at once, not to "503 no server".
   */
  backup?: boolean;
}

export type ProxyCheck = { kind: 'tcp' } | { kind: 'http'; path: string };

/**
 * A Swarm service behind the proxy (endpoint mode dnsrr: no VIP, so no IPVS needed): its tasks are found through
 * Docker's DNS on the overlay network (`tasks.<service>`) and fill a template of server slots; a task that stops
 * leaves its slot within the resolvers' hold (1 s), one that starts (healthy, as Swarm only names healthy tasks)
 * takes a free one. The routing's `servers` stay empty: Swarm, not the proxy's configuration, says which version runs.
 */
export interface SwarmBackend {
  /** The Swarm service's name. */
  service: string;
  /** How many server slots the template makes: more than the tasks a start-first update runs at once. */
  slots: number;
}

export interface Routing {
  service: string;
  ports: ProxyPort[];
  servers: RoutedServer[];
  /** HTTP mode gives per-server response codes in the metrics; TCP mode proxies any TCP service. */
  mode: 'http' | 'tcp';
  check: ProxyCheck;
  /** How long an old worker may finish in-flight requests after a reload (hard-stop-after). */
  drainSeconds: number;
  /** Set when the backend is a Swarm service's tasks (then `servers` is empty). */
  swarm?: SwarmBackend;
}

/** Where the configuration lives in the proxy container (the official haproxy image uses the same folder). */
export const CONFIG_DIR = '/usr/local/etc/haproxy';
export const CONFIG_FILE = 'haproxy.cfg';
/** The runtime API listens here, on the proxy container's loopback only (reached by exec, see runtime.ts). */
export const RUNTIME_API_PORT = 9999;
/** The metrics frontend (/metrics for Prometheus, /stats for people) inside the proxy, unless a service port has it. */
export const DEFAULT_METRICS_PORT = 8404;
export const MAX_WEIGHT = 256;
/** HAProxy's limit is far higher; a service with more tasks than this is not one proxy container's job. */
export const MAX_SWARM_SLOTS = 256;

const ROUTING_MARK = '# opsbook-routing: ';
const DESCRIPTION_PREFIX = 'opsbook-';

export class RoutingError extends Error {}

/** The part of a name HAProxy accepts in identifiers (letters, digits, - _ . :). */
function identifier(text: string): string {
  return text.replace(/[^A-Za-z0-9_.:-]/g, '_');
}

/** The server's name: `<version>:<container>`, so promex's `server` label carries the version. */
export function serverName(server: Pick<RoutedServer, 'version' | 'container'>): string {
  return `${identifier(server.version).replace(/:/g, '_')}:${identifier(server.container)}`;
}

/** The version part of a server name (what a Prometheus relabel rule or a reader of show stat extracts). */
export function versionOfServer(name: string): string {
  return name.split(':')[0];
}

/** The prefix of a Swarm backend's slot names (`api-task-` → servers `api-task-1`...); HAProxy refuses ':' here. */
export function swarmSlotPrefix(service: string): string {
  return `${identifier(service).replace(/:/g, '_')}-task-`;
}

export function backendName(service: string, containerPort: number): string {
  return `${identifier(service)}-${containerPort}`;
}

/** The metrics port inside the proxy: 8404, or the first port above it no service port binds. */
export function metricsPortFor(ports: ProxyPort[]): number {
  const taken = new Set(ports.map((p) => p.host));
  let port = DEFAULT_METRICS_PORT;
  while (taken.has(port) || port === RUNTIME_API_PORT) port += 1;
  return port;
}

/** Throws RoutingError for what HAProxy or Docker would refuse later, before anything is created. */
export function validateRouting(routing: Routing): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(routing.service)) throw new RoutingError(`not a service name: "${routing.service}"`);
  if (routing.ports.length === 0) throw new RoutingError(`${routing.service}: the proxy needs at least one port to publish`);
  const byHost = new Map<number, number>();
  for (const p of routing.ports) {
    for (const n of [p.host, p.container]) if (!Number.isInteger(n) || n < 1 || n > 65535) throw new RoutingError(`port ${n} is not in 1–65535`);
    if (p.host === RUNTIME_API_PORT) throw new RoutingError(`host port ${RUNTIME_API_PORT} is the proxy's runtime API inside its container; publish another`);
    const seen = byHost.get(p.host);
    if (seen !== undefined && seen !== p.container) throw new RoutingError(`host port ${p.host} cannot go to both ${seen} and ${p.container}`);
    byHost.set(p.host, p.container);
  }
  const names = new Set<string>();
  for (const s of routing.servers) {
    if (!Number.isInteger(s.weight) || s.weight < 0 || s.weight > MAX_WEIGHT) throw new RoutingError(`weight ${s.weight} of ${s.container} is not an integer in 0–${MAX_WEIGHT}`);
    if (s.address !== undefined && !/^(\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F:]+)$/.test(s.address)) throw new RoutingError(`${s.container}: "${s.address}" is not an IP address`);
    const name = serverName(s);
    if (names.has(name)) throw new RoutingError(`${s.container} is routed twice`);
    names.add(name);
  }
  if (routing.swarm) {
    const { service, slots } = routing.swarm;
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(service)) throw new RoutingError(`not a Swarm service name: "${service}"`);
    if (!Number.isInteger(slots) || slots < 1 || slots > MAX_SWARM_SLOTS) throw new RoutingError(`${slots} Swarm server slots is not an integer in 1–${MAX_SWARM_SLOTS}`);
    if (routing.servers.length > 0) throw new RoutingError(`${routing.service}: a Swarm backend finds its servers through DNS; the routing cannot name servers too`);
  }
  if (!Number.isInteger(routing.drainSeconds) || routing.drainSeconds < 1) throw new RoutingError(`drain must be a whole number of seconds ≥ 1, not ${routing.drainSeconds}`);
  if (routing.check.kind === 'http' && !/^\/[^\s]*$/.test(routing.check.path)) throw new RoutingError(`health path must start with / and have no spaces: "${routing.check.path}"`);
  if (routing.check.kind === 'http' && routing.mode !== 'http') throw new RoutingError('an HTTP health check needs mode http');
}

/** A short hash of the routing: the configuration's generation, shown by the runtime API as its description. */
export function generationOf(routing: Routing): string {
  return createHash('sha256').update(JSON.stringify(routing)).digest('hex').slice(0, 16);
}

/** What `show info` says as description for a configuration of that generation. */
export function descriptionOf(generation: string): string {
  return `${DESCRIPTION_PREFIX}${generation}`;
}

function globalSection(routing: Routing, generation: string): string[] {
  return [
    'global',
    // -W (master-worker) is on the command line too; here it holds for any image's default command
    '  master-worker',
    // old workers finish in-flight requests after a reload, but never longer than the drain
    `  hard-stop-after ${routing.drainSeconds}s`,
    `  stats socket ipv4@127.0.0.1:${RUNTIME_API_PORT} level admin`,
    `  description ${descriptionOf(generation)}`,
    '',
    // for servers that must follow Docker's DNS at run time (a template over a service's tasks); a version's server
    // is resolved once, when a configuration loads (see defaultsSection); short holds so a stopped task leaves (and a
    // started one joins) within about a second, without making the configuration fail
    'resolvers docker',
    '  nameserver dns 127.0.0.11:53',
    '  accepted_payload_size 8192',
    '  resolve_retries 3',
    '  timeout resolve 1s',
    '  timeout retry 1s',
    '  hold valid 1s',
    '  hold obsolete 1s',
    '  hold nx 1s',
    // a Swarm backend's slots come only from DNS: when Docker's DNS is slow to answer (a busy engine), the last
    // answer's tasks stay (the proxy's own checks and retries still drop dead ones) instead of every slot going down
    ...(routing.swarm ? ['  hold other 30s', '  hold refused 30s', '  hold timeout 30s'] : ['  hold other 1s', '  hold refused 1s', '  hold timeout 1s']),
    '',
  ];
}

function defaultsSection(routing: Routing): string[] {
  return [
    'defaults',
    `  mode ${routing.mode}`,
    '  timeout connect 3s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout check 2s',
    ...(routing.mode === 'http' ? ['  timeout http-request 10s', '  timeout http-keep-alive 10s'] : []),
    // a connection refused by one server is tried again on another (connection failures only: never a replay)
    '  retries 3',
    '  option redispatch 1',
    // a version's name is resolved when the configuration loads (libc, through Docker's DNS), else its address as
    // the routing recorded it, else the server waits in MAINT: a missing container never stops a configuration from
    // loading. Not again at run time: Docker's DNS forgets a bridge network's names when the engine leaves swarm
    // mode, and a running worker would then take a serving version out (NX); every switch reloads anyway.
    '  default-server init-addr libc,none check inter 1s fall 3 rise 2',
    '',
  ];
}

function frontendSections(routing: Routing): string[] {
  const lines: string[] = [];
  const seen = new Set<number>();
  for (const p of routing.ports) {
    if (seen.has(p.host)) continue; // the same host port on two addresses: one bind inside the proxy
    seen.add(p.host);
    lines.push(`frontend ${identifier(routing.service)}-${p.host}`, `  bind :${p.host}`, `  default_backend ${backendName(routing.service, p.container)}`, '');
  }
  return lines;
}

function backendSections(routing: Routing): string[] {
  const lines: string[] = [];
  const containerPorts = [...new Set(routing.ports.map((p) => p.container))];
  for (const port of containerPorts) {
    lines.push(`backend ${backendName(routing.service, port)}`, '  balance roundrobin');
    if (routing.check.kind === 'http') lines.push(`  option httpchk GET ${routing.check.path}`, '  http-check expect status 200-399');
    // a backup with weight 0 would never be picked: a standby gets weight 1 (it is alone whenever it is used)
    for (const s of routing.servers) {
      const fallback = s.address ? ` init-addr libc,${s.address}` : '';
      lines.push(`  server ${serverName(s)} ${s.container}:${port}${fallback} ${s.backup ? `weight ${Math.max(1, s.weight)} backup` : `weight ${s.weight}`}`);
    }
    // Swarm's tasks by DNS at run time: the slots take the addresses `tasks.<service>` answers (resolvers docker,
    // holds of 1 s), empty slots wait in MAINT (init-addr none) so the configuration loads whatever DNS says then
    if (routing.swarm) lines.push(`  server-template ${swarmSlotPrefix(routing.swarm.service)} 1-${routing.swarm.slots} tasks.${routing.swarm.service}:${port} resolvers docker resolve-prefer ipv4 init-addr last,libc,none`);
    lines.push('');
  }
  return lines;
}

function metricsSection(routing: Routing, generation: string): string[] {
  return [
    'frontend opsbook-metrics',
    `  bind :${metricsPortFor(routing.ports)}`,
    '  mode http',
    '  no log',
    '  http-request use-service prometheus-exporter if { path /metrics }',
    `  http-request return status 200 content-type text/plain string ${generation} if { path /opsbook/generation }`,
    '  stats enable',
    '  stats uri /stats',
    '  stats refresh 5s',
    '',
  ];
}

/** The whole haproxy.cfg for the routing; throws RoutingError for a routing HAProxy or Docker would refuse. */
export function renderConfig(routing: Routing): string {
  validateRouting(routing);
  const generation = generationOf(routing);
  return [
    '# The proxy of one service, written by opsbook: edits are replaced by the next deploy.',
    `${ROUTING_MARK}${JSON.stringify(routing)}`,
    '',
    ...globalSection(routing, generation),
    ...defaultsSection(routing),
    ...frontendSections(routing),
    ...backendSections(routing),
    ...metricsSection(routing, generation),
  ].join('\n');
}

/** The routing a configuration was rendered from, or undefined when the text is not one opsbook wrote. */
export function parseRouting(config: string): Routing | undefined {
  const line = config.split('\n').find((l) => l.startsWith(ROUTING_MARK));
  if (!line) return undefined;
  try {
    return JSON.parse(line.slice(ROUTING_MARK.length)) as Routing;
  } catch {
    return undefined;
  }
}

/**
 * The routing with every server whose weight is > 0 in `target` but absent from `current` added at weight 0,
 * the others as they are now: loaded first, so the proxy checks a new version before any request goes to it.
 */
export function stagedRouting(current: Routing, target: Routing): Routing {
  const present = new Set(current.servers.map(serverName));
  const joining = target.servers.filter((s) => !present.has(serverName(s))).map((s) => ({ ...s, weight: 0 }));
  return { ...target, servers: [...current.servers, ...joining] };
}
