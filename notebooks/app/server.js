// opsbook's sample service: a small HTTP server instrumented with prom-client, the thing the runbooks build,
// deploy, scrape and roll back. Routes: / (hello + version), /healthz, /metrics, /slow (50–300 ms; /slow?ms=N
// sleeps N ms, up to 120 s: a long in-flight request for drain and graceful-stop tests), /error (500).
// APP_UNHEALTHY=1 makes /healthz answer 500 while everything else keeps working, so only a health check notices.
// For deploy tests and demos of a version that goes bad after its gate: APP_FAIL_AFTER_MS=N makes /healthz answer
// 500 from N ms after start on (a version really failing), APP_FLAP_AT_MS=N makes the first /healthz after N ms
// answer 500 once (one missed check, which must not count as a failure). With APP_KNOB_CLOCK=traffic both count
// from the first request that is not /healthz or /metrics instead: behind a proxy that is the moment it switched
// to this version, however long the machine took to get there.
// For canary demos and tests of a version that is healthy but worse: APP_ERROR_RATE=R (0–1) answers 500 for that
// share of the requests to / and /slow (spread evenly: after n requests, floor(n·R) of them failed); /healthz and
// /metrics are never touched, so the version passes every health check. APP_LATENCY_MS=N answers every request to /
// N ms late (a slow version, healthy all the same).
// SERVICE_NAME, when set (the runbooks pass the %deploy service), labels every metric service="<name>", so a query
// can select the service whatever Prometheus job scrapes it.
// SIGTERM/SIGINT: stop accepting, let in-flight requests finish, exit (forced after SHUTDOWN_TIMEOUT_MS).
'use strict';
const http = require('node:http');
const client = require('prom-client');

const port = Number(process.env.PORT || 8080);
const version = process.env.APP_VERSION || require('./package.json').version;
const unhealthy = process.env.APP_UNHEALTHY === '1' || process.env.APP_UNHEALTHY === 'true';
const shutdownTimeoutMs = Number(process.env.SHUTDOWN_TIMEOUT_MS || 5000);
const serviceName = process.env.SERVICE_NAME || '';
const countsFromTraffic = process.env.APP_KNOB_CLOCK === 'traffic';
/** When the knobs' clock started: the process start, or (APP_KNOB_CLOCK=traffic) the first real request. */
let clockStart = countsFromTraffic ? undefined : Date.now();
const failAfterMs = process.env.APP_FAIL_AFTER_MS ? Number(process.env.APP_FAIL_AFTER_MS) : undefined;
let flapAtMs = process.env.APP_FLAP_AT_MS ? Number(process.env.APP_FLAP_AT_MS) : undefined;
const errorRate = Math.min(1, Math.max(0, Number(process.env.APP_ERROR_RATE || 0) || 0));
const latencyMs = Math.max(0, Number(process.env.APP_LATENCY_MS || 0) || 0);
/** Requests that APP_ERROR_RATE applies to, and how many of them were answered 500. */
let servedForRate = 0;
let failedForRate = 0;

/** Whether this request gets a 500 from APP_ERROR_RATE (an even spread, so a short test sees the rate at once). */
function failsByRate() {
  if (errorRate === 0) return false;
  servedForRate += 1;
  if (failedForRate < Math.floor(servedForRate * errorRate)) {
    failedForRate += 1;
    return true;
  }
  return false;
}

/** Whether /healthz answers 200 now: not when unhealthy, failing since APP_FAIL_AFTER_MS, or at the one flap. */
function healthy() {
  if (clockStart === undefined) return !unhealthy;
  const age = Date.now() - clockStart;
  if (unhealthy || (failAfterMs !== undefined && age >= failAfterMs)) return false;
  if (flapAtMs !== undefined && age >= flapAtMs) {
    flapAtMs = undefined;
    return false;
  }
  return true;
}

const registry = new client.Registry();
registry.setDefaultLabels({ app: 'opsbook-sample-app', version, ...(serviceName ? { service: serviceName } : {}) });
client.collectDefaultMetrics({ register: registry });
const requestsTotal = new client.Counter({
  name: 'http_requests_total',
  help: 'HTTP requests answered, by route and status code.',
  labelNames: ['route', 'code'],
  registers: [registry],
});
const requestDuration = new client.Histogram({
  name: 'http_request_duration_seconds',
  help: 'Time to answer an HTTP request, by route.',
  labelNames: ['route'],
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2.5],
  registers: [registry],
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** Set on SIGTERM/SIGINT: responses then carry `Connection: close` so keep-alive clients let go. */
let stopping = false;

/** The sleep of /slow: ?ms=N when given (0–SLOW_MAX_MS), else 50–300 ms at random. */
const SLOW_MAX_MS = 120000;
function slowMs(url) {
  const asked = Number(url.searchParams.get('ms'));
  if (url.searchParams.has('ms') && Number.isFinite(asked)) return Math.min(SLOW_MAX_MS, Math.max(0, Math.floor(asked)));
  return 50 + Math.floor(Math.random() * 251);
}

/** route → async handler (given the request's URL) returning [status, content type, body]. */
const routes = {
  '/': async () => [200, 'text/plain; charset=utf-8', `hello from opsbook-sample-app ${version}\n`],
  '/healthz': async () => (healthy() ? [200, 'text/plain', 'ok\n'] : [500, 'text/plain', 'unhealthy\n']),
  '/metrics': async () => [200, registry.contentType, await registry.metrics()],
  '/slow': async (url) => {
    const ms = slowMs(url);
    await sleep(ms);
    return [200, 'text/plain', `slept ${ms} ms\n`];
  },
  '/error': async () => [500, 'text/plain', 'internal error (on purpose)\n'],
};

async function handle(request, response) {
  const url = new URL(request.url || '/', 'http://localhost');
  const pathname = url.pathname;
  const route = Object.prototype.hasOwnProperty.call(routes, pathname) ? pathname : 'other';
  if (clockStart === undefined && route !== '/healthz' && route !== '/metrics') clockStart = Date.now();
  const stopTimer = requestDuration.startTimer({ route });
  let status = 500;
  let type = 'text/plain';
  let body = 'internal error\n';
  try {
    if (route === 'other') [status, body] = [404, 'not found\n'];
    else if ((route === '/' || route === '/slow') && failsByRate()) [status, body] = [500, 'internal error (APP_ERROR_RATE)\n'];
    else {
      if (route === '/' && latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs));
      [status, type, body] = await routes[route](url);
    }
  } catch (error) {
    console.error(`${pathname}: ${error && error.stack ? error.stack : error}`);
  }
  requestsTotal.inc({ route, code: String(status) });
  stopTimer();
  const headers = { 'content-type': type, 'content-length': Buffer.byteLength(body) };
  if (stopping) headers.connection = 'close';
  response.writeHead(status, headers);
  response.end(request.method === 'HEAD' ? undefined : body);
}

const server = http.createServer((request, response) => {
  handle(request, response);
});
server.keepAliveTimeout = 5000;

server.listen(port, () => {
  console.log(`opsbook-sample-app ${version} listening on :${port}${unhealthy ? ' (APP_UNHEALTHY: /healthz answers 500)' : ''}`);
});

function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: stopping, finishing in-flight requests`);
  // close() stops accepting and (Node ≥ 19) closes idle keep-alive connections; busy ones close after their response.
  server.close(() => {
    console.log('stopped');
    process.exit(0);
  });
  setTimeout(() => {
    console.error(`still busy after ${shutdownTimeoutMs} ms, exiting anyway`);
    server.closeAllConnections();
    process.exit(1);
  }, shutdownTimeoutMs).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
