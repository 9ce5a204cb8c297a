// A client that keeps asking a service on loopback while something happens to it (a deploy, a rollback): requests
// back to back (or with a pause), each on a fresh connection, counting those that did not get a 200. A slow answer on
// a busy 2-core machine is not an outage: only refused, reset, non-200 or silent for the request timeout counts.
// Every loop is bounded in count and time, so a stuck stop() cannot leave it running.
import * as http from 'node:http';

export interface Answer {
  /** 0 when the request was refused, reset or timed out. */
  status: number;
  body: string;
}

/** GET http://127.0.0.1:<port><path> on a new connection; never rejects. */
export function get(port: number, path = '/', timeoutMs = 5000): Promise<Answer> {
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
  /** How many answers had each status (0: refused, reset or timed out), for loops that expect some non-200s. */
  byStatus: Map<number, number>;
  /** How many 200 answers each body (trimmed) got: the share each version answered. */
  byBody: Map<string, number>;
  /** The distinct bodies of the 200 answers (trimmed): which versions answered. */
  bodies: Set<string>;
  /** When (Date.now()) each body was first answered: the moment a new version started serving. */
  firstAt: Map<string, number>;
  /** The first few failures, "status 503 at +1234 ms", for an assertion's message. */
  failures: string[];
  /** Whether the loop ended on its own bound (count or time) rather than stop(). */
  bounded: boolean;
  /** How long the loop ran. */
  ms: number;
}

const FAILURES_KEPT = 10;

export interface LoopOptions {
  /** Pause between requests (0: back to back). Default 5 ms. */
  pauseMs?: number;
  /** The loop ends by itself after this many requests. Default 200,000. */
  maxRequests?: number;
  /** … or after this long. Default 10 minutes. */
  maxMs?: number;
  /** Per request. Default 5 s. */
  timeoutMs?: number;
  path?: string;
}

export interface RequestLoop {
  /** The counts so far (live). */
  readonly stats: LoopStats;
  /** Resolves once stats.total reaches n (or the loop ended by its bounds). */
  reached(n: number): Promise<void>;
  /** Stops the loop and resolves to its counts once the request in flight ended. */
  stop(): Promise<LoopStats>;
}

/** Requests to 127.0.0.1:<port> in a loop until stopped (or its bounds are reached). */
export function requestLoop(port: number, options: LoopOptions = {}): RequestLoop {
  const pauseMs = options.pauseMs ?? 5;
  const maxRequests = options.maxRequests ?? 200_000;
  const deadline = Date.now() + (options.maxMs ?? 600_000);
  const started = Date.now();
  const stats: LoopStats = { total: 0, failed: 0, byStatus: new Map<number, number>(), byBody: new Map<string, number>(), bodies: new Set<string>(), firstAt: new Map<string, number>(), failures: [], bounded: false, ms: 0 };
  let running = true;
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const wake = (): void => {
    for (const w of [...waiters]) {
      if (stats.total >= w.n || !running) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  const loop = (async () => {
    while (running && stats.total < maxRequests && Date.now() < deadline) {
      const r = await get(port, options.path ?? '/', options.timeoutMs ?? 5000);
      stats.total += 1;
      stats.byStatus.set(r.status, (stats.byStatus.get(r.status) ?? 0) + 1);
      if (r.status === 200) stats.byBody.set(r.body.trim(), (stats.byBody.get(r.body.trim()) ?? 0) + 1);
      if (r.status !== 200) {
        stats.failed += 1;
        if (stats.failures.length < FAILURES_KEPT) stats.failures.push(`status ${r.status} at +${Date.now() - started} ms`);
      } else {
        const body = r.body.trim();
        stats.bodies.add(body);
        if (!stats.firstAt.has(body)) stats.firstAt.set(body, Date.now());
      }
      wake();
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
    stats.bounded = running;
    stats.ms = Date.now() - started;
    running = false;
    wake();
  })();
  return {
    stats,
    reached(n: number) {
      return new Promise<void>((resolve) => {
        waiters.push({ n, resolve });
        wake();
      });
    },
    async stop() {
      running = false;
      await loop;
      wake();
      return stats;
    },
  };
}
