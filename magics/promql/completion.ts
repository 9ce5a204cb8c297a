// Completion inside %promql lines and %%promql cells: metric names (from /api/v1/label/__name__/values,
// cached for a short while), label names inside `{...}`, label values after `label="`, PromQL functions and
// aggregations, and range units inside `[5...]`. Asks Prometheus with a short deadline: completion must never
// hang on a dead server (it then offers functions only).
import type { PrometheusSettings } from '../lib/notebook-config';
import { promRequest } from './client';

const FUNCTIONS = [
  'abs', 'absent', 'absent_over_time', 'avg_over_time', 'ceil', 'changes', 'clamp', 'clamp_max', 'clamp_min', 'count_over_time',
  'day_of_month', 'day_of_week', 'day_of_year', 'days_in_month', 'delta', 'deriv', 'exp', 'floor', 'histogram_quantile', 'holt_winters',
  'hour', 'idelta', 'increase', 'irate', 'label_join', 'label_replace', 'last_over_time', 'ln', 'log10', 'log2', 'max_over_time',
  'min_over_time', 'minute', 'month', 'predict_linear', 'present_over_time', 'quantile_over_time', 'rate', 'resets', 'round', 'scalar',
  'sgn', 'sort', 'sort_desc', 'sqrt', 'stddev_over_time', 'stdvar_over_time', 'sum_over_time', 'time', 'timestamp', 'vector', 'year',
];
const AGGREGATIONS = ['avg', 'bottomk', 'count', 'count_values', 'group', 'max', 'min', 'quantile', 'stddev', 'stdvar', 'sum', 'topk'];
const KEYWORDS = ['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'and', 'or', 'unless'];
const RANGE_UNITS = ['ms', 's', 'm', 'h', 'd', 'w', 'y'];

/** How long metric and label lists are reused, and how long completion waits for Prometheus. */
const CACHE_TTL_MS = 30_000;
const ASK_TIMEOUT_MS = 1500;

export interface PromqlCompletion {
  matches: string[];
  /** Characters of the text before the cursor that the matches replace. */
  replace: number;
}

type Lister = (path: string, params: Record<string, string>) => Promise<string[]>;

export class PromqlCompleter {
  private readonly cache = new Map<string, { at: number; values: Promise<string[]> }>();

  constructor(private readonly settings: () => PrometheusSettings, private readonly now: () => number = Date.now, private readonly lister?: Lister) {}

  private list(path: string, params: Record<string, string> = {}): Promise<string[]> {
    const key = `${this.settings().url ?? ''} ${path} ${JSON.stringify(params)}`;
    const hit = this.cache.get(key);
    if (hit && this.now() - hit.at < CACHE_TTL_MS) return hit.values;
    const ask: Lister = this.lister ?? ((p, q) => promRequest(this.settings(), { path: p, params: q, method: 'GET', timeoutMs: ASK_TIMEOUT_MS, signal: new AbortController().signal }).then((r) => (Array.isArray(r.data) ? r.data.filter((v): v is string => typeof v === 'string') : [])));
    const values = ask(path, params).catch(() => {
      this.cache.delete(key); // a failure is not remembered
      return [];
    });
    this.cache.set(key, { at: this.now(), values });
    return values;
  }

  /** Matches for the PromQL text before the cursor (a line magic's query or a %%promql body line). */
  async complete(before: string): Promise<PromqlCompletion> {
    const range = /\[\s*\d+$/.exec(before);
    if (range) return { matches: RANGE_UNITS.map((u) => `${/\d+$/.exec(before)?.[0] ?? ''}${u}`), replace: (/\d+$/.exec(before)?.[0] ?? '').length };
    const selector = /([A-Za-z_:][\w:]*)?\{([^{}]*)$/.exec(before);
    if (selector) {
      const metric = selector[1];
      const inside = selector[2];
      const value = /([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)\s*"([^"]*)$/.exec(inside);
      const match = metric ? { 'match[]': metric } : ({} as Record<string, string>);
      if (value) {
        const values = await this.list(`/api/v1/label/${encodeURIComponent(value[1])}/values`, match);
        return { matches: values.filter((v) => v.startsWith(value[2])).map((v) => `${v}"`), replace: value[2].length };
      }
      const word = /([A-Za-z_]\w*)?$/.exec(inside)?.[0] ?? '';
      const names = await this.list('/api/v1/labels', match);
      return { matches: names.filter((n) => n !== '__name__' && n.startsWith(word)), replace: word.length };
    }
    const word = /[A-Za-z_:][\w:]*$/.exec(before)?.[0] ?? '';
    if (word === '') return { matches: [], replace: 0 };
    const metrics = await this.list('/api/v1/label/__name__/values');
    const words = [...metrics, ...FUNCTIONS, ...AGGREGATIONS, ...KEYWORDS];
    return { matches: [...new Set(words.filter((w) => w.startsWith(word)))].sort(), replace: word.length };
  }
}
