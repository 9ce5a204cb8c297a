// The Prometheus HTTP API client of %promql: one request at a time, with a deadline, aborted at once by an
// interrupt, credentials taken from environment variables by name, and every failure turned into one line
// that names the URL and says what to check (connection refused, DNS, TLS, HTTP status, Prometheus's own
// errorType and error text, timeout). Queries are POSTed form-encoded, so long PromQL never hits URL limits.
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { MagicError } from '../../kernel/io/errors';
import { maskUrl, PrometheusSettings } from '../lib/notebook-config';

export interface PromSuccess {
  data: unknown;
  warnings: string[];
  infos: string[];
}

export interface PromRequest {
  /** API path under the server URL, e.g. `/api/v1/query_range`. */
  path: string;
  params: Record<string, string>;
  method?: 'GET' | 'POST';
  timeoutMs: number;
  signal: AbortSignal;
  /** Put in error messages so the user sees which query failed. */
  query?: string;
}

/** An answer bigger than this is refused: a runaway query must not exhaust the kernel's memory. */
const MAX_RESPONSE_BYTES = 512 * 1024 * 1024;

/** Raised when the cell was interrupted while the request was in flight. */
export class RequestAborted extends Error {
  override name = 'KeyboardInterrupt';
  constructor() {
    super('interrupted by the user');
  }
}

function authorization(settings: PrometheusSettings, env: NodeJS.ProcessEnv): string | undefined {
  const need = (name: string, what: string): string => {
    const value = env[name];
    if (!value) throw new MagicError(`environment variable ${name} (${what} for Prometheus) is not set`, `export ${name} before starting the kernel, or change %prometheus`);
    return value;
  };
  if (settings.bearerTokenEnv) return `Bearer ${need(settings.bearerTokenEnv, 'bearer token')}`;
  if (settings.basicAuthEnv) {
    const user = need(settings.basicAuthEnv.user, 'user');
    const password = need(settings.basicAuthEnv.password, 'password');
    return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  }
  return undefined;
}

/** One line for a failed connection: what happened and what to check. */
function networkError(e: NodeJS.ErrnoException, shownUrl: string, host: string): MagicError {
  const code = e.code ?? '';
  if (code === 'ECONNREFUSED') return new MagicError(`cannot connect to Prometheus at ${shownUrl} (connection refused)`, 'is Prometheus running there? check PROMETHEUS_URL or %prometheus <url>');
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new MagicError(`cannot resolve ${host} (DNS) for Prometheus at ${shownUrl}`, 'check the host name in PROMETHEUS_URL or %prometheus <url>');
  if (code === 'ECONNRESET' || /socket hang up/.test(e.message)) return new MagicError(`Prometheus at ${shownUrl} closed the connection before answering`, 'was it stopped or restarted? run the cell again when it is back');
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return new MagicError(`no route to Prometheus at ${shownUrl} (${code})`, 'check the network and the URL');
  if (/CERT|SSL|TLS|self.signed|certificate/i.test(`${code} ${e.message}`)) return new MagicError(`TLS failure talking to Prometheus at ${shownUrl}: ${e.message}`, 'trust its CA with %prometheus <url> --ca FILE (or --insecure to skip verification)');
  return new MagicError(`request to Prometheus at ${shownUrl} failed: ${e.message}`);
}

/** Prometheus's own error (errorType and error text, which carries line:col for parse errors) or the HTTP status. */
function httpError(status: number, statusText: string, body: string, shownUrl: string, query: string | undefined): MagicError {
  let parsed: { status?: unknown; errorType?: unknown; error?: unknown } | undefined;
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    parsed = undefined;
  }
  const forQuery = query ? `\nquery: ${query}` : '';
  if (parsed && parsed.status === 'error' && typeof parsed.error === 'string') {
    return new MagicError(`Prometheus ${typeof parsed.errorType === 'string' ? `${parsed.errorType} ` : ''}error: ${parsed.error}${forQuery}`, status >= 500 ? `the server at ${shownUrl} failed (HTTP ${status})` : undefined);
  }
  if (status === 401 || status === 403) {
    return new MagicError(`Prometheus at ${shownUrl} answered HTTP ${status} ${statusText}`, 'check the credentials: %prometheus <url> --bearer-token-env VAR or --basic-auth-env USER_VAR:PASS_VAR');
  }
  return new MagicError(`Prometheus at ${shownUrl} answered HTTP ${status} ${statusText}${forQuery}`, status === 404 ? 'is this the Prometheus base URL (no /api/v1 at the end)?' : undefined);
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** Sends one API request and resolves with its `data`, `warnings` and `infos`; rejects with MagicError. */
export function promRequest(settings: PrometheusSettings, request: PromRequest, env: NodeJS.ProcessEnv = process.env): Promise<PromSuccess> {
  if (!settings.url) {
    return Promise.reject(new MagicError('no Prometheus configured', 'set PROMETHEUS_URL before starting the kernel, or run %prometheus http://host:9090'));
  }
  const base = new URL(settings.url);
  const shownUrl = maskUrl(settings.url);
  const url = new URL(`${base.pathname.replace(/\/+$/, '')}${request.path}`, base);
  const form = new URLSearchParams(request.params).toString();
  const method = request.method ?? 'POST';
  if (method === 'GET') url.search = form;
  const headers: http.OutgoingHttpHeaders = { Accept: 'application/json', 'User-Agent': 'opsbook' };
  let auth: string | undefined;
  try {
    auth = authorization(settings, env);
  } catch (e) {
    return Promise.reject(e);
  }
  if (auth) headers.Authorization = auth;
  else if (base.username) headers.Authorization = `Basic ${Buffer.from(`${decodeURIComponent(base.username)}:${decodeURIComponent(base.password)}`).toString('base64')}`;
  if (method === 'POST') {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    headers['Content-Length'] = Buffer.byteLength(form);
  }
  const tls: https.RequestOptions = {};
  if (url.protocol === 'https:') {
    if (settings.caFile) {
      try {
        tls.ca = readFileSync(settings.caFile);
      } catch (e) {
        return Promise.reject(new MagicError(`cannot read the CA file ${settings.caFile}: ${(e as Error).message}`));
      }
    }
    if (settings.insecure) tls.rejectUnauthorized = false;
  }

  return new Promise<PromSuccess>((resolve, reject) => {
    if (request.signal.aborted) return reject(new RequestAborted());
    let settled = false;
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      request.signal.removeEventListener('abort', onAbort);
      outcome();
    };
    const transport = url.protocol === 'https:' ? https : http;
    const req = transport.request(url, { method, headers, ...tls, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) {
          req.destroy();
          finish(() => reject(new MagicError(`the answer from Prometheus at ${shownUrl} is over ${MAX_RESPONSE_BYTES / 1024 / 1024} MiB`, 'narrow the query (fewer series) or use a larger --step')));
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', (e: NodeJS.ErrnoException) => finish(() => reject(networkError(e, shownUrl, url.hostname))));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        if (status < 200 || status >= 300) return finish(() => reject(httpError(status, res.statusMessage ?? '', body, shownUrl, request.query)));
        let parsed: { status?: unknown; data?: unknown; warnings?: unknown; infos?: unknown };
        try {
          parsed = JSON.parse(body) as typeof parsed;
        } catch {
          return finish(() => reject(new MagicError(`Prometheus at ${shownUrl} answered something that is not JSON`, 'is this URL a Prometheus server?')));
        }
        if (parsed.status !== 'success') return finish(() => reject(httpError(status, res.statusMessage ?? '', body, shownUrl, request.query)));
        finish(() => resolve({ data: parsed.data, warnings: strings(parsed.warnings), infos: strings(parsed.infos) }));
      });
    });
    req.on('error', (e: NodeJS.ErrnoException) => finish(() => reject(networkError(e, shownUrl, url.hostname))));
    const onAbort = () => {
      req.destroy();
      finish(() => reject(new RequestAborted()));
    };
    request.signal.addEventListener('abort', onAbort, { once: true });
    const deadline = setTimeout(() => {
      req.destroy();
      finish(() => reject(new MagicError(`Prometheus at ${shownUrl} did not answer within ${request.timeoutMs / 1000} s`, 'is it overloaded or unreachable? pass --timeout 60s to wait longer, or narrow the query')));
    }, request.timeoutMs);
    if (method === 'POST') req.end(form);
    else req.end();
  });
}
