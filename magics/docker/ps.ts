// %ps: the containers on the notebook's Docker engine as a table (text/html + text/plain): service, container,
// image (a tag, not an image id, whenever one is known), status, health, published ports, uptime, version. By default the running containers opsbook manages
// (label opsbook.managed=true); --all shows every container, stopped and unmanaged ones too. --filter K=V maps to
// the engine's own filters (service=x is the label filter opsbook.service=x). `const c = %ps` binds the rows.
// %deploy's bookkeeping containers (deploy locks, audit records: created, never started) are left out unless a
// label filter asks for them. Under the table, one warning line per service that has versions but none serving (a
// stopped or crashed version, a deploy killed midway), saying what puts it back: %deploy --cleanup --name <service>.
import type Docker from 'dockerode';
import type { Io } from '../../kernel/io/io';
import { UsageError } from '../../kernel/io/errors';
import type { Magic, MagicCall } from '../registry';
import { escapeHtml } from '../../kernel/io/html';
import type { DockerConnection } from './engine/connection';
import { LABEL } from './engine/labels';
import { ContainerState, NONE, containerName, isBookkeeping, isVersion, mapLimit, stateOf, statusText } from './engine/containers';
import { isServed } from './deploy/service';
import { Column, tableBundle } from '../lib/table';

/** One line of the %ps table; `const c = %ps` binds an array of these. */
export interface ContainerRow {
  /** The opsbook.service label, "—" for a container no service owns. */
  service: string;
  /** Container name without the leading slash. */
  name: string;
  /** The first 12 hex digits of the container id. */
  id: string;
  /** The image reference; where the engine has only the image id: its one local tag, else the reference deployed. */
  image: string;
  /** The engine's state, with the exit code when exited: "running", "exited (137)", "paused". */
  status: string;
  /** "healthy", "unhealthy", "starting", or "—" without a health check. */
  health: string;
  /** Published ports, "8080:80/tcp" (host IP first when bound to one address), comma-separated; "" when none. */
  ports: string;
  /** Time since the container started ("5m", "2h 3m"), "—" when it is not running. */
  uptime: string;
  /** The opsbook.version label, else the tag of `image`. */
  version: string;
}

export type EngineFilters = Record<string, string[]>;

/** Keys of `--filter` passed to the engine as they are (the engine's container list filters). */
const ENGINE_FILTER_KEYS = ['id', 'name', 'label', 'status', 'health', 'ancestor', 'before', 'since', 'exited', 'network', 'publish', 'expose', 'volume', 'is-task'] as const;
const FILTER_KEYS = ['service', ...ENGINE_FILTER_KEYS];
/** Containers inspected at once (for start time and health). */
const INSPECT_CONCURRENCY = 16;
const UNSPECIFIED_ADDRESSES = new Set(['', '0.0.0.0', '::']);

// ---------------------------------------------------------------------------------------------------------------
// Pure parts: filters, row fields, tables

/** `--filter` words (K=V) and --all → the engine's filters. Without --all only opsbook-managed containers. */
export function engineFilters(filterWords: readonly string[], all: boolean): EngineFilters {
  const filters: EngineFilters = {};
  const add = (key: string, value: string) => (filters[key] ??= []).push(value);
  for (const word of filterWords) {
    const eq = word.indexOf('=');
    if (eq <= 0) throw new UsageError(`%ps: --filter takes KEY=VALUE, not "${word}"`, `keys: ${FILTER_KEYS.join(', ')}`);
    const key = word.slice(0, eq);
    const value = word.slice(eq + 1);
    if (key === 'service') add('label', `${LABEL.service}=${value}`);
    else if ((ENGINE_FILTER_KEYS as readonly string[]).includes(key)) add(key, value);
    else throw new UsageError(`%ps: unknown filter "${key}"`, `keys: ${FILTER_KEYS.join(', ')}`);
  }
  if (!all) add('label', `${LABEL.managed}=true`);
  return filters;
}

/** What a listing showed, for the "no containers" line: "running, managed by opsbook; filter service=api". */
export function describeSelection(filterWords: readonly string[], all: boolean): string {
  const scope = all ? 'all containers' : 'running, managed by opsbook';
  return filterWords.length > 0 ? `${scope}; filter ${filterWords.join(', ')}` : scope;
}

/** Whether a --filter asks for the bookkeeping containers by their label (then %ps shows them). */
export function asksForBookkeeping(filterWords: readonly string[]): boolean {
  return filterWords.some((w) => w.startsWith(`label=${LABEL.lock}`) || w.startsWith(`label=${LABEL.deployRecord}`));
}

/** "5s", "5m", "2h 3m", "3d 4h": the largest two units, zero parts dropped. */
export function uptimeText(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return NONE;
  const whole = Math.floor(seconds);
  if (whole < 60) return `${whole}s`;
  const minutes = Math.floor(whole / 60);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return joinParts([[hours, 'h'], [minutes % 60, 'm']]);
  return joinParts([[Math.floor(hours / 24), 'd'], [hours % 24, 'h']]);
}

function joinParts(parts: Array<[number, string]>): string {
  return parts.filter(([n], i) => i === 0 || n > 0).map(([n, unit]) => `${n}${unit}`).join(' ');
}

/** The tag of an image reference: "shop/api:2" → "2", "busybox" → "latest", an image id → its first 12 digits. */
export function imageTag(reference: string): string {
  if (reference.startsWith('sha256:')) return reference.slice('sha256:'.length, 'sha256:'.length + 12);
  if (/^[0-9a-f]{12,64}$/.test(reference)) return reference.slice(0, 12);
  const at = reference.indexOf('@');
  if (at >= 0) return imageTag(reference.slice(at + 1));
  const lastPart = reference.slice(reference.lastIndexOf('/') + 1);
  const colon = lastPart.lastIndexOf(':');
  return colon >= 0 ? lastPart.slice(colon + 1) : 'latest';
}

/**
 * Whether the engine shows an image id in place of a reference ("sha256:…", or the hex id it was created from). It
 * does so when the container was created from an id, or when the reference it was created from now names another
 * image (a rebuilt tag) or no image at all.
 */
export function isImageId(image: string): boolean {
  return /^sha256:[0-9a-f]+$/.test(image) || /^[0-9a-f]{12,64}$/.test(image);
}

/** Local image id → its tags ("<none>:<none>" left out), from one image listing. */
export type TagsByImageId = ReadonlyMap<string, readonly string[]>;

export function tagsByImageId(images: readonly Pick<Docker.ImageInfo, 'Id' | 'RepoTags'>[]): TagsByImageId {
  return new Map(images.map((i): [string, string[]] => [i.Id, (i.RepoTags ?? []).filter((t) => t !== '<none>:<none>')]));
}

/**
 * The image column: the engine's reference when it has one; for an image id, the image's tag when it has exactly
 * one locally (its true name now), else the reference opsbook deployed it from (label opsbook.image: a tag rebuilt
 * since), else the id.
 */
export function imageShown(info: Pick<Docker.ContainerInfo, 'Image' | 'ImageID' | 'Labels'>, tags: TagsByImageId): string {
  if (!isImageId(info.Image)) return info.Image;
  const local = tags.get(info.ImageID) ?? [];
  if (local.length === 1) return local[0];
  const deployed = info.Labels?.[LABEL.image];
  if (deployed && !isImageId(deployed)) return deployed;
  return info.Image;
}

/** Published ports only, "8080:80/tcp" or "127.0.0.1:8080:80/tcp"; the IPv4 and IPv6 twins shown once. */
export function portsText(ports: readonly Docker.Port[]): string {
  const published = ports
    .filter((p) => p.PublicPort !== undefined && p.PublicPort > 0)
    .sort((a, b) => a.PrivatePort - b.PrivatePort || a.PublicPort - b.PublicPort)
    .map((p) => `${UNSPECIFIED_ADDRESSES.has(p.IP ?? '') ? '' : `${p.IP}:`}${p.PublicPort}:${p.PrivatePort}/${p.Type}`);
  return [...new Set(published)].join(', ');
}

/** Health from inspect's State.Health, else from the list's status text ("Up 5 minutes (healthy)"). */
export function healthText(statusText: string, state?: ContainerState): string {
  const fromInspect = state?.Health?.Status;
  if (fromInspect === 'healthy' || fromInspect === 'unhealthy' || fromInspect === 'starting') return fromInspect;
  const fromStatus = /\((healthy|unhealthy|health: starting)\)/.exec(statusText)?.[1];
  if (fromStatus === undefined) return NONE;
  return fromStatus === 'health: starting' ? 'starting' : fromStatus;
}

/** One table row from the list entry, (when available) its inspect State, and the local images' tags. */
export function containerRow(info: Docker.ContainerInfo, state: ContainerState | undefined, nowMs: number, tags: TagsByImageId = new Map()): ContainerRow {
  const labels = info.Labels ?? {};
  const image = imageShown(info, tags);
  const running = (state?.Status ?? info.State) === 'running';
  const startedMs = state ? Date.parse(state.StartedAt) : NaN;
  return {
    service: labels[LABEL.service] || NONE,
    name: containerName(info),
    id: info.Id.slice(0, 12),
    image,
    status: statusText(info, state),
    health: healthText(info.Status, state),
    ports: portsText(info.Ports ?? []),
    uptime: running && Number.isFinite(startedMs) ? uptimeText((nowMs - startedMs) / 1000) : NONE,
    version: labels[LABEL.version] || imageTag(image),
  };
}

/** Service first (containers no service owns last), then container name. */
export function sortRows(rows: ContainerRow[]): ContainerRow[] {
  const key = (r: ContainerRow) => (r.service === NONE ? '\uffff' : r.service);
  return [...rows].sort((a, b) => key(a).localeCompare(key(b)) || a.name.localeCompare(b.name));
}

export const PS_COLUMNS: readonly Column<ContainerRow>[] = [
  { header: 'service', value: (r) => r.service },
  { header: 'container', value: (r) => r.name },
  { header: 'image', value: (r) => r.image },
  { header: 'status', value: (r) => r.status },
  { header: 'health', value: (r) => r.health },
  { header: 'ports', value: (r) => r.ports },
  { header: 'uptime', value: (r) => r.uptime },
  { header: 'version', value: (r) => r.version },
];

/** The warning %ps shows under its table for a service that has versions but none serving. */
export function unservedWarning(service: string): string {
  return `warning: ${service} has versions but none serving: run %deploy --cleanup --name ${service}`;
}

/** The services a listing is about: those named by `service=` filters, or every service when none is named. */
export function servicesAskedFor(filterWords: readonly string[]): string[] | undefined {
  const named = filterWords.filter((w) => w.startsWith('service=')).map((w) => w.slice('service='.length));
  return named.length > 0 ? named : undefined;
}

/**
 * The %ps output: the table, or one line saying there are no containers and what was asked for; then one warning
 * line per unserved service (`unserved`).
 */
export function psBundle(rows: readonly ContainerRow[], selection: string, unserved: readonly string[] = []): { 'text/plain': string; 'text/html': string } {
  let bundle: { 'text/plain': string; 'text/html': string };
  if (rows.length === 0) {
    const line = `no containers (${selection})`;
    bundle = { 'text/plain': line, 'text/html': `<div class="opsbook-ps-empty">${escapeHtml(line)}</div>` };
  } else bundle = tableBundle('opsbook-ps', PS_COLUMNS, rows);
  const warnings = unserved.map(unservedWarning);
  if (warnings.length === 0) return bundle;
  return {
    'text/plain': [bundle['text/plain'], ...warnings].join('\n'),
    'text/html': `${bundle['text/html']}${warnings.map((w) => `<div class="opsbook-ps-warning">${escapeHtml(w)}</div>`).join('')}`,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The engine side, shared with %logs and %stop

/**
 * The rows for these filters, with start times and health from inspect; containers removed meanwhile dropped. The
 * local images are listed once, and only when some container shows an image id.
 */
export async function listRows(docker: Docker, filters: EngineFilters, all: boolean, withBookkeeping: boolean, signal?: AbortSignal): Promise<ContainerRow[]> {
  const listed = await docker.listContainers({ all, filters, abortSignal: signal });
  const containers = withBookkeeping ? listed : listed.filter((c) => !isBookkeeping(c.Labels));
  const [states, tags] = await Promise.all([
    mapLimit(containers, INSPECT_CONCURRENCY, (c) => stateOf(docker, c.Id, signal)),
    containers.some((c) => isImageId(c.Image)) ? docker.listImages({ abortSignal: signal }).then(tagsByImageId) : new Map<string, string[]>(),
  ]);
  const now = Date.now();
  return sortRows(containers.flatMap((c, i) => (states[i] === undefined ? [] : [containerRow(c, states[i], now, tags)])));
}

/**
 * The services (of `only`, else all on the engine) that have versions but none serving, sorted: a service with a
 * proxy serves when the proxy runs and the version its routing names runs; without a proxy, when a version runs.
 */
export async function unservedServices(docker: Docker, only: readonly string[] | undefined, signal?: AbortSignal): Promise<string[]> {
  const filters = { label: [`${LABEL.managed}=true`, ...(only?.length === 1 ? [`${LABEL.service}=${only[0]}`] : [])] };
  const listed = (await docker.listContainers({ all: true, filters, abortSignal: signal })).filter((c) => !isBookkeeping(c.Labels));
  const byService = new Map<string, Docker.ContainerInfo[]>();
  for (const c of listed) {
    const service = c.Labels?.[LABEL.service];
    if (!service || (only && !only.includes(service))) continue;
    byService.set(service, [...(byService.get(service) ?? []), c]);
  }
  const withVersions = [...byService.entries()].filter(([, containers]) => containers.some((c) => isVersion(c.Labels)));
  const served = await mapLimit(withVersions, INSPECT_CONCURRENCY, ([service, containers]) => isServed(docker, service, containers).catch(() => true));
  return withVersions.filter((_, i) => !served[i]).map(([service]) => service).sort();
}

// ---------------------------------------------------------------------------------------------------------------
// The magic

async function runPs(call: MagicCall, connection: DockerConnection): Promise<ContainerRow[] | undefined> {
  const io: Io = call.io;
  const all = call.args.options.all === true;
  const filterWords = Array.isArray(call.args.options.filter) ? call.args.options.filter.map(String) : [];
  const filters = engineFilters(filterWords, all);
  const { docker } = await connection.engine();
  const [rows, unserved] = await Promise.all([listRows(docker, filters, all, asksForBookkeeping(filterWords), io.signal), unservedServices(docker, servicesAskedFor(filterWords), io.signal)]);
  io.display(psBundle(rows, describeSelection(filterWords, all), unserved));
  return call.bound ? rows : undefined;
}

export function psMagic(connection: DockerConnection): Magic {
  return {
    name: 'ps',
    summary: 'the containers on the Docker engine: service, status, health, ports, uptime, version (opsbook-managed and running unless --all)',
    kind: 'line',
    options: [
      { name: 'all', short: 'a', type: 'boolean', description: 'every container: stopped ones and ones opsbook does not manage too' },
      { name: 'filter', type: 'list', valueName: 'K=V', description: `only containers matching (repeatable): ${FILTER_KEYS.slice(0, 5).join(', ')}, ... (service=x is label opsbook.service=x)` },
    ],
    run: (call) => runPs(call, connection),
  };
}
