// A seamless reload of the proxy, confirmed. The configuration is checked first (`haproxy -c` through exec) and
// only then replaces haproxy.cfg; SIGUSR2 goes through the Docker API; the master's own verdict ("Loading success."
// or "Loading failure!") is read from the container's log after a cursor taken on the engine's clock (a bad
// configuration still "succeeds" as a signal: the old worker simply keeps serving); finally the runtime API must
// report the new configuration's generation, so the answer comes from the new worker. A failed load puts the
// previous file back, so a restarted proxy routes as the running one does.
import type Docker from 'dockerode';
import { putFiles, readFile } from './archive';
import { CONFIG_DIR, CONFIG_FILE } from './config';
import { checkConfig, runningDescription } from './runtime';

const NEXT_FILE = 'opsbook-next.cfg';
const POLL_MS = 50;
const LOADING_TIMEOUT_MS = 20_000;
const GENERATION_TIMEOUT_MS = 10_000;

/** A configuration HAProxy refused: before the reload (`haproxy -c`) or at it (the master's log). */
export class ProxyConfigError extends Error {
  constructor(message: string, readonly details: string[]) {
    super(message);
  }
}

export interface ReloadOutcome {
  /** From SIGUSR2 to the new worker answering with the new generation. */
  ms: number;
  /** Where the time went: check (write + haproxy -c), write, signal-to-verdict, verdict-to-new-worker (ms). */
  steps: Record<string, number>;
}

/** A docker log timestamp (RFC 3339 with up to 9 decimals) as nanoseconds since the epoch. */
export function timestampNs(stamp: string): bigint {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(stamp);
  if (!m) return 0n;
  return BigInt(Date.parse(`${m[1]}Z`)) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** The text of a non-TTY log: frames of [stream, 0, 0, 0, size (4 bytes)] + payload, stdout and stderr together. */
function framesText(raw: Buffer): string {
  const parts: Buffer[] = [];
  let at = 0;
  while (at + 8 <= raw.length && raw[at] <= 2 && raw[at + 1] === 0) {
    const size = raw.readUInt32BE(at + 4);
    parts.push(raw.subarray(at + 8, at + 8 + size));
    at += 8 + size;
  }
  if (at < raw.length) parts.push(raw.subarray(at)); // not framed (a TTY container): the rest as is
  return Buffer.concat(parts).toString('utf8');
}

/** The container's log lines (stdout and stderr) with their engine timestamps, from `sinceNs` (whole second) on. */
async function logLines(container: Docker.Container, options: { sinceNs?: bigint; tail?: number }): Promise<Array<{ ns: bigint; text: string }>> {
  const since = options.sinceNs !== undefined ? Number(options.sinceNs / 1_000_000_000n) : 0;
  const raw = (await container.logs({ stdout: true, stderr: true, timestamps: true, follow: false, since, ...(options.tail !== undefined ? { tail: options.tail } : {}) })) as unknown as Buffer;
  const text = framesText(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw)));
  return text.split('\n').filter((l) => l !== '').map((l) => {
    const space = l.indexOf(' ');
    return { ns: timestampNs(l.slice(0, space)), text: l.slice(space + 1) };
  });
}

/** The engine timestamp of the last log line: lines after it are what the next reload caused. */
async function logCursor(container: Docker.Container): Promise<bigint> {
  const last = await logLines(container, { tail: 1 });
  return last[0]?.ns ?? 0n;
}

/** Waits for the master's verdict on the reload signalled after `cursor`. */
async function loadingVerdict(container: Docker.Container, cursor: bigint): Promise<{ ok: boolean; lines: string[] }> {
  const deadline = Date.now() + LOADING_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const lines = (await logLines(container, { sinceNs: cursor })).filter((l) => l.ns > cursor).map((l) => l.text);
    const verdict = lines.findIndex((l) => /Loading (success\.|failure!)/.test(l));
    if (verdict >= 0) return { ok: /Loading success\./.test(lines[verdict]), lines: lines.slice(0, verdict + 1) };
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  throw new Error(`the proxy did not report loading its configuration within ${LOADING_TIMEOUT_MS / 1000} s of the reload signal`);
}

/** Waits until the runtime API answers with the configuration's description (the new worker took over). */
async function awaitDescription(container: Docker.Container, description: string): Promise<void> {
  const deadline = Date.now() + GENERATION_TIMEOUT_MS;
  let seen = '';
  while (Date.now() < deadline) {
    seen = await runningDescription(container).catch(() => '');
    if (seen === description) return;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  throw new Error(`the proxy loaded its configuration but still answers as "${seen}", not "${description}"`);
}

/**
 * Replaces the proxy's configuration with `text` and reloads it, confirmed. `precheck: false` skips `haproxy -c`
 * (only for tests of the log-based detection). Throws ProxyConfigError when HAProxy refuses the text; the running
 * worker and the file keep the previous configuration then.
 */
export async function reloadWith(container: Docker.Container, text: string, options: { precheck?: boolean } = {}): Promise<ReloadOutcome> {
  const steps: Record<string, number> = {};
  let mark = Date.now();
  const step = (name: string) => {
    steps[name] = Date.now() - mark;
    mark = Date.now();
  };
  if (options.precheck !== false) {
    await putFiles(container, CONFIG_DIR, { [NEXT_FILE]: text });
    const errors = await checkConfig(container, `${CONFIG_DIR}/${NEXT_FILE}`);
    if (errors.length > 0) throw new ProxyConfigError(`HAProxy refused the new configuration (nothing was reloaded): ${errors[0]}`, errors);
    step('check');
  }
  const previous = await readFile(container, `${CONFIG_DIR}/${CONFIG_FILE}`);
  await putFiles(container, CONFIG_DIR, { [CONFIG_FILE]: text });
  const cursor = await logCursor(container);
  step('write');
  const started = Date.now();
  await container.kill({ signal: 'SIGUSR2' });
  const verdict = await loadingVerdict(container, cursor);
  step('loaded');
  if (!verdict.ok) {
    if (previous !== undefined) await putFiles(container, CONFIG_DIR, { [CONFIG_FILE]: previous });
    const alerts = verdict.lines.filter((l) => l.includes('[ALERT]'));
    throw new ProxyConfigError(`the proxy refused the new configuration at reload and keeps serving the previous one: ${alerts[0] ?? 'Loading failure!'}`, alerts.length > 0 ? alerts : verdict.lines);
  }
  const description = /^\s*description\s+(\S+)/m.exec(text)?.[1];
  if (description) await awaitDescription(container, description);
  step('confirmed');
  return { ms: Date.now() - started, steps };
}
