// Unit tests of what a %promql line asks for (queries, legends, range and step) and of PromQL completion with a
// stand-in for Prometheus's label APIs.
import { queriesOf, rangeOf } from '../../magics/promql/queries';
import { PromqlCompleter } from '../../magics/promql/completion';
import { UsageError, MagicError } from '../../kernel/io/errors';

const NOW = 1_764_064_800; // 2025-11-25T10:00:00Z

test('a line query, and a cell body with one query per line and an optional # legend', () => {
  expect(queriesOf('rate(x[5m])', undefined, '{{job}}')).toEqual([{ expr: 'rate(x[5m])', legend: '{{job}}' }]);
  expect(queriesOf('', 'rate(a[5m])  # A {{instance}}\n\n# a comment line\nrate(b[5m])\n', undefined)).toEqual([
    { expr: 'rate(a[5m])', legend: 'A {{instance}}' },
    { expr: 'rate(b[5m])', legend: undefined },
  ]);
  expect(() => queriesOf(' ', '\n', undefined)).toThrow(UsageError);
});

test('range: --since (default 1h) back from --end or now; --start/--end; automatic step under 11,000 points', () => {
  expect(rangeOf({}, NOW, 1000)).toEqual({ start: NOW - 3600, end: NOW, step: 5, text: 'the last 1h' });
  const month = rangeOf({ since: '30d' }, NOW, 1000);
  expect((month.end - month.start) / month.step).toBeLessThanOrEqual(11_000);
  expect(month.step).toBe(3600);
  const fixed = rangeOf({ start: '2025-11-25T08:00:00Z', end: 'now-1h' }, NOW, 1000);
  expect([fixed.start, fixed.end]).toEqual([NOW - 7200, NOW - 3600]);
  expect(fixed.text).toBe('2025-11-25 08:00 UTC to 2025-11-25 09:00 UTC');
  expect(rangeOf({ since: '2h', step: '1m' }, NOW, 1000).step).toBe(60);
});

test('bad ranges are usage errors that say why', () => {
  expect(() => rangeOf({ since: 'soon' }, NOW, 1000)).toThrow(/--since: bad duration "soon"/);
  expect(() => rangeOf({ start: 'yesterday' }, NOW, 1000)).toThrow(UsageError);
  expect(() => rangeOf({ since: '1h', start: 'now-2h' }, NOW, 1000)).toThrow(/not both/);
  expect(() => rangeOf({ start: 'now', end: 'now-1h' }, NOW, 1000)).toThrow(/range is empty/);
  expect(() => rangeOf({ since: '30d', step: '1s' }, NOW, 1000)).toThrow(MagicError);
});

test('completion: metric names and functions, label names in {}, label values after =", range units', async () => {
  const asked: string[] = [];
  const lists: Record<string, string[]> = {
    '/api/v1/label/__name__/values': ['http_requests_total', 'http_request_duration_seconds_bucket', 'up'],
    '/api/v1/labels': ['__name__', 'code', 'instance', 'job'],
    '/api/v1/label/job/values': ['api', 'web'],
  };
  let now = 0;
  const c = new PromqlCompleter(() => ({ url: 'http://x', source: 'test' }), () => now, async (path, params) => {
    asked.push(`${path} ${JSON.stringify(params)}`);
    return lists[path] ?? [];
  });
  expect(await c.complete('rate(http_req')).toEqual({ matches: ['http_request_duration_seconds_bucket', 'http_requests_total'], replace: 8 });
  expect((await c.complete('histogram_q')).matches).toEqual(['histogram_quantile']);
  expect(await c.complete('http_requests_total{co')).toEqual({ matches: ['code'], replace: 2 });
  expect(await c.complete('http_requests_total{code="200", job="a')).toEqual({ matches: ['api"'], replace: 1 });
  expect(asked).toContain('/api/v1/label/job/values {"match[]":"http_requests_total"}');
  expect((await c.complete('rate(x[5')).matches).toEqual(['5ms', '5s', '5m', '5h', '5d', '5w', '5y']);
  const calls = asked.length;
  await c.complete('u');
  expect(asked.length).toBe(calls); // metric names cached
  now = 60_000;
  await c.complete('u');
  expect(asked.length).toBe(calls + 1); // and asked again once the cache is old
});

test('completion with Prometheus down offers functions only, quickly', async () => {
  const c = new PromqlCompleter(() => ({ url: 'http://127.0.0.1:9', source: 'test' }));
  const t0 = Date.now();
  expect((await c.complete('ra')).matches).toEqual(['rate']);
  expect(Date.now() - t0).toBeLessThan(2000);
});
