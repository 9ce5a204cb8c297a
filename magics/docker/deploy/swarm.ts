// %deploy --swarm: the service as a Docker Swarm service, created or updated with a rolling update that starts
// each new task before its old one stops (start-first), one at a time, watched for a monitor period and rolled
// back by Swarm itself when a task fails (failure_action: rollback). The service publishes nothing and has no
// virtual IP (endpoint mode dnsrr): Swarm's routing mesh and VIPs need the kernel's IPVS, which not every host has;
// its tasks join an attachable overlay network where the service's proxy finds them by DNS (swarm-front.ts). The
// cell waits for convergence with progress, reports the tasks, and fails saying so when Swarm rolled back.
import type Docker from 'dockerode';
import type { Io } from '../../../kernel/io/io';
import { MagicError } from '../../../kernel/io/errors';
import { escapeHtml } from '../../../kernel/io/html';
import type { HealthGate } from './health';
import { LABEL } from '../engine/labels';
import { sleep } from '../../lib/sleep';

export interface SwarmSpec {
  image: string;
  service: string;
  replicas: number;
  ports: Array<{ host: number; container: number; proto: 'tcp' | 'udp' }>;
  env: string[];
  labels: Record<string, string>;
  gate: HealthGate;
  waitMs: number;
  /** The overlay network the tasks join (the proxy's); none for a service without ports. */
  network?: string;
}

export interface SwarmOutcome {
  /** "created", "updated", or "rolled back" (Swarm undid a failed update). */
  result: 'created' | 'updated' | 'rolled back';
  message: string;
  tasks: TaskRow[];
}

export interface TaskRow {
  slot: number;
  id: string;
  image: string;
  state: string;
  error: string;
}

interface TaskInfo {
  ID: string;
  Slot?: number;
  DesiredState?: string;
  Status?: { State?: string; Err?: string; Message?: string };
  Spec?: { ContainerSpec?: { Image?: string } };
}

const NS_PER_MS = 1e6;
/** Swarm watches each updated task this long before it counts as a success (and before the next one goes). */
const MONITOR_MS = 5000;
const POLL_MS = 500;

/** Whether the engine is a Swarm manager; a MagicError saying how to make it one otherwise. */
export async function requireManager(docker: Docker, shown: string): Promise<void> {
  const info = (await docker.info()) as { Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean } };
  if (info.Swarm?.LocalNodeState !== 'active' || !info.Swarm.ControlAvailable) {
    throw new MagicError(`the Docker engine at ${shown} is not a Swarm manager`, 'run `docker swarm init` there (a single node works), or deploy without --swarm');
  }
}

/** The task health check for a gate (Swarm has no outside probe): --health-url becomes a wget inside the task. */
function healthcheck(gate: HealthGate, containerPort: number | undefined): Docker.HealthConfig | undefined {
  const every = { Interval: 1e9, Timeout: 3e9, Retries: 3, StartPeriod: 1e9 };
  if (gate.kind === 'cmd') return { Test: ['CMD-SHELL', gate.command], ...every };
  if (gate.kind === 'url') return { Test: ['CMD-SHELL', `wget -q -O /dev/null http://127.0.0.1:${containerPort ?? 80}${gate.path}`], ...every };
  return undefined;
}

/**
 * The service spec: rolling, start-first, rollback on failure, our labels on the service and its containers; no
 * published port and no VIP (dnsrr: `tasks.<service>` and `<service>` name the healthy tasks themselves).
 */
export function serviceSpec(spec: SwarmSpec): Docker.CreateServiceOptions {
  const update: Docker.UpdateConfig = { Parallelism: 1, Delay: 0, FailureAction: 'rollback', Monitor: MONITOR_MS * NS_PER_MS, MaxFailureRatio: 0, Order: 'start-first' };
  const health = healthcheck(spec.gate, spec.ports[0]?.container);
  return {
    Name: spec.service,
    Labels: spec.labels,
    TaskTemplate: {
      ContainerSpec: { Image: spec.image, Env: spec.env, Labels: spec.labels, ...(health ? { HealthCheck: health } : {}) },
      RestartPolicy: { Condition: 'on-failure', MaxAttempts: 3 },
      ...(spec.network ? { Networks: [{ Target: spec.network }] } : {}),
    },
    Mode: { Replicated: { Replicas: spec.replicas } },
    UpdateConfig: update,
    RollbackConfig: { ...update, FailureAction: 'pause' },
    EndpointSpec: { Mode: 'dnsrr', Ports: [] },
  };
}

async function tasksOf(docker: Docker, serviceId: string): Promise<TaskRow[]> {
  const tasks = (await docker.listTasks({ filters: { service: [serviceId] } })) as TaskInfo[];
  return tasks
    .filter((t) => t.DesiredState === 'running')
    .map((t) => ({ slot: t.Slot ?? 0, id: t.ID.slice(0, 12), image: (t.Spec?.ContainerSpec?.Image ?? '').split('@')[0], state: t.Status?.State ?? '?', error: t.Status?.Err ?? '' }))
    .sort((a, b) => a.slot - b.slot);
}

export function tasksBundle(tasks: TaskRow[]): { 'text/plain': string; 'text/html': string } {
  const text = tasks.map((t) => `  task ${t.slot}  ${t.id}  ${t.image}  ${t.state}${t.error ? `  ${t.error}` : ''}`).join('\n');
  const html = `<table><tr><th>task</th><th>id</th><th>image</th><th>state</th><th>error</th></tr>${tasks.map((t) => `<tr><td>${t.slot}</td><td><code>${t.id}</code></td><td><code>${escapeHtml(t.image)}</code></td><td>${escapeHtml(t.state)}</td><td>${escapeHtml(t.error)}</td></tr>`).join('')}</table>`;
  return { 'text/plain': text, 'text/html': html };
}


/**
 * Creates or updates the Swarm service and waits until Swarm says the update completed (or every replica of a new
 * service runs), it rolled back, or the wait ran out. `progress` gets a line to show as it goes; `submitted` runs
 * once Swarm accepted the spec (the service's old published ports are free from then on).
 */
export async function deploySwarm(docker: Docker, spec: SwarmSpec, io: Io, progress: (line: string) => void, submitted: () => Promise<void> = async () => undefined): Promise<SwarmOutcome> {
  const existing = await docker.getService(spec.service).inspect().catch(() => undefined) as { ID: string; Version: { Index: number } } | undefined;
  const body = serviceSpec(spec);
  let serviceId: string;
  if (existing) {
    await docker.getService(existing.ID).update({ version: existing.Version.Index, ...body });
    serviceId = existing.ID;
  } else {
    const created = (await docker.createService(body)) as unknown as { id?: string; ID?: string };
    serviceId = created.id ?? created.ID ?? spec.service;
  }
  await submitted();
  // an update takes at least one monitor period per task; the wait covers health checks on top of that
  const deadline = Date.now() + spec.waitMs + spec.replicas * MONITOR_MS;
  for (;;) {
    if (io.signal.aborted) throw new MagicError('interrupted while Swarm was converging; the update goes on without us', `docker service ps ${spec.service} shows where it is`);
    const service = (await docker.getService(serviceId).inspect()) as { UpdateStatus?: { State?: string; Message?: string } };
    const tasks = await tasksOf(docker, serviceId);
    const state = service.UpdateStatus?.State;
    const running = tasks.filter((t) => t.state === 'running' && t.image === spec.image).length;
    progress(`${state ?? (existing ? 'updating' : 'creating')}: ${running}/${spec.replicas} tasks of ${spec.image} running`);
    if (state === 'completed' || (!existing && state === undefined && running === spec.replicas)) return { result: existing ? 'updated' : 'created', message: service.UpdateStatus?.Message ?? '', tasks };
    if (state === 'rollback_completed') return { result: 'rolled back', message: service.UpdateStatus?.Message ?? '', tasks };
    if (state === 'paused' || state === 'rollback_paused') throw new MagicError(`Swarm ${state.replace('_', ' ')} the update of ${spec.service}: ${service.UpdateStatus?.Message ?? ''}`, `docker service ps ${spec.service} --no-trunc shows the failed tasks`);
    if (Date.now() > deadline) throw new MagicError(`${spec.service} did not converge within ${Math.round((deadline - Date.now() + spec.waitMs) / 1000)} s (${running}/${spec.replicas} tasks of ${spec.image} running)`, `docker service ps ${spec.service} --no-trunc shows why`);
    await sleep(POLL_MS, io.signal);
  }
}

/** Labels of a Swarm deploy: the same as a local one, so %ps, %history and cleanup find it. */
export function swarmLabels(base: Record<string, string>): Record<string, string> {
  return { ...base, [LABEL.managed]: 'true', [LABEL.mode]: 'swarm' };
}
