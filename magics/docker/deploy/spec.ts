// What a deploy is asked to do, as data: the image, the service, its ports, environment and secrets, the health gate,
// and the limits (wait, keep, lock wait). Built from %deploy's options, or for %rollback from the labels of the
// version that serves now. Everything here is checked before anything on the engine is touched; nothing here talks
// to the engine.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { MagicError, UsageError } from '../../../kernel/io/errors';
import { masker, secretRefs } from '../../lib/secrets';
import { parseDuration } from '../../lib/time';
import { LABEL } from '../engine/labels';
import { CanaryPlan, canaryPlanOf, canaryPlanText } from './canary';
import { HealthGate, describeGate } from './health';

/** `-p [IP:]HOST:CONTAINER[/tcp]`: the proxy publishes HOST (on IP only, when given) and forwards to CONTAINER. */
export interface PortMapping {
  hostIp?: string;
  host: number;
  container: number;
  proto: 'tcp';
}

export interface DeploySpec {
  kind: 'deploy' | 'rollback';
  image: string;
  service: string;
  ports: PortMapping[];
  env: string[];
  secretKeys: string[];
  secretValues: string[];
  gate: HealthGate;
  waitMs: number;
  keep: number;
  lockWaitMs: number;
  /** How long the old version may finish in-flight requests after the switch (the proxy's hard-stop-after). */
  drainMs: number;
  /** The image of the service's proxy: --proxy-image, else OPSBOOK_PROXY_IMAGE, else the official haproxy image. */
  proxyImage: string;
  /** --strategy canary or bluegreen: the steps and analyses (absent: all requests move at once after the health gate). */
  canary?: CanaryPlan;
}

export const DEFAULT_KEEP = 5;
export const DEFAULT_WAIT_MS = 60_000;
export const DEFAULT_LOCK_WAIT_MS = 30_000;
export const DEFAULT_DRAIN_MS = 30_000;
/** The official image users get (HAProxy ≥ 2.6 with Lua, which the proxy's runtime probe uses). */
export const DEFAULT_PROXY_IMAGE = 'haproxy:2.8';

/** The proxy image a deploy uses when the magic line names none. */
export function proxyImageOf(option: unknown, env: NodeJS.ProcessEnv): string {
  if (typeof option === 'string' && option !== '') return option;
  return env.OPSBOOK_PROXY_IMAGE || DEFAULT_PROXY_IMAGE;
}

const PORT_FORM = /^(?:(\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]):)?(\d+):(\d+)(?:\/(tcp|udp))?$/;

function portNumber(text: string, what: string, given: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`-p ${given}: the ${what} port ${text} is not in 1–65535`);
  return n;
}

/** `-p` values, checked before anything is created: `[IP:]HOST:CONTAINER[/tcp]`, ports 1–65535, each host port once per address. */
export function parsePorts(values: unknown): PortMapping[] {
  if (!Array.isArray(values)) return [];
  const ports = values.map((v): PortMapping => {
    const given = String(v);
    const m = PORT_FORM.exec(given);
    if (!m) throw new UsageError(`-p takes [IP:]HOST:CONTAINER (e.g. 8080:8080 or 127.0.0.1:8080:8080), not "${given}"`);
    if (m[4] === 'udp') throw new UsageError(`-p ${given}: the proxy in front of the service carries TCP only`);
    const mapping: PortMapping = { host: portNumber(m[2], 'host', given), container: portNumber(m[3], 'container', given), proto: 'tcp' };
    if (m[1]) mapping.hostIp = m[1].replace(/^\[|\]$/g, '');
    return mapping;
  });
  ports.forEach((p, i) => {
    for (const q of ports.slice(i + 1)) {
      if (q.host !== p.host) continue;
      // the same port on all addresses and on one, or twice on one address: the second bind would fail
      if (p.hostIp === undefined || q.hostIp === undefined || p.hostIp === q.hostIp) throw new UsageError(`-p: host port ${p.host} is given twice (${portText(p)} and ${portText(q)})`);
      // on two addresses, one listener in the proxy serves both: it can forward to one container port only
      if (q.container !== p.container) throw new UsageError(`-p: host port ${p.host} cannot go to both ${p.container} and ${q.container}`);
    }
  });
  return ports;
}

/** "127.0.0.1:8080:80/tcp,8443:443/tcp": the ports as `-p` took them, and as the opsbook.ports label keeps them. */
export function portText(p: PortMapping): string {
  const ip = p.hostIp === undefined ? '' : p.hostIp.includes(':') ? `[${p.hostIp}]:` : `${p.hostIp}:`;
  return `${ip}${p.host}:${p.container}/${p.proto}`;
}

export function portsLabel(ports: readonly PortMapping[]): string {
  return ports.map(portText).join(',');
}

/** --keep: a whole number of stopped versions, 0 or more. */
export function keepOption(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0) throw new Error(`"${value}" is not a whole number of versions (0 or more)`);
  return n;
}

function envList(values: unknown, option: string): string[] {
  if (!Array.isArray(values)) return [];
  return values.map((v) => {
    const text = String(v);
    if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(text)) throw new UsageError(`${option} takes KEY=VALUE, not "${text.split('=')[0]}"`);
    return text;
  });
}

function envFile(file: unknown): string[] {
  if (typeof file !== 'string') return [];
  let text: string;
  try {
    text = readFileSync(path.resolve(process.cwd(), file), 'utf8');
  } catch (e) {
    throw new MagicError(`--env-file ${file}: ${(e as Error).message}`);
  }
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#') && l.includes('='));
}

/** A duration option in milliseconds, `fallback` when not given; a bad value is a usage error naming the option. */
export function durationMs(value: unknown, fallback: number, option: string): number {
  if (typeof value !== 'string') return fallback;
  try {
    return parseDuration(value) * 1000;
  } catch (e) {
    throw new UsageError(`${option}: ${(e as Error).message}`);
  }
}

function gateOf(o: Record<string, unknown>): HealthGate {
  if (typeof o['health-cmd'] === 'string' && typeof o['health-url'] === 'string') throw new UsageError('give --health-cmd or --health-url, not both');
  if (typeof o['health-cmd'] === 'string') return { kind: 'cmd', command: o['health-cmd'] };
  if (typeof o['health-url'] === 'string') return { kind: 'url', path: o['health-url'].startsWith('/') ? o['health-url'] : `/${o['health-url']}` };
  return { kind: 'image' };
}

/** The gate a version was deployed with, from its opsbook.health label (describeGate's text). */
export function gateFromLabel(text: string | undefined): HealthGate {
  const health = text ?? 'image';
  if (health.startsWith('cmd:')) return { kind: 'cmd', command: health.slice(4) };
  if (health.startsWith('url:')) return { kind: 'url', path: health.slice(4) };
  return health === 'none' ? { kind: 'none' } : { kind: 'image' };
}

/** The spec of `%deploy <image> --name <service> ...`; usage errors before anything is created. */
export function deploySpecOf(image: string, o: Record<string, unknown>, env: NodeJS.ProcessEnv): DeploySpec {
  if (typeof o.name !== 'string') throw new UsageError('%deploy: --name <service> is required', 'usage: %deploy <image> --name <service> [-p HOST:CONTAINER] ...');
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(o.name)) throw new UsageError(`%deploy: "${o.name}" is not a valid service name (letters, digits, _ . -)`);
  if (!image) throw new UsageError('%deploy: no image given', 'usage: %deploy <image> --name <service> (or %deploy --cleanup --name <service>)');
  const secrets = secretRefs(o['secret-env'], '--secret-env', env);
  const canary = canaryPlanOf(o);
  const ports = parsePorts(o.publish);
  if (canary && ports.length === 0) throw new UsageError(`%deploy --strategy ${canary.strategy} needs a published port (-p HOST:CONTAINER): the proxy in front of it moves the requests`);
  return {
    kind: 'deploy',
    image,
    service: o.name,
    ports,
    env: [...envFile(o['env-file']), ...envList(o.env, '-e'), ...secrets.map((s) => `${s.key}=${s.value}`)],
    secretKeys: secrets.map((s) => s.key),
    secretValues: secrets.map((s) => s.value),
    gate: gateOf(o),
    waitMs: durationMs(o.wait, DEFAULT_WAIT_MS, '--wait'),
    keep: typeof o.keep === 'number' ? o.keep : DEFAULT_KEEP,
    lockWaitMs: durationMs(o['lock-wait'], DEFAULT_LOCK_WAIT_MS, '--lock-wait'),
    drainMs: durationMs(o.drain, DEFAULT_DRAIN_MS, '--drain'),
    proxyImage: proxyImageOf(o['proxy-image'], env),
    ...(canary ? { canary } : {}),
  };
}

/**
 * The spec of a rollback to `image`, taken from the serving version: its ports, gate, and the variables the deploy set
 * (not the image's own, which the target image brings itself), secrets still masked.
 */
export function rollbackSpecOf(service: string, image: string, labels: Record<string, string>, containerEnv: readonly string[], waitMs: number, kernelEnv: NodeJS.ProcessEnv): DeploySpec {
  const secretKeys = (labels[LABEL.secretEnv] ?? '').split(',').filter(Boolean);
  const envKeys = (labels[LABEL.envKeys] ?? '').split(',').filter(Boolean);
  const env = containerEnv.filter((e) => envKeys.includes(e.split('=')[0]));
  return {
    kind: 'rollback',
    image,
    service,
    ports: parsePorts((labels[LABEL.ports] ?? '').split(',').filter(Boolean)),
    env,
    secretKeys,
    secretValues: env.filter((e) => secretKeys.includes(e.split('=')[0])).map((e) => e.slice(e.indexOf('=') + 1)),
    gate: gateFromLabel(labels[LABEL.health]),
    waitMs,
    keep: DEFAULT_KEEP,
    lockWaitMs: DEFAULT_LOCK_WAIT_MS,
    drainMs: DEFAULT_DRAIN_MS,
    proxyImage: proxyImageOf(undefined, kernelEnv),
  };
}

/** Services listed in OPSBOOK_PROTECTED_SERVICES (comma-separated) always ask before a deploy or rollback. */
export function isProtected(service: string, env: NodeJS.ProcessEnv): boolean {
  return (env.OPSBOOK_PROTECTED_SERVICES ?? '').split(',').map((s) => s.trim()).includes(service);
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** What --dry-run shows: the steps the deploy would take, secrets masked. */
export function planText(spec: DeploySpec): string {
  const mask = masker(spec.secretValues);
  return mask(
    [
      `would ${spec.kind} ${spec.image} to ${spec.service}:`,
      `  start it next to the running version, without ports; health gate: ${describeGate(spec.gate)}, up to ${seconds(spec.waitMs)}`,
      spec.ports.length > 0
        ? `  then switch the proxy (${spec.proxyImage}) on ${spec.ports.map(portText).join(', ')} to it, let the old version drain (up to ${seconds(spec.drainMs)}), and stop the old version`
        : '  then stop the old version (no published ports: no proxy)',
      ...(spec.canary ? canaryPlanText(spec.canary) : []),
      `  environment: ${spec.env.map((e) => e.split('=')[0]).join(', ') || 'none'}${spec.secretKeys.length ? ` (secret: ${spec.secretKeys.join(', ')})` : ''}`,
      `  keep ${spec.keep} stopped versions for %rollback`,
    ].join('\n'),
  );
}
