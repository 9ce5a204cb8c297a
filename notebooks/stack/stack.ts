// The local stack the runbook notebooks and the demo run against, all on 127.0.0.1: the Docker engine (dockerd
// started when root and nothing answers), the local base images and the proxy image opsbook/haproxy:local (`docker
// import`, never a pull), a Pushgateway and a Prometheus on free ports with their own config and data under a state
// folder. Prometheus scrapes itself, the Pushgateway (honor_labels), every deployed version of the sample app on its
// container's own address (discovered through the Docker socket), and HAProxy's own metrics on every opsbook proxy of the engine
// (discovered through the Docker socket, labelled service and version), every 2 s, so a runbook sees its traffic
// within seconds. The state (pids, ports, folders, whether dockerd was ours) is a JSON file, so `up`
// reuses what still runs and `down` stops exactly what `up` started.
//   node dist/notebooks/stack/stack.js up|down|status     (state: $OPSBOOK_STACK_DIR, else $XDG_STATE_HOME/opsbook;
//   the demo service: $OPSBOOK_SERVICE, else the recorded one, else opsbook-demo)
// The pieces are exported too: the notebook integration test starts the same servers on its own ports and folders.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePorts } from '../../kernel/protocol/connection';
import { ensureBaseImages } from './base-images';
import { docker } from './commands';
import { DOCKERD_BIN, ensureDocker } from './engine';
import { PROMETHEUS_BIN, PUSHGATEWAY_BIN, prometheusCommand, prometheusConfig, pushgatewayCommand } from './prometheus';
import { PROXY_IMAGE, ensureProxyImageReport } from './proxy-image';
import { prepareSampleApp } from './sample-app';
import { ServerCommand, httpStatus, isOurProcess, startServer, stopPid } from './server';

/** The service the demo deploys (the notebooks' default); `down` removes its containers by label. */
export const DEMO_SERVICE = 'opsbook-demo';
/** How often Prometheus scrapes: short, so a runbook sees the traffic it just made. */
export const SCRAPE_INTERVAL = '2s';
/** The Prometheus job of the proxies' own metrics (haproxy_server_* with service and version labels). */
export const PROXY_JOB = 'opsbook-proxy';
/** The Prometheus job of the sample app's own metrics, scraped on every version's container (labels service, version). */
export const APP_JOB = 'sample-app';
/** The port the sample app answers on inside its container. */
const APP_CONTAINER_PORT = 8080;
const STATE_VERSION = 1;
const DOCKERD_STOP_TIMEOUT_MS = 30_000;

/** A server the stack started, as recorded in the state file. */
export interface ServerRecord {
  pid: number;
  port: number;
  /** http://127.0.0.1:PORT */
  url: string;
  /** Its stdout and stderr (appended). */
  log: string;
  startedAt: string;
}

export interface StackState {
  version: number;
  /** The state folder: stack.json, prometheus/ (config, data), pushgateway/ (persistence), logs. */
  dir: string;
  /** The service the demo deploys; its containers carry opsbook.service=<service>. */
  service: string;
  /** The host port the notebooks deploy the sample app to (its proxy publishes it). */
  appPort: number;
  prometheus?: ServerRecord;
  pushgateway?: ServerRecord;
  /** Only when `up` started dockerd: `down` stops it then, never an engine that was already running. */
  dockerd?: { pid: number; log: string; startedAt: string };
}

export interface ServersOptions {
  /** The state folder (created); defaults to stackDir(). */
  dir?: string;
  /** The sample app's host port; default: the one recorded in the state, else a free one. */
  appPort?: number;
  /** Default DEMO_SERVICE (or the one recorded). */
  service?: string;
  /** Kill the servers when this process exits (tests); the CLI leaves them running. */
  killOnExit?: boolean;
}

/** What `up` did with each part, for the printout. */
export interface UpReport {
  state: StackState;
  lines: string[];
}

// ---------------------------------------------------------------------------------------------------------------
// State

/** $OPSBOOK_STACK_DIR, else ${XDG_STATE_HOME:-$HOME/.local/state}/opsbook. */
export function stackDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.OPSBOOK_STACK_DIR) return path.resolve(env.OPSBOOK_STACK_DIR);
  const stateHome = env.XDG_STATE_HOME || path.join(env.HOME || os.homedir(), '.local', 'state');
  return path.join(stateHome, 'opsbook');
}

export function stateFile(dir: string): string {
  return path.join(dir, 'stack.json');
}

export function readState(dir: string): StackState | undefined {
  try {
    const state = JSON.parse(readFileSync(stateFile(dir), 'utf8')) as StackState;
    return state.version === STATE_VERSION ? { ...state, dir } : undefined;
  } catch {
    return undefined;
  }
}

export function writeState(state: StackState): void {
  mkdirSync(state.dir, { recursive: true });
  const file = stateFile(state.dir);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

/**
 * The `export ...` line for a shell: PROMETHEUS_URL, OPSBOOK_PUSHGATEWAY_URL, OPSBOOK_APP_PORT, OPSBOOK_SERVICE, and
 * OPSBOOK_PROXY_IMAGE (the local proxy image, which %deploy uses instead of pulling haproxy).
 */
export function exportLine(state: StackState): string {
  const vars: Array<[string, string | undefined]> = [
    ['PROMETHEUS_URL', state.prometheus?.url],
    ['OPSBOOK_PUSHGATEWAY_URL', state.pushgateway?.url],
    ['OPSBOOK_APP_PORT', String(state.appPort)],
    ['OPSBOOK_SERVICE', state.service],
    ['OPSBOOK_PROXY_IMAGE', PROXY_IMAGE],
  ];
  return `export ${vars.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`).join(' ')}`;
}

/** The environment the notebooks read their parameter defaults from, and the proxy image their deploys use. */
export function notebookEnv(state: StackState): Record<string, string> {
  const env: Record<string, string> = { OPSBOOK_APP_PORT: String(state.appPort), OPSBOOK_SERVICE: state.service, OPSBOOK_PROXY_IMAGE: PROXY_IMAGE };
  if (state.prometheus) env.PROMETHEUS_URL = state.prometheus.url;
  if (state.pushgateway) env.OPSBOOK_PUSHGATEWAY_URL = state.pushgateway.url;
  return env;
}

// ---------------------------------------------------------------------------------------------------------------
// Pushgateway and Prometheus

function prometheusConfigFile(dir: string): string {
  return path.join(dir, 'prometheus', 'prometheus.yml');
}

/** The Pushgateway of the stack in `dir`: its pushed metrics persist in dir/pushgateway/metrics.store. */
function pushgatewayIn(dir: string): ServerCommand {
  return pushgatewayCommand({ persistenceFile: path.join(dir, 'pushgateway', 'metrics.store') });
}

/** The Prometheus of the stack in `dir`: config and TSDB under dir/prometheus, 90 days of data. */
function prometheusIn(dir: string): ServerCommand {
  return prometheusCommand({ configFile: prometheusConfigFile(dir), dataDir: path.join(dir, 'prometheus', 'data'), retention: '90d' });
}

/** The engine Prometheus discovers proxies on: $DOCKER_HOST when it is a unix socket, else the default socket. */
export function localDockerHost(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_HOST?.startsWith('unix://') ? env.DOCKER_HOST : 'unix:///var/run/docker.sock';
}

/**
 * prometheus.yml: itself, the Pushgateway (honor_labels: the pushed job/instance labels stay), the job `sample-app`:
 * every version of every deployed service on its container's address (the app labels its metrics service and
 * version), and the job `opsbook-proxy`: every opsbook proxy on the engine (HAProxy's exporter; labels service,
 * container, version).
 */
function stackPrometheusConfig(ports: { prometheus: number; pushgateway: number }, interval = SCRAPE_INTERVAL): string {
  return prometheusConfig({
    comment: 'Written by opsbook (notebooks/stack/stack.ts); rewritten by `stack.js up`.',
    interval,
    jobs: [
      { name: 'prometheus', targets: [`127.0.0.1:${ports.prometheus}`] },
      { name: 'pushgateway', targets: [`127.0.0.1:${ports.pushgateway}`], honorLabels: true },
    ],
    proxies: { name: PROXY_JOB, dockerHost: localDockerHost(), refreshInterval: interval },
    versions: { name: APP_JOB, dockerHost: localDockerHost(), refreshInterval: interval, port: APP_CONTAINER_PORT },
  });
}

/** The record's process is alive, is the server we started with that command line, and answers /-/ready. */
async function serverAlive(record: ServerRecord | undefined, command: ServerCommand): Promise<boolean> {
  if (!record || !isOurProcess(record.pid, command.binary, command.args(record.port))) return false;
  return (await httpStatus(`${record.url}/-/ready`)) === 200;
}

/** Starts the server with its log at dir/<name>.log; returns what the state file keeps of it. */
async function startRecorded(command: ServerCommand, dir: string, name: string, beforeStart: ((port: number) => void) | undefined, detached: boolean): Promise<ServerRecord> {
  const server = await startServer({ ...command, cwd: dir, log: path.join(dir, `${name}.log`), beforeStart, detached });
  return { pid: server.pid, port: server.port, url: server.url, log: server.log, startedAt: server.startedAt };
}

function missing(binary: string, pkg: string): Error {
  return new Error(`${binary} not found: install the Debian package ${pkg} (bash notebooks/stack/install-system-deps.sh does it)`);
}

async function freePort(): Promise<number> {
  return (await freePorts(1))[0];
}

/**
 * Starts the Pushgateway and Prometheus under `dir` unless the ones recorded there still run (then reused; the
 * Prometheus config is rewritten and reloaded if a port changed). Writes the state file and returns it.
 */
export async function upServers(options: ServersOptions = {}): Promise<UpReport> {
  if (!existsSync(PUSHGATEWAY_BIN)) throw missing(PUSHGATEWAY_BIN, 'prometheus-pushgateway');
  if (!existsSync(PROMETHEUS_BIN)) throw missing(PROMETHEUS_BIN, 'prometheus');
  const dir = options.dir ?? stackDir();
  const previous = readState(dir);
  const detached = options.killOnExit !== true;
  for (const sub of ['prometheus', path.join('prometheus', 'data'), 'pushgateway']) mkdirSync(path.join(dir, sub), { recursive: true });
  const state: StackState = {
    version: STATE_VERSION,
    dir,
    service: options.service ?? previous?.service ?? DEMO_SERVICE,
    appPort: options.appPort ?? previous?.appPort ?? (await freePort()),
    dockerd: previous?.dockerd,
  };
  const lines: string[] = [];

  const pgw = previous?.pushgateway;
  if (pgw && (await serverAlive(pgw, pushgatewayIn(dir)))) {
    state.pushgateway = pgw;
    lines.push(`pushgateway   ${pgw.url}  (already running, pid ${pgw.pid})`);
  } else {
    state.pushgateway = await startRecorded(pushgatewayIn(dir), dir, 'pushgateway', undefined, detached);
    lines.push(`pushgateway   ${state.pushgateway.url}  (started, pid ${state.pushgateway.pid}, log ${state.pushgateway.log})`);
  }
  const pushgatewayPort = state.pushgateway.port;

  const prom = previous?.prometheus;
  const writeConfig = (port: number): boolean => {
    const text = stackPrometheusConfig({ prometheus: port, pushgateway: pushgatewayPort });
    const file = prometheusConfigFile(dir);
    const changed = !existsSync(file) || readFileSync(file, 'utf8') !== text;
    if (changed) writeFileSync(file, text);
    return changed;
  };
  if (prom && (await serverAlive(prom, prometheusIn(dir)))) {
    state.prometheus = prom;
    const reloaded = writeConfig(prom.port);
    if (reloaded) process.kill(prom.pid, 'SIGHUP');
    lines.push(`prometheus    ${prom.url}  (already running, pid ${prom.pid}${reloaded ? ', config reloaded' : ''})`);
  } else {
    state.prometheus = await startRecorded(prometheusIn(dir), dir, 'prometheus', (port) => void writeConfig(port), detached);
    lines.push(`prometheus    ${state.prometheus.url}  (started, pid ${state.prometheus.pid}, log ${state.prometheus.log})`);
  }
  lines.push(`              scrapes itself, the pushgateway and every deployed version on its container (job ${APP_JOB}) every ${SCRAPE_INTERVAL}`);
  lines.push(`              and every opsbook proxy on the engine (job ${PROXY_JOB}: HAProxy's metrics by service and version)`);
  lines.push(`sample app    deployed by the notebooks to 127.0.0.1:${state.appPort} (service ${state.service})`);
  writeState(state);
  return { state, lines };
}

/** Stops the Pushgateway and Prometheus recorded in the state (only if they are still the processes we started). */
export async function downServers(state: StackState): Promise<string[]> {
  const stopped: string[] = [];
  const parts: Array<['prometheus' | 'pushgateway', ServerCommand]> = [
    ['prometheus', prometheusIn(state.dir)],
    ['pushgateway', pushgatewayIn(state.dir)],
  ];
  for (const [name, command] of parts) {
    const record = state[name];
    if (!record) continue;
    if (isOurProcess(record.pid, command.binary, command.args(record.port))) {
      const how = await stopPid(record.pid);
      stopped.push(`${name} ${record.url} (pid ${record.pid}) ${how}`);
    } else {
      stopped.push(`${name} ${record.url} (pid ${record.pid}) was not running`);
    }
    state[name] = undefined;
  }
  writeState(state);
  return stopped;
}

// ---------------------------------------------------------------------------------------------------------------
// The whole stack (the CLI): engine, base images, sample app context, servers

/** Engine (dockerd started if root and nothing answers), base images, the sample app's node_modules, then the servers. */
export async function stackUp(options: ServersOptions = {}): Promise<UpReport> {
  const dir = options.dir ?? stackDir();
  mkdirSync(dir, { recursive: true });
  const lines: string[] = [];
  const dockerdLog = path.join(dir, 'dockerd.log');
  const previous = readState(dir);
  const { startedPid } = await ensureDocker({ log: dockerdLog });
  let dockerd = previous?.dockerd && isOurProcess(previous.dockerd.pid, DOCKERD_BIN, []) ? previous.dockerd : undefined;
  if (startedPid !== undefined) {
    dockerd = { pid: startedPid, log: dockerdLog, startedAt: new Date().toISOString() };
    lines.push(`docker engine started dockerd (pid ${startedPid}, log ${dockerdLog})`);
  } else {
    lines.push(`docker engine answering${dockerd ? ` (dockerd pid ${dockerd.pid}, started by an earlier \`up\`)` : ''}`);
  }
  // recorded before anything else can fail, so `down` knows the dockerd is ours
  writeState({ ...(previous ?? { version: STATE_VERSION, dir, service: options.service ?? DEMO_SERVICE, appPort: options.appPort ?? (await freePort()) }), dir, dockerd });
  const images = await ensureBaseImages();
  lines.push(`base images   ${images.busybox}, ${images.node} (docker import, no registry)`);
  const proxy = await ensureProxyImageReport();
  lines.push(`proxy image   ${proxy.tag} (Debian's haproxy ${proxy.haproxy}, ${proxy.made ? 'imported now' : 'kept'}; %deploy uses it through OPSBOOK_PROXY_IMAGE)`);
  const context = await prepareSampleApp();
  lines.push(`sample app    build context ${context} (node_modules installed)`);
  const servers = await upServers({ ...options, dir });
  return { state: servers.state, lines: [...lines, ...servers.lines] };
}

async function containersOf(service: string): Promise<string[]> {
  const { stdout } = await docker(['ps', '-aq', '--filter', `label=opsbook.service=${service}`], 30_000);
  return stdout.split('\n').map((id) => id.trim()).filter((id) => id !== '');
}

/** The service's network (the proxy and its versions sit on it), labelled like its containers. */
async function networksOf(service: string): Promise<string[]> {
  const { stdout } = await docker(['network', 'ls', '-q', '--filter', `label=opsbook.service=${service}`], 30_000);
  return stdout.split('\n').map((id) => id.trim()).filter((id) => id !== '');
}

/** Stops what `up` started: Prometheus, the Pushgateway, the demo service's containers, dockerd if `up` started it. */
export async function stackDown(dir = stackDir()): Promise<string[]> {
  const state = readState(dir);
  if (!state) return [`nothing recorded in ${stateFile(dir)}: nothing to stop`];
  const stopped = await downServers(state);
  if (state.dockerd || (await engineAnswers())) {
    try {
      const ids = await containersOf(state.service);
      if (ids.length > 0) await docker(['rm', '-f', '-v', ...ids], 60_000);
      const networks = await networksOf(state.service);
      if (networks.length > 0) await docker(['network', 'rm', ...networks], 30_000);
      stopped.push(`containers of ${state.service} (label opsbook.service=${state.service}, its proxy included): ${ids.length} removed, ${networks.length} network(s)`);
    } catch (error) {
      stopped.push(`containers of ${state.service}: not removed (${(error as Error).message.split('\n')[0]})`);
    }
  }
  if (state.dockerd) {
    if (isOurProcess(state.dockerd.pid, DOCKERD_BIN, [])) {
      const how = await stopPid(state.dockerd.pid, DOCKERD_STOP_TIMEOUT_MS);
      stopped.push(`dockerd (pid ${state.dockerd.pid}, started by \`up\`) ${how}`);
    } else {
      stopped.push(`dockerd (pid ${state.dockerd.pid}) was not running`);
    }
    state.dockerd = undefined;
    writeState(state);
  }
  return stopped;
}

async function engineAnswers(): Promise<boolean> {
  try {
    await docker(['info', '--format', '{{.ServerVersion}}'], 5000);
    return true;
  } catch {
    return false;
  }
}

/** One line per part: running or not, URL, pid. */
export async function stackStatus(dir = stackDir()): Promise<string[]> {
  const state = readState(dir);
  if (!state) return [`no stack recorded in ${stateFile(dir)} (run: node dist/notebooks/stack/stack.js up)`];
  const lines: string[] = [`state         ${stateFile(dir)}`];
  const engine = await engineAnswers();
  lines.push(`docker engine ${engine ? 'answering' : 'NOT answering'}${state.dockerd ? ` (dockerd pid ${state.dockerd.pid} started by \`up\`${isOurProcess(state.dockerd.pid, DOCKERD_BIN, []) ? '' : ', gone'})` : ''}`);
  const show = async (name: string, record: ServerRecord | undefined, command: ServerCommand): Promise<void> => {
    if (!record) lines.push(`${name.padEnd(13)} not started`);
    else lines.push(`${name.padEnd(13)} ${record.url}  ${(await serverAlive(record, command)) ? `running (pid ${record.pid})` : 'NOT running'}`);
  };
  await show('pushgateway', state.pushgateway, pushgatewayIn(dir));
  await show('prometheus', state.prometheus, prometheusIn(dir));
  const app = await httpStatus(`http://127.0.0.1:${state.appPort}/`);
  lines.push(`sample app    127.0.0.1:${state.appPort}  ${app === 0 ? 'not answering (deploy it with notebooks/deploy-and-monitor.ipynb)' : `answering (HTTP ${app})`}`);
  if (engine) {
    const ids = await containersOf(state.service).catch(() => []);
    lines.push(`containers    ${ids.length} labelled opsbook.service=${state.service}`);
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------------------------
// CLI

async function main(argv: string[]): Promise<number> {
  const command = argv[0];
  const dir = stackDir();
  if (command === 'up') {
    const { state, lines } = await stackUp({ dir, service: process.env.OPSBOOK_SERVICE || undefined });
    process.stderr.write(`opsbook stack (state ${stateFile(dir)})\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
    // stdout carries only the export line, so `eval "$(node dist/notebooks/stack/stack.js up)"` sets the variables
    process.stdout.write(`${exportLine(state)}\n`);
    return 0;
  }
  if (command === 'down') {
    const lines = await stackDown(dir);
    process.stdout.write(`opsbook stack down (state ${stateFile(dir)})\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
    return 0;
  }
  if (command === 'status') {
    const lines = await stackStatus(dir);
    process.stdout.write(`${lines.join('\n')}\n`);
    const state = readState(dir);
    if (state?.prometheus) process.stdout.write(`${exportLine(state)}\n`);
    return 0;
  }
  process.stderr.write('usage: node dist/notebooks/stack/stack.js up|down|status   (state folder: $OPSBOOK_STACK_DIR, else ${XDG_STATE_HOME:-~/.local/state}/opsbook)\n');
  return 2;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: Error) => {
      process.stderr.write(`stack: ${error.message}\n`);
      process.exit(1);
    },
  );
}
