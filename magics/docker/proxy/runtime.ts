// HAProxy's runtime API, reached through the Docker API alone (so over unix://, tcp:// and ssh:// alike, with no
// network path from the kernel to the proxy): an exec of the proxy's own haproxy binary with a tiny configuration
// whose Lua task connects to the runtime API on the container's loopback, sends one command and prints the answer.
// No shell and no other tool is needed in the image, so the official haproxy image works the same (it has Lua).
// Also `haproxy -c` through exec, to check a configuration before a reload, and the server states as HAProxy sees
// them (`show stat`): which version is up, its weight, its last check, its traffic.
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { CONFIG_DIR, RUNTIME_API_PORT, versionOfServer } from './config';

export const PROBE_CONFIG = 'opsbook-probe.cfg';
export const PROBE_LUA = 'opsbook-probe.lua';

/** The probe's Lua task: one runtime API command from $OPSBOOK_CLI, its answer on stdout, then exit. */
export const PROBE_LUA_TEXT = `-- opsbook: sends one command to the runtime API of the proxy in this container, prints the answer, exits
core.register_task(function()
  local s = core.tcp()
  s:settimeout(5)
  local ok, err = s:connect("127.0.0.1", ${RUNTIME_API_PORT})
  if not ok then
    io.stderr:write("runtime API: " .. tostring(err) .. "\\n")
    os.exit(2)
  end
  s:send(os.getenv("OPSBOOK_CLI") .. "\\n")
  local answer = s:receive("*a")
  io.stdout:write(answer or "")
  io.stdout:flush()
  os.exit(0)
end)
`;

/** The probe instance: HAProxy needs one listener, an abstract socket named per call so probes never collide. */
export const PROBE_CONFIG_TEXT = `# opsbook: a one-shot HAProxy that runs ${PROBE_LUA} (never the proxy itself)
global
  lua-load ${CONFIG_DIR}/${PROBE_LUA}
defaults
  mode tcp
  timeout connect 1s
  timeout client 1s
  timeout server 1s
listen probe
  bind "abns@opsbook-probe-\${OPSBOOK_PROBE}"
`;

const EXEC_TIMEOUT_MS = 15_000;

export class ProxyRuntimeError extends Error {}

export interface ExecOutcome {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs a command in the container (no shell: argv as given), collecting its output and exit code. */
export async function execIn(container: Docker.Container, cmd: string[], env: string[] = []): Promise<ExecOutcome> {
  const exec = await container.exec({ Cmd: cmd, Env: env, AttachStdout: true, AttachStderr: true, Tty: false });
  const stream = await exec.start({ hijack: true, stdin: false });
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  stdout.on('data', (c: Buffer) => chunks.stdout.push(c));
  stderr.on('data', (c: Buffer) => chunks.stderr.push(c));
  container.modem.demuxStream(stream, stdout, stderr);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      (stream as unknown as { destroy?: () => void }).destroy?.();
      reject(new ProxyRuntimeError(`${cmd.join(' ')} in the proxy did not finish within ${EXEC_TIMEOUT_MS / 1000} s`));
    }, EXEC_TIMEOUT_MS);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    stream.on('end', done);
    stream.on('close', done);
    stream.on('error', (e: Error) => {
      clearTimeout(timer);
      reject(e);
    });
  });
  let info = await exec.inspect();
  for (let i = 0; info.Running && i < 50; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    info = await exec.inspect();
  }
  return { exitCode: info.ExitCode ?? -1, stdout: Buffer.concat(chunks.stdout).toString('utf8'), stderr: Buffer.concat(chunks.stderr).toString('utf8') };
}

/** One runtime API command (`show stat`, `show info`, `set weight be/srv 10`, ...) and its answer. */
export async function runtimeApi(container: Docker.Container, command: string): Promise<string> {
  const probeId = `${process.pid}-${Date.now()}-${Math.floor(Math.random() * 1e9)}`;
  const r = await execIn(container, ['haproxy', '-db', '-f', `${CONFIG_DIR}/${PROBE_CONFIG}`], [`OPSBOOK_PROBE=${probeId}`, `OPSBOOK_CLI=${command}`]);
  if (r.exitCode !== 0) {
    const why = r.stderr.split('\n').filter((l) => /ALERT|runtime API/.test(l)).join(' / ') || `exit ${r.exitCode}`;
    throw new ProxyRuntimeError(`the proxy's runtime API did not answer "${command}": ${why}`);
  }
  return r.stdout;
}

/** `haproxy -c` on a file in the container: the configuration's errors (HAProxy's ALERT lines), or none. */
export async function checkConfig(container: Docker.Container, file: string): Promise<string[]> {
  const r = await execIn(container, ['haproxy', '-c', '-f', file]);
  if (r.exitCode === 0) return [];
  const alerts = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.includes('[ALERT]')).map((l) => l.replace(/^\[ALERT\]\s*\(\d+\)\s*:\s*/, '').trim());
  return alerts.length > 0 ? alerts : [`haproxy -c exited with ${r.exitCode}`];
}

/** One server of the proxy as HAProxy reports it. */
export interface ServerState {
  backend: string;
  server: string;
  /** The version part of the server's name. */
  version: string;
  /** UP, DOWN, MAINT, MAINT (resolution), DRAIN, NOLB, "UP 1/2" (going down) ... */
  status: string;
  weight: number;
  /** The weight set for it (configuration or runtime API), whatever its state: `weight` is the effective one. */
  userWeight: number;
  /** The last check's result: L4OK, L7OK, L4CON, L7STS, INI (no check yet), "" (checks off) ... */
  checkStatus: string;
  /** Up and its last check passed: the proxy itself has seen it answer (a new worker reports UP before any check). */
  healthy: boolean;
  /** Sessions open now and in total; HTTP 5xx answers; connection errors to it. */
  currentSessions: number;
  totalSessions: number;
  responses5xx: number;
  connectionErrors: number;
  /** Failed health checks since this worker started (a reload starts a new worker, and the count again). */
  failedChecks: number;
}

/** `show stat` CSV → one state per server (frontends and backend totals left out). */
export function parseServerStates(csv: string): ServerState[] {
  const lines = csv.split('\n').filter((l) => l.trim() !== '');
  const header = lines.shift()?.replace(/^#\s*/, '').split(',') ?? [];
  const col = (name: string) => header.indexOf(name);
  const at = (fields: string[], name: string) => fields[col(name)] ?? '';
  const states: ServerState[] = [];
  for (const line of lines) {
    const f = line.split(',');
    const server = at(f, 'svname');
    if (server === 'FRONTEND' || server === 'BACKEND' || at(f, 'pxname') === '') continue;
    const status = at(f, 'status');
    const checkStatus = at(f, 'check_status').replace(/^\* ?/, '');
    states.push({
      backend: at(f, 'pxname'),
      server,
      version: versionOfServer(server),
      status,
      weight: Number(at(f, 'weight') || 0),
      userWeight: Number(at(f, 'uweight') || at(f, 'weight') || 0),
      checkStatus,
      healthy: status === 'UP' && /^L[4-7]OK/.test(checkStatus),
      currentSessions: Number(at(f, 'scur') || 0),
      totalSessions: Number(at(f, 'stot') || 0),
      responses5xx: Number(at(f, 'hrsp_5xx') || 0),
      connectionErrors: Number(at(f, 'econ') || 0),
      failedChecks: Number(at(f, 'chkfail') || 0),
    });
  }
  return states;
}

/** Every server of the proxy as its running worker sees it now. */
export async function readServerStates(container: Docker.Container): Promise<ServerState[]> {
  return parseServerStates(await runtimeApi(container, 'show stat'));
}

/** The running worker's description (carries its configuration's generation) and server states, in one exec. */
export async function runtimeSnapshot(container: Docker.Container): Promise<{ description: string; states: ServerState[] }> {
  const answer = await runtimeApi(container, 'show info;show stat');
  const statAt = answer.search(/^# pxname,/m);
  const info = statAt >= 0 ? answer.slice(0, statAt) : answer;
  return { description: /^description:\s*(.*)$/m.exec(info)?.[1]?.trim() ?? '', states: statAt >= 0 ? parseServerStates(answer.slice(statAt)) : [] };
}

/** The description of the running worker's configuration (`show info`): carries the generation it loaded. */
export async function runningDescription(container: Docker.Container): Promise<string> {
  const info = await runtimeApi(container, 'show info');
  return /^description:\s*(.*)$/m.exec(info)?.[1]?.trim() ?? '';
}
