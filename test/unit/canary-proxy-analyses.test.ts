// The canary's built-in analyses on the proxy's own metrics: `proxy-errors<1%` and `proxy-latency<300ms` (with an
// optional [window]) rewritten into ordinary analyses with the service and the new version's labels filled in, then
// parsed like any other; a percentile, an unknown built-in or a bad window refused with what exists; a user's own
// analysis left alone; and the built-ins pinned to the new version's server once the rollout knows it.
import { UsageError } from '../../kernel/io/errors';
import { parseAnalysis } from '../../magics/docker/deploy/analysis';
import { canaryPlanOf } from '../../magics/docker/deploy/canary';
import { builtinQuery, expandBuiltin, pinBuiltins, withBuiltinAnalyses } from '../../magics/docker/deploy/proxy-analyses';

const api = { service: 'api', version: '2' };

test('proxy-errors<1%: the 5xx share of the new version\'s answers through the proxy over 1m, threshold a ratio', () => {
  const a = parseAnalysis(expandBuiltin('proxy-errors<1%', api));
  expect(a).toEqual({
    name: 'proxy-errors',
    query: 'sum(rate(haproxy_server_http_responses_total{service="api",version="2",code="5xx"}[1m])) / sum(rate(haproxy_server_http_responses_total{service="api",version="2"}[1m]))',
    op: '<',
    threshold: 0.01,
    thresholdText: '1%',
  });
});

test('a window in brackets, spaces around the comparison, any of the four comparisons', () => {
  const a = parseAnalysis(expandBuiltin(' proxy-errors[30s] <= 0.5% ', api));
  expect(a).toMatchObject({ name: 'proxy-errors', op: '<=', threshold: 0.005 });
  expect(a.query).toContain('[30s]');
  expect(a.query).not.toContain('[1m]');
  expect(parseAnalysis(expandBuiltin('proxy-errors[2m30s]>=0', api))).toMatchObject({ op: '>=', threshold: 0 });
});

test('proxy-latency<300ms: the average response time, judged only when the version answered in the window', () => {
  const a = parseAnalysis(expandBuiltin('proxy-latency<300ms', api));
  expect(a).toMatchObject({ name: 'proxy-latency', op: '<', threshold: 0.3, thresholdText: '300ms' });
  // HAProxy's average is a sum over 512 samples starting at zero: scaled by 512/min(n, 512) for n responses, and
  // judged from 50 responses on (its whole-millisecond rounding, scaled, would weigh more before)
  expect(a.query).toBe('max(haproxy_server_response_time_average_seconds{service="api",version="2"}) * 512 / clamp_max(sum(haproxy_server_http_responses_total{service="api",version="2"}), 512) and on() (sum(haproxy_server_http_responses_total{service="api",version="2"}) >= 50) and on() (sum(rate(haproxy_server_http_responses_total{service="api",version="2"}[1m])) > 0)');
});

test('the version label is the one the proxy gives the server: the image tag, in characters HAProxy accepts', () => {
  expect(builtinQuery('proxy-errors', '1m', { service: 'shop', version: 'v1+build.7' }, undefined)).toContain('version="v1_build.7"');
});

test('a percentile is refused: HAProxy\'s exporter has no histogram; the error says what to use instead', () => {
  let error: unknown;
  try {
    expandBuiltin('proxy-p95<300ms', api);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(UsageError);
  expect((error as UsageError).message).toMatch(/^--analysis proxy-p95: HAProxy's Prometheus exporter has no latency histogram/);
  expect((error as UsageError).hint).toMatch(/proxy-latency<300ms/);
  expect(() => expandBuiltin('proxy-p99 < 1s', api)).toThrow(/no latency histogram/);
});

test('an unknown built-in, a bad window and a missing condition are usage errors saying what exists', () => {
  expect(() => expandBuiltin('proxy-rate>1', api)).toThrow(new UsageError('--analysis proxy-rate: no such built-in analysis'));
  expect(() => expandBuiltin('proxy-errors[1 minute]<1%', api)).toThrow(/"1 minute" is not a PromQL duration/);
  expect(() => expandBuiltin('proxy-errors', api)).toThrow(/no condition at the end/);
  // the comparison itself is checked where every analysis' is
  expect(() => parseAnalysis(expandBuiltin('proxy-errors == 1%', api))).toThrow(/unknown comparison "=="/);
});

test("a user's own analysis is left as written, even one named like a built-in", () => {
  for (const text of ['errors: sum(rate(x[1m])) < 0.01', 'proxy-errors: sum(rate(my_errors_total[1m])) < 1', 'latency:proxy-x < 1']) {
    expect(expandBuiltin(text, api)).toBe(text);
  }
});

test("through %deploy's options: built-ins and queries side by side in one canary plan", () => {
  const options = { strategy: 'canary', steps: '10%:1m,100%', analysis: ['proxy-errors<1%', 'p95: histogram_quantile(0.95, sum by (le) (rate(h_bucket[1m]))) < 0.3'] };
  const plan = canaryPlanOf(withBuiltinAnalyses(options, api));
  expect(plan?.analyses.map((a) => a.name)).toEqual(['proxy-errors', 'p95']);
  expect(plan?.analyses[1].query).toBe('histogram_quantile(0.95, sum by (le) (rate(h_bucket[1m])))');
  expect(withBuiltinAnalyses({ strategy: 'canary' }, api)).toEqual({ strategy: 'canary' });
});

test('pinned to the new version\'s server once known: an old version with the same tag never counts; other analyses untouched', () => {
  const errors = parseAnalysis(expandBuiltin('proxy-errors<1%', api));
  const latency = parseAnalysis(expandBuiltin('proxy-latency<300ms', api));
  const own = parseAnalysis('errors: sum(rate(x{service="api",version="2"}[1m])) < 1');
  const [e, l, o] = pinBuiltins([errors, latency, own], api, '2:api-2511251200ab');
  expect(e.query).toBe(builtinQuery('proxy-errors', '1m', api, '2:api-2511251200ab'));
  expect(e.query.match(/server="2:api-2511251200ab"/g)).toHaveLength(2);
  expect(l.query.match(/server="2:api-2511251200ab"/g)).toHaveLength(4); // the average, the responses so far (twice), the rate in the window
  expect(o).toBe(own);
  expect({ ...e, query: '' }).toEqual({ ...errors, query: '' });
});
