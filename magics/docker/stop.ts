// %stop: stops every running container of a service (or one container by name or id) like `docker stop`: SIGTERM,
// then SIGKILL once --timeout seconds have passed. One display says what is being stopped and becomes a table of
// what happened to each container (stopped in how long with which exit code, or killed at the timeout). Nothing
// running is a line saying so, not an error; a name that is neither a service nor a container is a MagicError.
import type Docker from 'dockerode';
import { MagicError } from '../../kernel/io/errors';
import type { Magic, MagicCall } from '../registry';
import { escapeHtml } from '../../kernel/io/html';
import type { DockerConnection } from './engine/connection';
import { LABEL } from './engine/labels';
import { NONE, Target, completeTarget, containerName, resolveTarget, statusText } from './engine/containers';
import { Column, tableBundle } from '../lib/table';

/** One stopped container; `const s = %stop api` binds an array of these. */
export interface StopRow {
  service: string;
  name: string;
  id: string;
  /** "stopped", "killed" (still running at the timeout), "already stopped", "gone" (removed meanwhile) or "failed". */
  outcome: 'stopped' | 'killed' | 'already stopped' | 'gone' | 'failed';
  exitCode: number | undefined;
  seconds: number;
  /** What the table says: "stopped in 0.4 s (exit 0)", "killed after the 10 s timeout (exit 137)". */
  result: string;
}

interface RunningContainer {
  id: string;
  name: string;
  service: string;
}

const DEFAULT_TIMEOUT_SECONDS = 10;
/** Exit status of a process ended by SIGKILL (128 + 9). */
const KILLED_EXIT_CODE = 137;

const STOP_COLUMNS: readonly Column<StopRow>[] = [
  { header: 'service', value: (r) => r.service },
  { header: 'container', value: (r) => r.name },
  { header: 'result', value: (r) => r.result },
];

// ---------------------------------------------------------------------------------------------------------------
// Pure parts

/** --timeout: whole seconds, 0 or more. */
export function timeoutSeconds(text: string): number {
  if (!/^\d+$/.test(text.trim())) throw new Error(`bad --timeout "${text}": use whole seconds (0 or more)`);
  return Number(text.trim());
}

/** What happened, from how the stop request ended and the exit code after it. */
export function describeStop(outcome: StopRow['outcome'], exitCode: number | undefined, seconds: number, timeout: number, error?: string): Pick<StopRow, 'outcome' | 'result'> {
  const exit = exitCode === undefined ? '' : ` (exit ${exitCode})`;
  if (outcome === 'stopped' && exitCode === KILLED_EXIT_CODE && seconds >= timeout * 0.9) return { outcome: 'killed', result: `killed after the ${timeout} s timeout${exit}` };
  if (outcome === 'stopped') return { outcome, result: `stopped in ${seconds.toFixed(1)} s${exit}` };
  if (outcome === 'already stopped') return { outcome, result: `already stopped${exit}` };
  if (outcome === 'gone') return { outcome, result: 'removed meanwhile' };
  return { outcome, result: `failed: ${error ?? 'unknown error'}` };
}

/** The containers of a target that run now. */
export function runningContainers(target: Target): RunningContainer[] {
  if (target.kind === 'container') {
    const c = target.container;
    return c.State.Running ? [{ id: c.Id, name: c.Name.replace(/^\//, ''), service: c.Config.Labels?.[LABEL.service] || NONE }] : [];
  }
  return target.containers.filter((c) => c.State === 'running').map((c) => ({ id: c.Id, name: containerName(c), service: target.service }));
}

/** The line for a target with nothing running. */
export function nothingRunning(target: Target): string {
  if (target.kind === 'container') return `nothing to stop: container ${target.container.Name.replace(/^\//, '')} is not running (${statusText({ State: target.container.State.Status, Status: '' }, target.container.State)})`;
  const stopped = target.containers.length;
  return `nothing to stop: service ${target.service} has no running container (${stopped} stopped)`;
}

function lineBundle(line: string, className: string): { 'text/plain': string; 'text/html': string } {
  return { 'text/plain': line, 'text/html': `<div class="${className}">${escapeHtml(line)}</div>` };
}

function resultBundle(heading: string, rows: readonly StopRow[]): { 'text/plain': string; 'text/html': string } {
  const table = tableBundle('opsbook-stop', STOP_COLUMNS, rows);
  return { 'text/plain': `${heading}\n${table['text/plain']}`, 'text/html': `<div class="opsbook-stop"><b>${escapeHtml(heading)}</b>${table['text/html']}</div>` };
}

function heading(name: string, target: Target, count: number, verb: string): string {
  const what = target.kind === 'service' ? `${count} container${count === 1 ? '' : 's'} of service ${name}` : `container ${name}`;
  return `${verb} ${what}`;
}

// ---------------------------------------------------------------------------------------------------------------
// The engine side

function statusCode(e: unknown): number | undefined {
  return (e as { statusCode?: number }).statusCode;
}

function engineMessage(e: unknown): string {
  return (e as Error).message.replace(/^\(HTTP code \d+\) [a-z ]+ - /, '').trim();
}

/** Stops one container and reports how that went; never throws (a failure is a row). */
async function stopOne(docker: Docker, c: RunningContainer, timeout: number, signal: AbortSignal): Promise<StopRow> {
  const started = Date.now();
  const container = docker.getContainer(c.id);
  let outcome: StopRow['outcome'] = 'stopped';
  let error: string | undefined;
  try {
    await container.stop({ t: timeout, abortSignal: signal });
  } catch (e) {
    const code = statusCode(e);
    outcome = code === 304 ? 'already stopped' : code === 404 ? 'gone' : 'failed';
    if (outcome === 'failed') error = engineMessage(e);
  }
  const seconds = (Date.now() - started) / 1000;
  const exitCode = outcome === 'gone' || signal.aborted ? undefined : await container.inspect().then((i) => i.State.ExitCode, () => undefined);
  return { service: c.service, name: c.name, id: c.id.slice(0, 12), exitCode, seconds, ...describeStop(outcome, exitCode, seconds, timeout, error) };
}

async function runStop(call: MagicCall, connection: DockerConnection): Promise<StopRow[] | undefined> {
  const io = call.io;
  const name = call.args.rest;
  const timeout = typeof call.args.options.timeout === 'number' ? call.args.options.timeout : DEFAULT_TIMEOUT_SECONDS;
  const { docker } = await connection.engine();
  const target = await resolveTarget(docker, name, 'stop', io.signal);
  const running = runningContainers(target);
  if (running.length === 0) {
    io.display(lineBundle(nothingRunning(target), 'opsbook-stop'));
    return call.bound ? [] : undefined;
  }
  const display = io.display(lineBundle(`${heading(name, target, running.length, 'stopping')}: ${running.map((c) => c.name).join(', ')} (SIGTERM, SIGKILL after ${timeout} s)…`, 'opsbook-stop'));
  const rows = await Promise.all(running.map((c) => stopOne(docker, c, timeout, io.signal)));
  if (io.signal.aborted) return undefined;
  display.update(resultBundle(heading(name, target, running.length, 'stopped'), rows));
  const failed = rows.filter((r) => r.outcome === 'failed');
  if (failed.length > 0) throw new MagicError(`%stop: could not stop ${failed.map((r) => `${r.name} (${r.result.replace(/^failed: /, '')})`).join(', ')}`, 'docker stop or docker kill may tell more; %ps --all shows their state');
  return call.bound ? rows : undefined;
}

export function stopMagic(connection: DockerConnection): Magic {
  return {
    name: 'stop',
    summary: 'stop the running containers of a service (or one container): SIGTERM, then SIGKILL after --timeout',
    kind: 'line',
    positional: { name: 'target', description: 'a service (all its running containers) or a container name or id', required: true },
    options: [
      { name: 'timeout', short: 't', type: 'string', valueName: 'seconds', description: `seconds between SIGTERM and SIGKILL (default ${DEFAULT_TIMEOUT_SECONDS})`, parse: timeoutSeconds },
    ],
    run: (call) => runStop(call, connection),
    completeArguments: (before) => completeTarget(connection, before),
  };
}
