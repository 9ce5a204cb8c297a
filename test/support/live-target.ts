// A live scrape target for a test Prometheus: a loopback HTTP server whose /metrics (prom-client, its own Registry)
// exposes a counter `opsbook_live_requests_total{code}` that grows on a timer and a gauge `opsbook_live_up` = 1.
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';

export interface LiveTargetOptions {
  /** How often the counter grows; default 100 ms (code="200" +1 every tick, code="500" +1 every 10th tick). */
  tickMs?: number;
}

export interface LiveTarget {
  /** "127.0.0.1:PORT", the form Prometheus' static_configs want. */
  hostPort: string;
  /** How many times /metrics was fetched (Prometheus scrapes every 1 s). */
  scrapes(): number;
  stop(): Promise<void>;
}

export async function startLiveTarget(options: LiveTargetOptions = {}): Promise<LiveTarget> {
  const registry = new Registry();
  const requests = new Counter({ name: 'opsbook_live_requests_total', help: 'Requests served by the opsbook live test target.', labelNames: ['code'], registers: [registry] });
  const up = new Gauge({ name: 'opsbook_live_up', help: 'Always 1 while the opsbook live test target runs.', registers: [registry] });
  up.set(1);
  let ticks = 0;
  const timer = setInterval(() => {
    ticks++;
    requests.inc({ code: '200' });
    if (ticks % 10 === 0) requests.inc({ code: '500' });
  }, options.tickMs ?? 100);
  timer.unref();

  let scrapes = 0;
  const server = createServer((request, response) => {
    if (request.url?.split('?')[0] !== '/metrics') return notFound(response);
    scrapes++;
    void serveMetrics(registry, request, response);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    hostPort: `127.0.0.1:${port}`,
    scrapes: () => scrapes,
    stop: async () => {
      clearInterval(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function serveMetrics(registry: Registry, _request: IncomingMessage, response: ServerResponse): Promise<void> {
  try {
    const body = await registry.metrics();
    response.writeHead(200, { 'Content-Type': registry.contentType });
    response.end(body);
  } catch (error) {
    response.writeHead(500, { 'Content-Type': 'text/plain' });
    response.end(error instanceof Error ? error.message : String(error));
  }
}

function notFound(response: ServerResponse): void {
  response.writeHead(404, { 'Content-Type': 'text/plain' });
  response.end('not found: try /metrics\n');
}
