// HTTP requests to a service under test, on loopback only (127.0.0.1: a test never sends load anywhere else): one GET,
// and a request loop that runs while a deploy happens and counts what did not get a 200. Every loop is bounded by a
// request count AND a time limit, so a test that forgets to stop one (or a service that hangs) cannot run forever.
import * as http from 'node:http';

export interface Answer {
  /** The HTTP status, 0 when the request was refused, reset or timed out. */
  status: number;
  body: string;
}

/** Only refused, reset or this long silent counts as a failure: a slow answer on a busy 2-core machine is not. */
const REQUEST_TIMEOUT_MS = 5000;

/** One GET of `path` on 127.0.0.1:`port`, a fresh connection each time (no keep-alive pinning one version). */
export function get(port: number, path = '/', timeoutMs = REQUEST_TIMEOUT_MS): Promise<Answer> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve({ status: 0, body }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0, body: '' }));
  });
}

export interface LoopStats {
  total: number;
  failed: number;
  /** The bodies of the 200 answers (trimmed), each once: which versions answered. */
  bodies: Set<string>;
  /** The first few failures, "status 503 at +1234 ms", for the assertion message. */
  failures: string[];
  /** Whether the loop ended on its own bound (count or time) rather than stop(). */
  bounded: boolean;
  ms: number;
}

export interface RequestLoop {
  stop(): Promise<LoopStats>;
}

export interface LoopOptions {
  path?: string;
  /** Stops after this many requests (default 20,000). */
  maxRequests?: number;
  /** Stops after this long (default 180 s). */
  maxMs?: number;
  /** Pause between requests (default 5 ms). */
  pauseMs?: number;
}

const FAILURES_KEPT = 10;

/** Requests one after another on 127.0.0.1:`port` until stop(), or the count or time bound. */
export function requestLoop(port: number, options: LoopOptions = {}): RequestLoop {
  const maxRequests = options.maxRequests ?? 20_000;
  const maxMs = options.maxMs ?? 180_000;
  const pauseMs = options.pauseMs ?? 5;
  let running = true;
  const started = Date.now();
  const stats: LoopStats = { total: 0, failed: 0, bodies: new Set<string>(), failures: [], bounded: false, ms: 0 };
  const loop = (async () => {
    while (running) {
      if (stats.total >= maxRequests || Date.now() - started >= maxMs) {
        stats.bounded = true;
        break;
      }
      const r = await get(port, options.path);
      stats.total += 1;
      if (r.status !== 200) {
        stats.failed += 1;
        if (stats.failures.length < FAILURES_KEPT) stats.failures.push(`status ${r.status} at +${Date.now() - started} ms`);
      } else stats.bodies.add(r.body.trim());
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
    stats.ms = Date.now() - started;
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return stats;
    },
  };
}
