// Unit tests of the %promql HTTP client against small loopback servers standing in for Prometheus (the real
// server is in test/integration/promql.test.ts): success, Prometheus's own errors, HTTP statuses, refused
// connections, timeouts, interrupts and credentials from environment variables.
import * as http from 'node:http';
import * as https from 'node:https';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { promRequest, RequestAborted } from '../../magics/promql/client';
import { MagicError } from '../../kernel/io/errors';
import type { PrometheusSettings } from '../../magics/lib/notebook-config';

type Handler = (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void;
const servers: http.Server[] = [];

async function serve(handler: Handler): Promise<string> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => handler(req, body, res));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

const settings = (url: string, more: Partial<PrometheusSettings> = {}): PrometheusSettings => ({ url, source: 'test', ...more });
const ask = (s: PrometheusSettings, more: { timeoutMs?: number; signal?: AbortSignal; env?: NodeJS.ProcessEnv } = {}) =>
  promRequest(s, { path: '/api/v1/query', params: { query: 'up' }, timeoutMs: more.timeoutMs ?? 2000, signal: more.signal ?? new AbortController().signal, query: 'up' }, more.env ?? {});

async function failure(p: Promise<unknown>): Promise<MagicError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(MagicError);
  return e as MagicError;
}

test('POSTs the query form-encoded and returns data, warnings and infos', async () => {
  let seen = '';
  const url = await serve((req, body, res) => {
    seen = `${req.method} ${req.url} ${body}`;
    res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [] }, warnings: ['w1'], infos: ['i1'] }));
  });
  const r = await ask(settings(url));
  expect(seen).toBe('POST /api/v1/query query=up');
  expect(r).toEqual({ data: { resultType: 'vector', result: [] }, warnings: ['w1'], infos: ['i1'] });
});

test("Prometheus's errorType and error text (with its line:col) and the query", async () => {
  const url = await serve((_req, _body, res) => {
    res.statusCode = 400;
    res.end(JSON.stringify({ status: 'error', errorType: 'bad_data', error: '1:6: parse error: unexpected end of input' }));
  });
  const e = await failure(ask(settings(url)));
  expect(e.message).toBe('Prometheus bad_data error: 1:6: parse error: unexpected end of input\nquery: up');
});

test('HTTP statuses: 401 says to check credentials, 502 names the URL', async () => {
  const url = await serve((req, _body, res) => {
    res.statusCode = req.headers.authorization ? 502 : 401;
    res.end('nope');
  });
  const e401 = await failure(ask(settings(url)));
  expect(e401.message).toBe(`Prometheus at ${url} answered HTTP 401 Unauthorized`);
  expect(e401.hint).toMatch(/--bearer-token-env/);
  const e502 = await failure(ask(settings(url, { bearerTokenEnv: 'TOKEN' }), { env: { TOKEN: 't' } }));
  expect(e502.message).toBe(`Prometheus at ${url} answered HTTP 502 Bad Gateway\nquery: up`);
});

test('credentials come from the named environment variables; a missing one is named', async () => {
  let auth = '';
  const url = await serve((req, _body, res) => {
    auth = String(req.headers.authorization);
    res.end(JSON.stringify({ status: 'success', data: {} }));
  });
  await ask(settings(url, { bearerTokenEnv: 'TOKEN' }), { env: { TOKEN: 'abc' } });
  expect(auth).toBe('Bearer abc');
  await ask(settings(url, { basicAuthEnv: { user: 'U', password: 'P' } }), { env: { U: 'me', P: 'pw' } });
  expect(auth).toBe(`Basic ${Buffer.from('me:pw').toString('base64')}`);
  const missing = await failure(ask(settings(url, { bearerTokenEnv: 'NOT_SET_ANYWHERE' })));
  expect(missing.message).toBe('environment variable NOT_SET_ANYWHERE (bearer token for Prometheus) is not set');
});

test('a refused connection, no URL at all, and an answer that is not JSON', async () => {
  const url = await serve((_req, _body, res) => res.end('<html>'));
  const closed = 'http://127.0.0.1:9';
  expect((await failure(ask(settings(closed)))).message).toBe(`cannot connect to Prometheus at ${closed} (connection refused)`);
  expect((await failure(ask({ url: undefined, source: 'not set' }))).message).toBe('no Prometheus configured');
  expect((await failure(ask(settings(url)))).message).toBe(`Prometheus at ${url} answered something that is not JSON`);
  expect((await failure(ask(settings('http://admin:hunter2@127.0.0.1:9')))).message).not.toContain('hunter2');
});

test('a server that never answers times out with the URL; an interrupt aborts at once', async () => {
  const url = await serve(() => undefined);
  const t0 = Date.now();
  const e = await failure(ask(settings(url), { timeoutMs: 300 }));
  expect(e.message).toBe(`Prometheus at ${url} did not answer within 0.3 s`);
  expect(Date.now() - t0).toBeLessThan(2000);
  const controller = new AbortController();
  const pending = ask(settings(url), { signal: controller.signal, timeoutMs: 30000 });
  setTimeout(() => controller.abort(), 50);
  const t1 = Date.now();
  await expect(pending).rejects.toBeInstanceOf(RequestAborted);
  expect(Date.now() - t1).toBeLessThan(1000);
});

test('https: an unknown CA is a TLS failure that says what to do; --ca trusts it; --insecure skips the check', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'opsbook-tls-'));
  try {
    // a throwaway self-signed certificate for 127.0.0.1, made with the openssl CLI
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
    const server = https.createServer({ key: readFileSync(path.join(dir, 'key.pem')), cert: readFileSync(path.join(dir, 'cert.pem')) }, (_req, res) => res.end(JSON.stringify({ status: 'success', data: 'tls ok' })));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const untrusted = await failure(ask(settings(url)));
    expect(untrusted.message).toMatch(new RegExp(`^TLS failure talking to Prometheus at ${url.replace(/\./g, '\\.')}: self.signed certificate`));
    expect(untrusted.hint).toMatch(/--ca FILE/);
    expect((await ask(settings(url, { caFile: path.join(dir, 'cert.pem') }))).data).toBe('tls ok');
    expect((await ask(settings(url, { insecure: true }))).data).toBe('tls ok');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
