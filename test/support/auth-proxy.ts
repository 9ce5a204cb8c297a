// A loopback reverse proxy in front of a test Prometheus that demands Basic and/or Bearer credentials (401 with
// WWW-Authenticate otherwise) and can delay or never answer, for testing %promql's auth and timeout handling.
import { createServer, request as httpRequest, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AuthProxyOptions {
  /** Where to forward, e.g. a PrometheusHandle's url (a path prefix in it is kept). */
  target: string;
  /** Accept `Authorization: Basic base64(user:password)`. */
  basic?: { user: string; password: string };
  /** Accept `Authorization: Bearer <token>`. With neither basic nor bearer, every request is forwarded. */
  bearer?: string;
  /** Hold every request this long before answering it (401 or forwarded). */
  delayMs?: number;
  /** Accept every request and never answer (the connection stays open until stop()). */
  hang?: boolean;
  /**
   * Adds these to the `warnings` of every successful JSON answer (Prometheus 2.42 only warns with remote read,
   * which the tests do not run): the data still come from the real server.
   */
  injectWarnings?: string[];
}

export interface AuthProxy {
  /** http://127.0.0.1:PORT (no trailing slash). */
  url: string;
  /** Requests received so far (rejected, forwarded or hanging alike). */
  requests(): number;
  /** Requests that passed the credential check and were sent on to the target. */
  forwarded(): number;
  /** Closes every connection (hanging ones too) and the listener. */
  stop(): Promise<void>;
}

export async function startAuthProxy(options: AuthProxyOptions): Promise<AuthProxy> {
  const target = new URL(options.target);
  const pending = new Set<NodeJS.Timeout>();
  let received = 0;
  let forwarded = 0;
  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    if (!authorized(request.headers.authorization, options)) return challenge(response, options);
    forwarded++;
    forward(target, request, response, options.injectWarnings);
  };
  const server = createServer((request, response) => {
    received++;
    if (options.hang) return;
    if (!options.delayMs) return handle(request, response);
    const timer = setTimeout(() => {
      pending.delete(timer);
      handle(request, response);
    }, options.delayMs);
    pending.add(timer);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => received,
    forwarded: () => forwarded,
    stop: async () => {
      pending.forEach((timer) => clearTimeout(timer));
      pending.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function authorized(header: string | undefined, options: AuthProxyOptions): boolean {
  if (!options.basic && options.bearer === undefined) return true;
  if (!header) return false;
  if (options.basic) {
    const expected = 'Basic ' + Buffer.from(`${options.basic.user}:${options.basic.password}`).toString('base64');
    if (header === expected) return true;
  }
  return options.bearer !== undefined && header === `Bearer ${options.bearer}`;
}

function challenge(response: ServerResponse, options: AuthProxyOptions): void {
  const schemes: string[] = [];
  if (options.basic) schemes.push('Basic realm="opsbook-test", charset="UTF-8"');
  if (options.bearer !== undefined) schemes.push('Bearer realm="opsbook-test"');
  response.writeHead(401, { 'WWW-Authenticate': schemes, 'Content-Type': 'text/plain' });
  response.end('401 Unauthorized\n');
}

/** The answer with `warnings` added when it is a successful Prometheus JSON answer; as it was otherwise. */
function withWarnings(body: Buffer, warnings: string[]): Buffer {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { status?: unknown; warnings?: unknown };
    if (parsed.status !== 'success') return body;
    parsed.warnings = [...(Array.isArray(parsed.warnings) ? parsed.warnings : []), ...warnings];
    return Buffer.from(JSON.stringify(parsed));
  } catch {
    return body;
  }
}

function forward(target: URL, request: IncomingMessage, response: ServerResponse, injectWarnings?: string[]): void {
  const headers: OutgoingHttpHeaders = { ...request.headers, host: target.host };
  delete headers.authorization;
  const prefix = target.pathname.replace(/\/+$/, '');
  const upstream = httpRequest(
    { hostname: target.hostname, port: target.port, method: request.method, path: prefix + (request.url ?? '/'), headers },
    (answer) => {
      if (!injectWarnings) {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
        return;
      }
      const chunks: Buffer[] = [];
      answer.on('data', (c: Buffer) => chunks.push(c));
      answer.on('end', () => {
        const body = withWarnings(Buffer.concat(chunks), injectWarnings);
        const headers = { ...answer.headers, 'content-length': String(body.length) };
        delete headers['content-encoding'];
        delete headers['transfer-encoding'];
        response.writeHead(answer.statusCode ?? 502, headers);
        response.end(body);
      });
    },
  );
  upstream.on('error', (error) => {
    if (response.headersSent) return void response.destroy(error);
    response.writeHead(502, { 'Content-Type': 'text/plain' });
    response.end(`auth-proxy: upstream ${target.origin} failed: ${error.message}\n`);
  });
  request.pipe(upstream);
}
