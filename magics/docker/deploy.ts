// %deploy and %rollback on a local engine, Kamal-style: the new version starts next to the old one without the
// service's ports and must pass the health gate; only then is the old one stopped and the new one started on
// the ports and checked again. If the new version never gets healthy, the old one was never touched; if the
// cutover fails, the old one is started again. Either way the cell fails with the new container's last log lines
// and health log, and the old version keeps serving. One deploy per service at a time (lock.ts); every deploy
// leaves an audit record and line (audit.ts); secret env values are masked wherever they could be printed.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type Docker from 'dockerode';
import type { Io } from '../../kernel/io/io';
import { MagicError, UsageError } from '../../kernel/io/errors';
import type { Magic, MagicCall } from '../registry';
import { escapeHtml } from '../../kernel/io/html';
import { parseDuration } from '../lib/time';
import { masker } from '../lib/secrets';
import type { DockerConnection } from './engine/connection';
import { DeployRecord, auditLine, listRecords, restoredAfterMs, writeRecord } from './deploy/audit';
import { HealthGate, describeGate, waitAnswering, waitHealthy, whyUnhealthy } from './deploy/health';
import { LABEL } from './engine/labels';
import { acquireLock, holderOf, isStale } from './deploy/lock';
import { deploySwarm, requireManager, swarmLabels, tasksBundle } from './deploy/swarm';

interface PortMapping {
  host: number;
  container: number;
  proto: 'tcp' | 'udp';
}

interface DeploySpec {
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
}

/** What `const d = %deploy ...` binds. */
export interface DeployResult extends DeployRecord {
  container: string;
}

const STOP_TIMEOUT_S = 10;
const LOCK_WAIT_MS = 30_000;

function parsePorts(values: unknown): PortMapping[] {
  if (!Array.isArray(values)) return [];
  return values.map((v) => {
    const m = /^(\d+):(\d+)(?:\/(tcp|udp))?$/.exec(String(v));
    if (!m) throw new UsageError(`-p takes HOST:CONTAINER (e.g. 8080:8080), not "${String(v)}"`);
    return { host: Number(m[1]), container: Number(m[2]), proto: (m[3] ?? 'tcp') as 'tcp' | 'udp' };
  });
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

/** `shop/api:2` → `2`; an id → its first 12 hex digits. */
function versionOf(image: string): string {
  if (image.startsWith('sha256:')) return image.slice(7, 19);
  const tag = /:([^/:]+)$/.exec(image);
  return tag ? tag[1] : 'latest';
}

function newDeployId(): string {
  return `${new Date().toISOString().replace(/[-:T]/g, '').slice(2, 14)}${randomBytes(2).toString('hex')}`;
}

function ms(n: number): string {
  return `${(n / 1000).toFixed(1)} s`;
}

/** The id of an image on the engine; no registry is used, so a missing image is the user's to build. */
async function localImageId(docker: Docker, image: string): Promise<string> {
  try {
    return (await docker.getImage(image).inspect()).Id;
  } catch {
    throw new MagicError(`image ${image} is not on the engine`, `build it first with %build <context> -t ${image} (no registry is used)`);
  }
}

/** The running container that serves the service now (the one with its ports), if any. */
async function serving(docker: Docker, service: string): Promise<Docker.ContainerInfo | undefined> {
  const running = await docker.listContainers({ filters: { label: [`${LABEL.service}=${service}`], status: ['running'] } });
  return running.filter((c) => !c.Names.some((n) => n.endsWith('-candidate'))).sort((a, b) => b.Created - a.Created)[0];
}

/** The labels of everything a deploy creates: %ps, %history, %rollback and --cleanup read them back. */
function deployLabels(spec: DeploySpec, deployId: string, previous: string): Record<string, string> {
  return {
    [LABEL.managed]: 'true',
    [LABEL.service]: spec.service,
    [LABEL.image]: spec.image,
    [LABEL.version]: versionOf(spec.image),
    [LABEL.deployId]: deployId,
    [LABEL.deployedBy]: `${os.userInfo().username}@${os.hostname()}`,
    [LABEL.deployedAt]: new Date().toISOString(),
    [LABEL.previousImage]: previous,
    [LABEL.ports]: spec.ports.map((p) => `${p.host}:${p.container}/${p.proto}`).join(','),
    [LABEL.health]: describeGate(spec.gate),
    [LABEL.secretEnv]: spec.secretKeys.join(','),
    [LABEL.envKeys]: spec.env.map((e) => e.split('=')[0]).join(','),
  };
}

function createOptions(spec: DeploySpec, name: string, deployId: string, previous: string, publish: boolean): Docker.ContainerCreateOptions {
  const exposed: Record<string, object> = {};
  const bindings: Record<string, Array<{ HostPort: string }>> = {};
  for (const p of spec.ports) {
    exposed[`${p.container}/${p.proto}`] = {};
    if (publish) bindings[`${p.container}/${p.proto}`] = [{ HostPort: String(p.host) }];
  }
  const healthcheck = spec.gate.kind === 'cmd' ? { Test: ['CMD-SHELL', spec.gate.command], Interval: 1e9, Timeout: 3e9, Retries: 3, StartPeriod: 1e9 } : undefined;
  return {
    name,
    Image: spec.image,
    Env: spec.env,
    ExposedPorts: exposed,
    Healthcheck: healthcheck,
    Labels: deployLabels(spec, deployId, previous),
    HostConfig: { PortBindings: bindings, RestartPolicy: { Name: publish ? 'unless-stopped' : 'no' } },
  };
}

/** Where the HTTP probe of a --health-url gate goes: the container's bridge IP, or the published port. */
async function probeUrl(container: Docker.Container, spec: DeploySpec, viaHost: boolean): Promise<string | undefined> {
  if (spec.gate.kind !== 'url') return undefined;
  const first = spec.ports[0];
  if (viaHost && first) return `http://127.0.0.1:${first.host}${spec.gate.path}`;
  const info = await container.inspect();
  const ip = Object.values(info.NetworkSettings.Networks ?? {})[0]?.IPAddress;
  const port = first?.container ?? Number(Object.keys(info.Config.ExposedPorts ?? {})[0]?.split('/')[0] ?? 80);
  return ip ? `http://${ip}:${port}${spec.gate.path}` : undefined;
}

async function removeQuietly(container: Docker.Container): Promise<void> {
  await container.remove({ force: true, v: true }).catch(() => undefined);
}

/** Stopped containers of the service beyond `keep` (newest first kept) are removed. */
async function trimOld(docker: Docker, service: string, keep: number): Promise<void> {
  const stopped = await docker.listContainers({ all: true, filters: { label: [`${LABEL.service}=${service}`], status: ['exited', 'created'] } });
  const versions = stopped.filter((c) => c.Labels[LABEL.lock] !== 'true' && c.Labels[LABEL.deployRecord] !== 'true').sort((a, b) => b.Created - a.Created);
  for (const c of versions.slice(keep)) await removeQuietly(docker.getContainer(c.Id));
}

/** After a kernel died mid-deploy: its candidate goes; if nothing serves, the newest stopped version is started again. */
async function recover(docker: Docker, service: string, deadDeployId: string, io: Io): Promise<void> {
  const all = await docker.listContainers({ all: true, filters: { label: [`${LABEL.service}=${service}`] } });
  for (const c of all) {
    if (c.Labels[LABEL.deployId] === deadDeployId && (c.Names.some((n) => n.endsWith('-candidate')) || c.State !== 'running') && c.Labels[LABEL.deployRecord] !== 'true') {
      await removeQuietly(docker.getContainer(c.Id));
      io.stream('stderr', `[opsbook] removed ${c.Names[0]?.replace(/^\//, '')}, left by the interrupted deploy ${deadDeployId}\n`);
    }
  }
  if (!(await serving(docker, service))) {
    const stopped = (await docker.listContainers({ all: true, filters: { label: [`${LABEL.service}=${service}`], status: ['exited'] } }))
      .filter((c) => c.Labels[LABEL.deployRecord] !== 'true' && c.Labels[LABEL.lock] !== 'true')
      .sort((a, b) => b.Created - a.Created)[0];
    if (stopped) {
      await docker.getContainer(stopped.Id).start();
      io.stream('stderr', `[opsbook] nothing was serving ${service}: started ${stopped.Names[0]?.replace(/^\//, '')} again\n`);
    }
  }
}

async function confirm(call: MagicCall, spec: DeploySpec): Promise<void> {
  if (call.args.options.yes === true) return;
  let answer: string;
  try {
    answer = await call.io.input(`${spec.kind === 'rollback' ? 'Roll back' : 'Deploy'} ${spec.image} to ${spec.service}? [y/N] `);
  } catch {
    throw new MagicError(`%${spec.kind} needs a confirmation and this run cannot ask (no stdin, e.g. a headless run)`, 'pass --yes (with papermill: as a parameter) to deploy without asking');
  }
  if (!/^y(es)?$/i.test(answer.trim())) throw new MagicError(`${spec.kind} of ${spec.image} to ${spec.service} cancelled at the prompt`);
}

/** The audit line as the deploy's display ends with it, whatever the outcome. */
function auditBundle(r: DeployRecord): { 'text/plain': string; 'text/html': string } {
  const line = auditLine(r);
  return { 'text/plain': line, 'text/html': `<pre>${escapeHtml(line)}</pre>` };
}

/** Counts a restore (DORA's time to restore) when this successful deploy or rollback ends a failure of the service. */
async function recordRestore(docker: Docker, io: Io, r: DeployRecord): Promise<void> {
  if (!io.record || r.outcome.startsWith('failed')) return;
  const earlier = await listRecords(docker, r.service).catch(() => []);
  const ms = restoredAfterMs(earlier, r.kind, Date.now());
  if (ms !== undefined) io.record({ kind: 'restore', service: r.service, seconds: ms / 1000 });
}

/** The whole deploy: gate, cutover, restore on failure, record. Throws MagicError on failure (old still serving). */
async function deploy(call: MagicCall, connection: DockerConnection, spec: DeploySpec): Promise<DeployResult | undefined> {
  const io = call.io;
  const mask = masker(spec.secretValues);
  const { docker } = await connection.engine();
  const imageId = await localImageId(docker, spec.image);
  const deployId = newDeployId();
  const started = Date.now();
  const by = `${os.userInfo().username}@${os.hostname()}`;
  const at = new Date().toISOString();
  const display = io.display({ 'text/plain': `${spec.kind} ${spec.image} → ${spec.service}: waiting for the deploy lock` });
  const step = (text: string) => display.update({ 'text/plain': `${spec.kind} ${spec.image} → ${spec.service}: ${text} (${ms(Date.now() - started)})`, 'text/html': `<b>${spec.kind}</b> <code>${escapeHtml(spec.image)}</code> → <code>${escapeHtml(spec.service)}</code>: ${escapeHtml(text)} (${ms(Date.now() - started)})` });
  const lock = await acquireLock(docker, spec.service, imageId, deployId, spec.lockWaitMs, io.signal);
  const record = async (outcome: string, gap: number | undefined): Promise<DeployRecord> => {
    const r: DeployRecord = { service: spec.service, deployId, kind: spec.kind, image: spec.image, imageId, previousImage: previousImage, by, at, outcome: mask(outcome), durationMs: Date.now() - started, cutoverGapMs: gap };
    io.record?.({ kind: spec.kind, service: spec.service, outcome: outcome.startsWith('failed') ? 'failed' : spec.kind === 'rollback' ? 'rolled back' : 'deployed' });
    await recordRestore(docker, io, r);
    await writeRecord(docker, r).catch((e: Error) => io.stream('stderr', `[opsbook] the audit record could not be written: ${e.message}\n`));
    return r;
  };
  let previousImage = '';
  try {
    if (lock.recoveredFrom) {
      io.stream('stderr', `[opsbook] took over the deploy lock of ${spec.service} from ${lock.recoveredFrom.by} (kernel pid ${lock.recoveredFrom.pid}, gone) held since ${lock.recoveredFrom.since}\n`);
      await recover(docker, spec.service, lock.recoveredFrom.deployId, io);
    }
    const old = await serving(docker, spec.service);
    previousImage = old?.ImageID ?? '';
    const oldName = old?.Names[0]?.replace(/^\//, '');

    // 1. the new version next to the old one, without the service's ports
    step('starting the new version next to the old one');
    const candidate = await docker.createContainer(createOptions(spec, `${spec.service}-${deployId}-candidate`, deployId, previousImage, false));
    await candidate.start();
    step(`waiting for the new version to be healthy (${describeGate(spec.gate)}, up to ${ms(spec.waitMs)})`);
    const gate = await waitHealthy(candidate, spec.gate, spec.waitMs, io.signal, await probeUrl(candidate, spec, false));
    if (!gate.healthy) {
      const why = await whyUnhealthy(candidate);
      await removeQuietly(candidate);
      const kept = oldName ? `${oldName} (${old?.Image}) keeps serving` : 'nothing was serving before';
      const r = await record(`failed: the new version ${gate.reason}; ${kept}`, undefined);
      display.update(auditBundle(r));
      throw new MagicError(`${spec.kind} of ${spec.image} to ${spec.service} failed: the new version ${gate.reason}; ${kept}`, mask(['last log lines:', ...why.logs, ...(why.healthLog.length ? ['health checks:', ...why.healthLog] : [])].join('\n')));
    }

    // 2. cutover: the old one stops, the new one starts on the ports and is checked again
    step('healthy; cutting over');
    const final = await docker.createContainer(createOptions(spec, `${spec.service}-${deployId}`, deployId, previousImage, true));
    const cutStart = Date.now();
    if (old) await docker.getContainer(old.Id).stop({ t: STOP_TIMEOUT_S }).catch(() => undefined);
    let after: Awaited<ReturnType<typeof waitHealthy>>;
    // the gap: from stopping the old version until the new one answers on the service's (first) port
    let gap: number | undefined;
    try {
      await final.start();
      if (spec.ports[0]?.proto === 'tcp' && (await waitAnswering(spec.ports[0].host, spec.waitMs, io.signal))) gap = Date.now() - cutStart;
      after = await waitHealthy(final, spec.gate, spec.waitMs, io.signal, await probeUrl(final, spec, true));
    } catch (e) {
      after = { healthy: false, reason: `could not start on the service's ports: ${(e as Error).message}` };
    }
    gap ??= Date.now() - cutStart;
    await removeQuietly(candidate);
    if (!after.healthy) {
      const why = await whyUnhealthy(final);
      await removeQuietly(final);
      if (old) await docker.getContainer(old.Id).start().catch(() => undefined);
      const kept = oldName ? `${oldName} restored and serving` : 'nothing was serving before';
      const r = await record(`failed at cutover: the new version ${after.reason}; ${kept}`, gap);
      display.update(auditBundle(r));
      throw new MagicError(`${spec.kind} of ${spec.image} to ${spec.service} failed at cutover: the new version ${after.reason}; ${kept}`, mask(['last log lines:', ...why.logs, ...(why.healthLog.length ? ['health checks:', ...why.healthLog] : [])].join('\n')));
    }
    if (old) await docker.getContainer(old.Id).update({ RestartPolicy: { Name: 'no' } }).catch(() => undefined);
    await trimOld(docker, spec.service, spec.keep);
    const r = await record(spec.kind === 'rollback' ? 'rolled back' : 'deployed', gap);
    display.update(auditBundle(r));
    return call.bound ? { ...r, container: `${spec.service}-${deployId}` } : undefined;
  } finally {
    await lock.release();
  }
}

function gateOf(o: Record<string, unknown>): HealthGate {
  if (typeof o['health-cmd'] === 'string' && typeof o['health-url'] === 'string') throw new UsageError('give --health-cmd or --health-url, not both');
  if (typeof o['health-cmd'] === 'string') return { kind: 'cmd', command: o['health-cmd'] };
  if (typeof o['health-url'] === 'string') return { kind: 'url', path: o['health-url'].startsWith('/') ? o['health-url'] : `/${o['health-url']}` };
  return { kind: 'image' };
}

function specOf(call: MagicCall, env: NodeJS.ProcessEnv): DeploySpec {
  const o = call.args.options;
  if (typeof o.name !== 'string') throw new UsageError('%deploy: --name <service> is required', 'usage: %deploy <image> --name <service> [-p HOST:CONTAINER] ...');
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(o.name)) throw new UsageError(`%deploy: "${o.name}" is not a valid service name (letters, digits, _ . -)`);
  if (!call.args.rest) throw new UsageError('%deploy: no image given', 'usage: %deploy <image> --name <service> (or %deploy --cleanup --name <service>)');
  const secretKeys: string[] = [];
  const secretValues: string[] = [];
  const secrets: string[] = [];
  for (const text of Array.isArray(o['secret-env']) ? (o['secret-env'] as string[]) : []) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=([A-Za-z_][A-Za-z0-9_]*)$/.exec(text);
    if (!m) throw new UsageError(`--secret-env takes KEY=ENVVAR (the NAME of an environment variable), not "${text.split('=')[0]}"`);
    const value = env[m[2]];
    if (value === undefined) throw new MagicError(`--secret-env ${m[1]}: environment variable ${m[2]} is not set`, `export ${m[2]} before starting the kernel`);
    secretKeys.push(m[1]);
    secretValues.push(value);
    secrets.push(`${m[1]}=${value}`);
  }
  let waitMs: number;
  try {
    waitMs = parseDuration(typeof o.wait === 'string' ? o.wait : '60s') * 1000;
  } catch (e) {
    throw new UsageError(`--wait: ${(e as Error).message}`);
  }
  return {
    kind: 'deploy',
    image: call.args.rest,
    service: o.name,
    ports: parsePorts(o.publish),
    env: [...envFile(o['env-file']), ...envList(o.env, '-e'), ...secrets],
    secretKeys,
    secretValues,
    gate: gateOf(o),
    waitMs,
    keep: typeof o.keep === 'number' ? o.keep : 5,
    lockWaitMs: durationMs(o['lock-wait'], LOCK_WAIT_MS, '--lock-wait'),
  };
}

function durationMs(value: unknown, fallback: number, option: string): number {
  if (typeof value !== 'string') return fallback;
  try {
    return parseDuration(value) * 1000;
  } catch (e) {
    throw new UsageError(`${option}: ${(e as Error).message}`);
  }
}

function plan(spec: DeploySpec): string {
  const mask = masker(spec.secretValues);
  return mask(
    [
      `would ${spec.kind} ${spec.image} to ${spec.service}:`,
      `  start it next to the running version, without ports; health gate: ${describeGate(spec.gate)}, up to ${ms(spec.waitMs)}`,
      `  then stop the old version and start the new one on ${spec.ports.map((p) => `${p.host}:${p.container}/${p.proto}`).join(', ') || 'no published ports'}, and check again`,
      `  environment: ${spec.env.map((e) => e.split('=')[0]).join(', ') || 'none'}${spec.secretKeys.length ? ` (secret: ${spec.secretKeys.join(', ')})` : ''}`,
      `  keep ${spec.keep} stopped versions for %rollback`,
    ].join('\n'),
  );
}

const DEPLOY_OPTIONS: Magic['options'] = [
  { name: 'name', type: 'string', valueName: 'service', description: 'the service to deploy to (required)' },
  { name: 'publish', short: 'p', type: 'list', valueName: 'HOST:CONTAINER', description: 'publish a port (repeatable)' },
  { name: 'env', short: 'e', type: 'list', valueName: 'K=V', description: 'an environment variable (repeatable)' },
  { name: 'env-file', type: 'string', valueName: 'file', description: 'environment variables from a file, one K=V per line' },
  { name: 'secret-env', type: 'list', valueName: 'K=ENVVAR', description: "K gets the value of the kernel's environment variable ENVVAR; masked everywhere" },
  { name: 'health-cmd', type: 'string', valueName: 'command', description: 'healthy when this command exits 0 inside the container' },
  { name: 'health-url', type: 'string', valueName: 'path', description: 'healthy when GET path answers 2xx/3xx (first -p port)' },
  { name: 'wait', type: 'string', valueName: 'duration', description: 'how long the new version may take to get healthy (default 60s)' },
  { name: 'keep', type: 'number', valueName: 'n', description: 'stopped old versions kept for %rollback (default 5)' },
  { name: 'swarm', type: 'boolean', description: 'deploy as a Docker Swarm service: rolling start-first update, rolled back by Swarm on failure' },
  { name: 'replicas', type: 'number', valueName: 'n', description: 'with --swarm: how many tasks (default 1)' },
  { name: 'lock-wait', type: 'string', valueName: 'duration', description: 'how long to wait for another deploy of the service to finish (default 30s)' },
  { name: 'confirm', type: 'boolean', description: 'ask before deploying (headless runs then need --yes)' },
  { name: 'yes', short: 'y', type: 'boolean', description: 'do not ask' },
  { name: 'dry-run', type: 'boolean', description: 'show what would happen, change nothing' },
  { name: 'cleanup', type: 'boolean', description: "remove what failed or interrupted deploys of --name left: candidates, a dead kernel's lock, old stopped versions beyond --keep" },
];

/** Services listed in OPSBOOK_PROTECTED_SERVICES (comma-separated) always ask before a deploy or rollback. */
export function isProtected(service: string, env: NodeJS.ProcessEnv): boolean {
  return (env.OPSBOOK_PROTECTED_SERVICES ?? '').split(',').map((s) => s.trim()).includes(service);
}

/** %deploy --cleanup --name S: leftovers of failed or interrupted deploys, found by their labels. */
async function cleanup(call: MagicCall, connection: DockerConnection): Promise<object> {
  const service = call.args.options.name;
  if (typeof service !== 'string') throw new UsageError('%deploy --cleanup needs --name <service>');
  const keep = typeof call.args.options.keep === 'number' ? call.args.options.keep : 5;
  const { docker } = await connection.engine();
  const removed: string[] = [];
  const all = await docker.listContainers({ all: true, filters: { label: [`${LABEL.service}=${service}`] } });
  for (const c of all) {
    const name = c.Names[0]?.replace(/^\//, '') ?? c.Id.slice(0, 12);
    if (name.endsWith('-candidate')) {
      await removeQuietly(docker.getContainer(c.Id));
      removed.push(`${name} (a candidate left by deploy ${c.Labels[LABEL.deployId] ?? '?'})`);
    } else if (c.Labels[LABEL.lock] === 'true') {
      const holder = holderOf(c.Labels);
      if (isStale(holder)) {
        await removeQuietly(docker.getContainer(c.Id));
        removed.push(`${name} (the lock of a kernel that is gone, held since ${holder.since})`);
      }
    }
  }
  const before = new Set((await docker.listContainers({ all: true, filters: { label: [`${LABEL.service}=${service}`] } })).map((c) => c.Id));
  await trimOld(docker, service, keep);
  const after = new Set((await docker.listContainers({ all: true, filters: { label: [`${LABEL.service}=${service}`] } })).map((c) => c.Id));
  const trimmed = [...before].filter((id) => !after.has(id)).length;
  if (trimmed > 0) removed.push(`${trimmed} stopped old version${trimmed === 1 ? '' : 's'} beyond --keep ${keep}`);
  const text = removed.length === 0 ? `nothing to clean up for ${service}` : `cleaned up ${service}:\n${removed.map((r) => `  ${r}`).join('\n')}`;
  return { [Symbol.for('Jupyter.display')]: () => ({ 'text/plain': text }) };
}

export function deployMagic(connection: DockerConnection, env: NodeJS.ProcessEnv = process.env): Magic {
  return {
    name: 'deploy',
    summary: 'deploy an image as a service: health-gated cutover, the old version kept serving on failure, audited',
    kind: 'line',
    positional: { name: 'image', description: 'the image to run (built with %build)' },
    options: DEPLOY_OPTIONS,
    run: async (call) => {
      if (call.args.options.cleanup === true) return cleanup(call, connection);
      const spec = specOf(call, env);
      if (call.args.options['dry-run'] === true) return { [Symbol.for('Jupyter.display')]: () => ({ 'text/plain': plan(spec) }) };
      if (call.args.options.confirm === true || isProtected(spec.service, env)) await confirm(call, spec);
      if (call.args.options.swarm === true) return deployToSwarm(call, connection, spec, typeof call.args.options.replicas === 'number' ? call.args.options.replicas : 1);
      return deploy(call, connection, spec);
    },
  };
}

/** --swarm: Swarm does the rolling update and its rollback; we wait, show progress and tasks, and record it. */
async function deployToSwarm(call: MagicCall, connection: DockerConnection, spec: DeploySpec, replicas: number): Promise<DeployResult | undefined> {
  const io = call.io;
  const mask = masker(spec.secretValues);
  const { docker, target } = await connection.engine();
  await requireManager(docker, target.shown);
  const imageId = await localImageId(docker, spec.image);
  const deployId = newDeployId();
  const started = Date.now();
  const at = new Date().toISOString();
  const by = `${os.userInfo().username}@${os.hostname()}`;
  const display = io.display({ 'text/plain': `swarm deploy ${spec.image} → ${spec.service}: waiting for the deploy lock` });
  const lock = await acquireLock(docker, spec.service, imageId, deployId, spec.lockWaitMs, io.signal);
  try {
    const existing = (await docker.getService(spec.service).inspect().catch(() => undefined)) as { Spec?: { TaskTemplate?: { ContainerSpec?: { Image?: string } } } } | undefined;
    const previousImage = existing?.Spec?.TaskTemplate?.ContainerSpec?.Image?.split('@')[0] ?? '';
    const labels = swarmLabels(deployLabels(spec, deployId, previousImage));
    const outcome = await deploySwarm(docker, { image: spec.image, service: spec.service, replicas, ports: spec.ports, env: spec.env, labels, gate: spec.gate, waitMs: spec.waitMs }, io, (line) =>
      display.update({ 'text/plain': `swarm deploy ${spec.image} → ${spec.service}: ${line} (${ms(Date.now() - started)})` }),
    );
    const rolledBack = outcome.result === 'rolled back';
    const text = rolledBack ? `failed: Swarm rolled the update back to ${previousImage || 'the previous version'} (${outcome.message})` : outcome.result;
    const r: DeployRecord = { service: spec.service, deployId, kind: 'deploy (swarm)', image: spec.image, imageId, previousImage, by, at, outcome: mask(text), durationMs: Date.now() - started, cutoverGapMs: undefined };
    io.record?.({ kind: 'deploy', service: spec.service, outcome: rolledBack ? 'failed' : 'deployed' });
    await recordRestore(docker, io, r);
    await writeRecord(docker, r).catch((e: Error) => io.stream('stderr', `[opsbook] the audit record could not be written: ${e.message}\n`));
    const tasks = tasksBundle(outcome.tasks);
    const audit = auditBundle(r);
    display.update({ 'text/plain': `${audit['text/plain']}\n${tasks['text/plain']}`, 'text/html': `${audit['text/html']}${tasks['text/html']}` });
    if (rolledBack) throw new MagicError(`the Swarm update of ${spec.service} to ${spec.image} failed and Swarm rolled it back to ${previousImage || 'the previous version'}`, mask(outcome.message));
    return call.bound ? { ...r, container: spec.service } : undefined;
  } finally {
    await lock.release();
  }
}

export function rollbackMagic(connection: DockerConnection): Magic {
  return {
    name: 'rollback',
    summary: 'go back to the previous version of a service (or --to an image), health-gated like %deploy',
    kind: 'line',
    positional: { name: 'service', description: 'the service to roll back', required: true },
    options: [
      { name: 'to', type: 'string', valueName: 'image', description: 'the image to go back to (default: the one the current version replaced)' },
      { name: 'wait', type: 'string', valueName: 'duration', description: 'how long it may take to get healthy (default 60s)' },
      { name: 'confirm', type: 'boolean', description: 'ask first (headless runs then need --yes)' },
      { name: 'yes', short: 'y', type: 'boolean', description: 'do not ask' },
    ],
    run: async (call) => {
      const service = call.args.rest;
      const { docker } = await connection.engine();
      const current = await serving(docker, service);
      if (!current) throw new MagicError(`nothing is serving ${service}`, `%ps --all --filter service=${service} shows its containers`);
      const info = await docker.getContainer(current.Id).inspect();
      const labels = info.Config.Labels ?? {};
      const target = typeof call.args.options.to === 'string' ? call.args.options.to : labels[LABEL.previousImage];
      if (!target) throw new MagicError(`${service} has no previous version to go back to`, 'pass --to <image>');
      const secretKeys = (labels[LABEL.secretEnv] ?? '').split(',').filter(Boolean);
      // the variables the deploy set (not the image's own, which the target image brings itself)
      const envKeys = (labels[LABEL.envKeys] ?? '').split(',').filter(Boolean);
      const env = (info.Config.Env ?? []).filter((e) => envKeys.includes(e.split('=')[0]));
      const health = labels[LABEL.health] ?? 'image';
      const gate: HealthGate = health.startsWith('cmd:') ? { kind: 'cmd', command: health.slice(4) } : health.startsWith('url:') ? { kind: 'url', path: health.slice(4) } : health === 'none' ? { kind: 'none' } : { kind: 'image' };
      const spec: DeploySpec = {
        kind: 'rollback',
        image: target,
        service,
        ports: parsePorts((labels[LABEL.ports] ?? '').split(',').filter(Boolean)),
        env,
        secretKeys,
        secretValues: env.filter((e) => secretKeys.includes(e.split('=')[0])).map((e) => e.slice(e.indexOf('=') + 1)),
        gate,
        waitMs: durationMs(call.args.options.wait, 60_000, '--wait'),
        keep: 5,
        lockWaitMs: LOCK_WAIT_MS,
      };
      if (call.args.options.confirm === true || isProtected(service, process.env)) await confirm(call, spec);
      return deploy(call, connection, spec);
    },
  };
}
