// The built-in analyses of a canary: conditions on the service's own proxy metrics, so a service with no metrics of
// its own can be judged too. `--analysis proxy-errors<1%` and `--analysis proxy-latency<300ms` (an optional PromQL
// window in brackets: `proxy-errors[30s]<1%`, default 1m) are rewritten here into ordinary analyses,
// `proxy-errors: <PromQL> < 1%`, with the service and the new version's labels filled in, before the analyses are
// parsed: they then go through the same parse, dry check and verdicts as a user's queries (analysis.ts, measure.ts).
// The PromQL reads HAProxy's exporter as the proxies' scrape job labels it (notebooks/stack/prometheus.ts): `service`
// from the proxy container's label, `version` from the server name `<version>:<container>`. Once the rollout knows the
// new version's server, its `server` label is added too (pinned), so an old version with the same tag never counts.
// HAProxy's exporter (Debian's 2.6) has no latency histogram, only sliding averages per server and
// maxima since start: a percentile (proxy-p95) cannot be computed from it and is refused with what to use instead.
import { UsageError } from '../../../kernel/io/errors';
import { serverName, versionOfServer } from '../proxy/config';
import type { Analysis } from './analysis';

export const BUILTIN_NAMES = ['proxy-errors', 'proxy-latency'] as const;
export type BuiltinName = (typeof BUILTIN_NAMES)[number];

/** The rate window when none is given. */
export const DEFAULT_WINDOW = '1m';

/** The new version as the proxy's metrics label it. */
export interface ProxyTarget {
  service: string;
  /** The version text (image tag), as the deploy routes it. */
  version: string;
}

/** `proxy-errors`, optionally `[window]`, then the condition as written (`< 1%`); the condition is parsed later. */
const BUILTIN = /^\s*(proxy-[A-Za-z0-9_-]*?)(?:\[([^\]]*)\])?\s*([<>=!~].*)$/;
/** A PromQL duration: 30s, 1m, 1h30m. */
const PROMQL_DURATION = /^(\d+(ms|s|m|h|d|w|y))+$/;

const USAGE = `built-in analyses: ${BUILTIN_NAMES.map((n) => `${n}[WINDOW] <op> <threshold>`).join(', ')}; e.g. --analysis "proxy-errors<1%" --analysis "proxy-latency[2m]<300ms"`;

const NO_PERCENTILE =
  "HAProxy's Prometheus exporter has no latency histogram (only each server's sliding average and maxima), so no percentile can be computed from the proxy";

/** A label value inside double quotes in PromQL. */
function quoted(value: string): string {
  return JSON.stringify(value);
}

/** The label matchers of the new version's server (the version label as the scrape job derives it from the server name). */
function selector(target: ProxyTarget, server?: string): string {
  const version = versionOfServer(serverName({ version: target.version, container: 'x' }));
  return `service=${quoted(target.service)},version=${quoted(version)}${server === undefined ? '' : `,server=${quoted(server)}`}`;
}

/** The PromQL of a built-in: one value, no data before the new version answered anything (inconclusive, not a pass). */
export function builtinQuery(name: BuiltinName, window: string, target: ProxyTarget, server?: string): string {
  const sel = selector(target, server);
  const responses = `sum(rate(haproxy_server_http_responses_total{${sel}}[${window}]))`;
  if (name === 'proxy-errors') return `sum(rate(haproxy_server_http_responses_total{${sel},code="5xx"}[${window}])) / ${responses}`;
  // HAProxy's average response time is a sliding sum divided by its sample window (512 in 2.6: answers of 0.6 s
  // read 1.2 s when scaled by 1024) that starts at zero, so for a server with n < 512 responses it reads n/512 of
  // their mean (measured: 35 answers of 0.6 s read 0.03 s). Scaled by 512/min(n, 512), n the server's responses so
  // far, it is the mean of its answers. HAProxy rounds the average
  // up to whole milliseconds, which the scaling multiplies: below LATENCY_MIN_RESPONSES answers the error could
  // pass 11 ms, so the measurement is no data (inconclusive) until then. Only a version that answered in the window
  // is judged: the average keeps its last value however old.
  const answered = `sum(haproxy_server_http_responses_total{${sel}})`;
  return `max(haproxy_server_response_time_average_seconds{${sel}}) * ${HAPROXY_TIME_SAMPLES} / clamp_max(${answered}, ${HAPROXY_TIME_SAMPLES}) and on() (${answered} >= ${LATENCY_MIN_RESPONSES}) and on() (${responses} > 0)`;
}

/** The samples behind HAProxy's time averages (TIME_STATS_SAMPLES, 512; its docs say "the last 1024 requests"). */
const HAPROXY_TIME_SAMPLES = 512;
/** Responses a version must have answered before proxy-latency judges it: 1 ms of rounding then weighs ≤ 11 ms. */
const LATENCY_MIN_RESPONSES = 50;

function isBuiltinName(name: string): name is BuiltinName {
  return (BUILTIN_NAMES as readonly string[]).includes(name);
}

/**
 * `proxy-errors<1%` → `proxy-errors: <PromQL> <1%`; any other text unchanged (a user's `name: query op threshold`).
 * An unknown proxy-… name, a percentile, or a bad window is a UsageError saying what exists.
 */
export function expandBuiltin(text: string, target: ProxyTarget): string {
  const m = BUILTIN.exec(text);
  if (!m) {
    const bare = /^\s*(proxy-[A-Za-z0-9_-]*)(\[[^\]]*\])?\s*$/.exec(text);
    if (bare) throw new UsageError(`--analysis ${bare[1]}: no condition at the end (<op> <threshold>)`, USAGE);
    return text;
  }
  const [, name, window = DEFAULT_WINDOW, condition] = m;
  if (/^proxy-p\d+$/.test(name)) throw new UsageError(`--analysis ${name}: ${NO_PERCENTILE}`, `use proxy-latency${condition.trim()} (the average), or judge a histogram of the service's own metrics with "p95: histogram_quantile(0.95, ...) < 0.3"`);
  if (!isBuiltinName(name)) throw new UsageError(`--analysis ${name}: no such built-in analysis`, USAGE);
  if (!PROMQL_DURATION.test(window)) throw new UsageError(`--analysis ${name}[${window}]: "${window}" is not a PromQL duration such as 30s, 1m or 2m30s`, USAGE);
  return `${name}: ${builtinQuery(name, window, target)} ${condition.trim()}`;
}

/** %deploy's options with every built-in --analysis rewritten as a query (the rest unchanged). */
export function withBuiltinAnalyses(options: Record<string, unknown>, target: ProxyTarget): Record<string, unknown> {
  if (!Array.isArray(options.analysis)) return options;
  return { ...options, analysis: options.analysis.map((text) => expandBuiltin(String(text), target)) };
}

/**
 * The analyses with every built-in pinned to the new version's server (`<version>:<container>`), once the rollout
 * knows it: an old version deployed under the same tag then never counts in the new one's measurements.
 */
export function pinBuiltins(analyses: readonly Analysis[], target: ProxyTarget, server: string): Analysis[] {
  const loose = `{${selector(target)}`;
  const pinned = `{${selector(target, server)}`;
  return analyses.map((a) => (isBuiltinName(a.name) && a.query.includes(loose) ? { ...a, query: a.query.split(loose).join(pinned) } : a));
}
