// Unit tests of `opsbook run --pushgateway`: the baseline read from GET /api/v1/metrics (only this notebook's
// group, only opsbook_* counters, grouping labels dropped), the group URL (@base64 when needed), the runner's
// gauges, and the HTTP side against a small local server: unreachable or refusing Pushgateways are clear errors.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SetupError } from '../../kernel/runner/errors';
import { PushError, baselineAsText, baselineFromApi, groupUrl, normalizeUrl, push, readBaseline, runnerMetrics } from '../../kernel/runner/pushgateway';

const API = {
  status: 'success',
  data: [
    {
      labels: { job: 'opsbook', notebook: 'deploy' },
      last_push_successful: true,
      push_time_seconds: { type: 'GAUGE', metrics: [{ labels: { instance: '', job: 'opsbook', notebook: 'deploy' }, value: '1.7e9' }] },
      opsbook_deploys_total: {
        type: 'COUNTER',
        metrics: [
          { labels: { instance: '', job: 'opsbook', notebook: 'deploy', outcome: 'deployed', service: 'web' }, value: '3' },
          { labels: { instance: '', job: 'opsbook', notebook: 'deploy', outcome: 'failed', service: 'web' }, value: '1' },
        ],
      },
      opsbook_runbook_last_run_success: { type: 'GAUGE', metrics: [{ labels: { job: 'opsbook', notebook: 'deploy' }, value: '1' }] },
      opsbook_magic_duration_seconds: { type: 'HISTOGRAM', metrics: [{ labels: { job: 'opsbook', notebook: 'deploy' }, buckets: {}, count: '2', sum: '1' }] },
      other_total: { type: 'COUNTER', metrics: [{ labels: { job: 'opsbook', notebook: 'deploy' }, value: '9' }] },
    },
    { labels: { job: 'opsbook', notebook: 'deploy', instance: 'x' }, opsbook_deploys_total: { type: 'COUNTER', metrics: [{ labels: {}, value: '100' }] } },
    { labels: { job: 'opsbook', notebook: 'other' }, opsbook_deploys_total: { type: 'COUNTER', metrics: [{ labels: {}, value: '100' }] } },
  ],
};

test('the baseline is this notebook\'s group\'s opsbook_* counters, without job, notebook and instance', () => {
  expect(baselineFromApi(API, 'deploy')).toEqual([
    { name: 'opsbook_deploys_total', labels: { outcome: 'deployed', service: 'web' }, value: 3 },
    { name: 'opsbook_deploys_total', labels: { outcome: 'failed', service: 'web' }, value: 1 },
  ]);
  expect(baselineFromApi(API, 'nothing')).toEqual([]);
  expect(baselineFromApi({ status: 'success', data: null }, 'deploy')).toEqual([]);
  expect(baselineAsText(baselineFromApi(API, 'deploy'))).toBe('# TYPE opsbook_deploys_total counter\nopsbook_deploys_total{outcome="deployed",service="web"} 3\nopsbook_deploys_total{outcome="failed",service="web"} 1\n');
});

test('the group URL uses the @base64 form when the name needs it', () => {
  expect(groupUrl('http://pg:9091', 'deploy-and-monitor')).toBe('http://pg:9091/metrics/job/opsbook/notebook/deploy-and-monitor');
  expect(groupUrl('http://pg:9091', 'a/b c')).toBe(`http://pg:9091/metrics/job/opsbook/notebook@base64/${Buffer.from('a/b c').toString('base64url')}`);
  expect(groupUrl('http://pg:9091', '')).toBe('http://pg:9091/metrics/job/opsbook/notebook@base64/=');
  expect(normalizeUrl('http://pg:9091//')).toBe('http://pg:9091');
  expect(() => normalizeUrl('pg:9091')).toThrow(SetupError);
  expect(() => normalizeUrl('not a url')).toThrow(/not a URL/);
});

test('the runner\'s gauges are Prometheus text from a prom-client registry', async () => {
  const text = await runnerMetrics({ endedAt: new Date(1_700_000_000_000), success: false, durationSeconds: 12.5, cells: { completed: 3, failed: 1, pending: 2 } });
  expect(text).toContain('# TYPE opsbook_runbook_last_run_timestamp_seconds gauge\nopsbook_runbook_last_run_timestamp_seconds 1700000000');
  expect(text).toContain('opsbook_runbook_last_run_success 0');
  expect(text).toContain('opsbook_runbook_last_run_duration_seconds 12.5');
  expect(text).toContain('opsbook_runbook_cells{status="failed"} 1');
  expect(text).toContain('opsbook_runbook_cells{status="pending"} 2');
});

describe('over HTTP', () => {
  let server: http.Server;
  let base: string;
  const seen: Array<{ method: string; url: string; body: string; type: string }> = [];
  let putStatus = 200;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', body, type: String(req.headers['content-type']) });
        if (req.method === 'GET' && req.url === '/api/v1/metrics') res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(API));
        else if (req.method === 'PUT') res.writeHead(putStatus).end(putStatus === 200 ? '' : 'pushed metrics are invalid or inconsistent with existing metrics\n');
        else res.writeHead(404).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('the baseline is read, and the run pushed with PUT to the group', async () => {
    expect(await readBaseline(base, 'deploy')).toHaveLength(2);
    await push(base, 'deploy', 'x 1\n');
    expect(seen.at(-1)).toEqual({ method: 'PUT', url: '/metrics/job/opsbook/notebook/deploy', body: 'x 1\n', type: 'text/plain; version=0.0.4; charset=utf-8' });
  });

  test('a refused push and an unreachable Pushgateway are one clear line each', async () => {
    putStatus = 400;
    await expect(push(base, 'deploy', 'x 1\n')).rejects.toThrow(PushError);
    await expect(push(base, 'deploy', 'x 1\n')).rejects.toThrow(/refused the run's metrics \(PUT .*HTTP 400, pushed metrics are invalid/);
    putStatus = 200;
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(readBaseline(`http://127.0.0.1:${port}`, 'deploy')).rejects.toThrow(new RegExp(`the Pushgateway at http://127.0.0.1:${port} does not answer \\(ECONNREFUSED\\)`));
    await expect(readBaseline(`${base}/nowhere`, 'deploy')).rejects.toThrow(/HTTP 404/);
  });
});
