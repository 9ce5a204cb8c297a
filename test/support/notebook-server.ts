// Debian's classic Jupyter Notebook server (6.4, `/usr/bin/python3 -m notebook`) for the browser suite: started
// on 127.0.0.1 on a free port with a random token and no browser, inside an isolated Jupyter (jupyter-env.ts), so it
// sees only the kernelspec the test installed. Also a GET helper for its REST API (token in the header), and a stop
// that ends the server and then checks that none of the kernels it started outlived it.
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { Jupyter, PYTHON, processesMentioning } from './jupyter-env';
import { freePort } from './kernel-process';
import { captureLog } from './child-log';

/** The Debian package that provides `python3 -m notebook` (classic Notebook 6). */
export const NOTEBOOK_APT = 'apt-get install -y --no-install-recommends jupyter-notebook python3-notebook';

export interface NotebookServer {
  /** http://127.0.0.1:PORT (no trailing slash). */
  url: string;
  port: number;
  token: string;
  /** The folder the server shows (its --notebook-dir). */
  notebookDir: string;
  /** The page of a notebook (path relative to notebookDir), token included. */
  notebookUrl(relativePath: string): string;
  /** GET a REST path (e.g. /api/kernelspecs) with the token; throws unless the answer is 200 JSON. */
  api<T>(apiPath: string): Promise<T>;
  /** Everything the server wrote so far (the last 256 KiB). */
  logs(): string;
  /** The server's pid (a process group leader: started detached). */
  pid: number;
  /**
   * SIGTERM (the server shuts its kernels down), SIGKILL to the group after 10 s, then waits up to 10 s for every
   * process started under the isolated Jupyter's folder to end. Returns the command lines of those still alive
   * (then killed), so a caller can fail on orphans. Safe to call more than once.
   */
  stop(): Promise<string[]>;
}

export interface StartNotebookServerOptions {
  jupyter: Jupyter;
  notebookDir: string;
  /** Added to the isolated Jupyter's environment (e.g. PROMETHEUS_URL, which the kernels inherit). */
  env?: NodeJS.ProcessEnv;
  /**
   * The only kernelspecs the server lists (KernelSpecManager.allowed_kernelspecs); default ["opsbook"], which also
   * hides the python3 kernel that jupyter_client adds wherever ipykernel is importable.
   */
  kernels?: string[];
  /** How long to wait for /api/status; default 30 s. */
  readyTimeoutMs?: number;
  /** More command-line options, e.g. `--NotebookApp.extra_static_paths=[...]` for a page served from /static/. */
  extraArgs?: string[];
}

const START_ATTEMPTS = 3;
/** Servers not stopped yet, killed (as a group) if the test process exits without stop(). */
const running = new Set<ChildProcess>();
process.once('exit', () => running.forEach((child) => killGroup(child, 'SIGKILL')));

/** Why the classic Notebook server cannot run here (with the apt command that fixes it), or undefined when it can. */
export function notebookServerProblem(): string | undefined {
  if (!existsSync(PYTHON)) return `${PYTHON} is missing: ${NOTEBOOK_APT}`;
  const r = spawnSync(PYTHON, ['-c', 'import notebook, notebook.notebookapp; print(notebook.__version__)'], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) return `the classic Notebook server does not load (${PYTHON} -m notebook): ${NOTEBOOK_APT}\n${`${r.stderr ?? ''}`.trim().split('\n').slice(-3).join('\n')}`;
  const version = r.stdout.trim();
  if (Number(version.split('.')[0]) !== 6) return `${PYTHON} -m notebook is version ${version}, not the classic Notebook 6 this suite drives: ${NOTEBOOK_APT}`;
  return undefined;
}

export async function startNotebookServer(options: StartNotebookServerOptions): Promise<NotebookServer> {
  const token = randomBytes(24).toString('hex');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const { server, child } = launch(options, port, token);
    try {
      await waitReady(server, child, options.readyTimeoutMs ?? 30_000);
      return server;
    } catch (error) {
      await server.stop();
      if (attempt >= START_ATTEMPTS || !/already in use/i.test(server.logs())) throw error;
    }
  }
}

function launch(options: StartNotebookServerOptions, port: number, token: string): { server: NotebookServer; child: ChildProcess } {
  const args = [
    '-m', 'notebook',
    '--no-browser',
    '--ip=127.0.0.1',
    `--port=${port}`,
    '--port-retries=0',
    `--notebook-dir=${options.notebookDir}`,
    '--NotebookApp.terminals_enabled=False',
    ...(options.kernels ?? ['opsbook']).map((name) => `--KernelSpecManager.allowed_kernelspecs=${name}`),
    ...(options.extraArgs ?? []),
  ];
  if (process.getuid?.() === 0) args.push('--allow-root');
  // the token goes through the environment, not the command line other users could read in ps
  const env: NodeJS.ProcessEnv = { ...options.jupyter.env, ...options.env, JUPYTER_TOKEN: token };
  const child = spawn(PYTHON, args, { cwd: options.notebookDir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  running.add(child);
  const log = captureLog(child);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (error) => {
      log.note(`could not start ${PYTHON} -m notebook: ${error.message}`);
      resolve();
    });
  });
  exited.then(() => running.delete(child), () => undefined);
  const url = `http://127.0.0.1:${port}`;
  let stopped: Promise<string[]> | undefined;
  const server: NotebookServer = {
    url,
    port,
    token,
    notebookDir: options.notebookDir,
    pid: child.pid ?? -1,
    logs: log.text,
    notebookUrl: (relativePath) => `${url}/notebooks/${relativePath.split('/').map(encodeURIComponent).join('/')}?token=${token}`,
    api: <T>(apiPath: string) => getJson<T>(`${url}${apiPath}`, token),
    stop: () => (stopped ??= stop(child, exited, options.jupyter.root)),
  };
  return { server, child };
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

async function stop(child: ChildProcess, exited: Promise<void>, jupyterRoot: string): Promise<string[]> {
  if (child.exitCode === null && child.signalCode === null) {
    killGroup(child, 'SIGTERM');
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  // The kernels run in their own sessions (jupyter_client starts them with start_new_session): they end by the
  // server's shutdown_request, or by themselves once their parent is gone. Anything left after that is an orphan.
  const deadline = Date.now() + 10_000;
  let left = processesMentioning(jupyterRoot);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    left = processesMentioning(jupyterRoot);
  }
  const orphans: string[] = [];
  for (const pid of left) {
    orphans.push(`pid ${pid}: ${commandLine(pid)}`);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // ended meanwhile
    }
  }
  return orphans;
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '(gone)';
  }
}

async function waitReady(server: NotebookServer, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null || !running.has(child)) throw new Error(`the Notebook server exited before ${server.url}/api/status answered; its log:\n${tail(server.logs())}`);
    try {
      await server.api<unknown>('/api/status');
      return;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the Notebook server at ${server.url} did not answer /api/status within ${timeoutMs} ms (last: ${last}); its log:\n${tail(server.logs())}`);
}

function getJson<T>(url: string, token: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { Authorization: `token ${token}` }, timeout: 5000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        if (response.statusCode !== 200) return reject(new Error(`GET ${url}: HTTP ${response.statusCode}: ${body.slice(0, 300)}`));
        try {
          resolve(JSON.parse(body) as T);
        } catch (error) {
          reject(new Error(`GET ${url}: not JSON (${(error as Error).message}): ${body.slice(0, 300)}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within 5 s`)));
    req.on('error', reject);
    req.end();
  });
}

function tail(text: string, lines = 40): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
