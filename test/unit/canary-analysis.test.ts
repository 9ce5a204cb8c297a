// The canary's pure parts: `--analysis "name: <PromQL> <op> <threshold>"` parsing (units, unknown ops), judging a value
// (success, failure, inconclusive for no data and NaN), the run's verdicts as Argo Rollouts decides them (failure limit,
// consecutive errors, a step with no conclusive measurement), `--steps` and the canary options, and reading one
// value out of a Prometheus instant-query answer (several series and range vectors refused).
import { UsageError } from '../../kernel/io/errors';
import { AnalysisRun, CONSECUTIVE_ERROR_LIMIT, judge, measurementText, parseAnalyses, parseAnalysis } from '../../magics/docker/deploy/analysis';
import { CanaryPlan, canaryPlanOf, canaryPlanText, failureLimitOption, parseSteps } from '../../magics/docker/deploy/canary';
import { readAnswer } from '../../magics/docker/deploy/measure';
import { deploySpecOf } from '../../magics/docker/deploy/spec';

const ERRORS = `errors: sum(rate(http_requests_total{service='api',code=~'5..'}[1m])) / sum(rate(http_requests_total{service='api'}[1m])) < 0.01`;

describe('parseAnalysis', () => {
  test('name, query, op and threshold', () => {
    expect(parseAnalysis(ERRORS)).toEqual({ name: 'errors', query: `sum(rate(http_requests_total{service='api',code=~'5..'}[1m])) / sum(rate(http_requests_total{service='api'}[1m]))`, op: '<', threshold: 0.01, thresholdText: '0.01' });
  });

  test.each([
    ['p95: histogram_quantile(0.95, sum by (le) (rate(x_bucket[1m]))) <= 300ms', '<=', 0.3, '300ms'],
    ['ratio: x > 1%', '>', 0.01, '1%'],
    ['up: min(up{job="a"}) >= 1', '>=', 1, '1'],
    ['lat: x<2s', '<', 2, '2s'],
    ['neg: x > -1.5e-3', '>', -0.0015, '-1.5e-3'],
  ])('%s', (text, op, threshold, thresholdText) => {
    expect(parseAnalysis(text)).toMatchObject({ op, threshold, thresholdText });
  });

  test('the last comparison is the condition; comparisons inside the query stay in it', () => {
    expect(parseAnalysis('e: (x > 0.5) < 3')).toMatchObject({ query: '(x > 0.5)', op: '<', threshold: 3 });
    expect(parseAnalysis('e: job:errors:rate1m{a="b"} < 1')).toMatchObject({ name: 'e', query: 'job:errors:rate1m{a="b"}' });
  });

  test.each(['==', '!=', '=>', '=<', '<>', '='])('unknown op %s is a usage error naming it', (op) => {
    expect(() => parseAnalysis(`errors: rate(x[1m]) ${op} 0.01`)).toThrow(new UsageError(`--analysis errors: unknown comparison "${op}"; use <, <=, > or >=`));
  });

  test('no name, no condition, no query', () => {
    expect(() => parseAnalysis('rate(x[1m]) < 1')).toThrow(/starts with a name and a colon/);
    expect(() => parseAnalysis('e: rate(x[1m])')).toThrow(/no condition at the end/);
    expect(() => parseAnalysis('e: < 1')).toThrow(/no query before "< 1"/);
  });

  test('two analyses with one name are refused', () => {
    expect(() => parseAnalyses(['e: x < 1', 'e: y < 2'])).toThrow(/"e" is given twice/);
    expect(parseAnalyses(undefined)).toEqual([]);
  });
});

describe('judge and the text of a measurement', () => {
  const a = parseAnalysis('errors: x < 0.01');
  test('success, failure, no data, NaN', () => {
    expect(judge(a, 0.002, 1)).toEqual({ kind: 'success', value: 0.002, at: 1 });
    expect(judge(a, 0.01, 1)).toEqual({ kind: 'failure', value: 0.01, at: 1 });
    expect(judge(a, undefined, 1)).toEqual({ kind: 'inconclusive', why: 'no data', at: 1 });
    expect(judge(a, NaN, 1)).toEqual({ kind: 'inconclusive', why: 'NaN', at: 1 });
    expect(judge(a, Infinity, 1).kind).toBe('failure');
  });
  test('as the progress shows it', () => {
    expect(measurementText(a, judge(a, 0.00213, 1))).toBe('0.00213 < 0.01 ✓');
    expect(measurementText(a, judge(a, 0.3125, 1))).toBe('0.313 not < 0.01 ✗');
    expect(measurementText(a, judge(a, NaN, 1))).toBe('inconclusive (NaN)');
    expect(measurementText(a, undefined)).toBe('not measured yet');
  });
});

describe('AnalysisRun: when an analysis fails the rollout', () => {
  const a = parseAnalysis('errors: x < 0.01');
  const b = parseAnalysis('p95: y < 300ms');
  const ok = { kind: 'success' as const, value: 0, at: 0 };
  const bad = { kind: 'failure' as const, value: 0.5, at: 0 };
  const none = { kind: 'inconclusive' as const, why: 'no data', at: 0 };
  const err = { kind: 'error' as const, message: 'connection refused', at: 0 };

  test('failure limit 0 (the default): the first failure fails, naming the value', () => {
    const run = new AnalysisRun([a], { failureLimit: 0, inconclusive: 'fail' });
    expect(run.record(a, ok)).toBeUndefined();
    expect(run.record(a, bad)).toEqual({ analysis: a, why: 'errors was 0.5, not < 0.01' });
  });

  test('failure limit 2: the third failure fails, counted over the whole rollout', () => {
    const run = new AnalysisRun([a], { failureLimit: 2, inconclusive: 'fail' });
    expect(run.record(a, bad)).toBeUndefined();
    run.startStep();
    expect(run.record(a, ok)).toBeUndefined();
    expect(run.record(a, bad)).toBeUndefined();
    expect(run.record(a, bad)?.why).toBe('errors was 0.5, not < 0.01 (failure 3, more than --failure-limit 2)');
  });

  test(`errors fail only when more than ${CONSECUTIVE_ERROR_LIMIT} come in a row`, () => {
    const run = new AnalysisRun([a], { failureLimit: 0, inconclusive: 'pass' });
    for (let i = 0; i < CONSECUTIVE_ERROR_LIMIT; i++) expect(run.record(a, err)).toBeUndefined();
    expect(run.record(a, ok)).toBeUndefined();
    for (let i = 0; i < CONSECUTIVE_ERROR_LIMIT; i++) expect(run.record(a, err)).toBeUndefined();
    expect(run.record(a, err)?.why).toBe(`errors could not be measured ${CONSECUTIVE_ERROR_LIMIT + 1} times in a row (connection refused)`);
  });

  test('a step with only inconclusive measurements fails at its end, unless --inconclusive pass', () => {
    const failing = new AnalysisRun([a, b], { failureLimit: 0, inconclusive: 'fail' });
    failing.startStep();
    failing.record(a, none);
    failing.record(b, ok);
    failing.record(a, none);
    expect(failing.endStep()?.why).toBe('errors had no conclusive measurement in the step (last: no data); --inconclusive pass accepts that');
    failing.startStep();
    failing.record(a, none);
    failing.record(a, ok);
    expect(failing.endStep()).toBeUndefined();
    const passing = new AnalysisRun([a], { failureLimit: 0, inconclusive: 'pass' });
    passing.startStep();
    passing.record(a, none);
    expect(passing.endStep()).toBeUndefined();
  });

  test('a step that measured nothing (no hold) is not judged', () => {
    const run = new AnalysisRun([a], { failureLimit: 0, inconclusive: 'fail' });
    run.startStep();
    expect(run.endStep()).toBeUndefined();
  });
});

describe('--steps and the canary options', () => {
  test('steps with and without a hold', () => {
    expect(parseSteps('10%:2m,50%:30s,100%')).toEqual([{ percent: 10, holdMs: 120_000 }, { percent: 50, holdMs: 30_000 }, { percent: 100, holdMs: 0 }]);
  });
  test.each([['10', /"10" is not PERCENT\[:DURATION\]/], ['0%:1m', /0% is not in 1–100%/], ['120%', /120% is not in 1–100%/], ['10%:soon', /--steps 10%:soon:/]])('bad steps %s', (text, message) => {
    expect(() => parseSteps(text)).toThrow(message);
  });
  test('a plain deploy has no plan; canary-only options need --strategy canary', () => {
    expect(canaryPlanOf({})).toBeUndefined();
    expect(() => canaryPlanOf({ analysis: ['e: x < 1'] })).toThrow('%deploy: --analysis needs --strategy canary');
    expect(() => canaryPlanOf({ strategy: 'rainbow', steps: '10%' })).toThrow(/unknown --strategy "rainbow"/);
    expect(() => canaryPlanOf({ strategy: 'canary' })).toThrow(/needs --steps/);
    expect(() => canaryPlanOf({ strategy: 'canary', steps: '10%', swarm: true })).toThrow(/not with --swarm/);
    expect(() => canaryPlanOf({ strategy: 'canary', steps: '10%', inconclusive: 'maybe' })).toThrow(/--inconclusive takes pass or fail/);
  });
  test('defaults: every 15 s, the first failure fails, inconclusive steps fail', () => {
    expect(canaryPlanOf({ strategy: 'canary', steps: '10%:1m,100%', analysis: ['e: x < 1'] })).toEqual({ strategy: 'canary', steps: [{ percent: 10, holdMs: 60_000 }, { percent: 100, holdMs: 0 }], analyses: [parseAnalysis('e: x < 1')], intervalMs: 15_000, failureLimit: 0, inconclusive: 'fail' });
    expect(canaryPlanOf({ strategy: 'canary', steps: '50%', interval: '2s', 'failure-limit': 2, inconclusive: 'pass' })).toMatchObject({ intervalMs: 2000, failureLimit: 2, inconclusive: 'pass' });
  });
  test('bluegreen: one step of 100% held for --hold (default 2m), the analyses and limits as a canary\'s', () => {
    expect(canaryPlanOf({ strategy: 'bluegreen' })).toEqual({ strategy: 'bluegreen', steps: [{ percent: 100, holdMs: 120_000 }], analyses: [], intervalMs: 15_000, failureLimit: 0, inconclusive: 'fail' });
    expect(canaryPlanOf({ strategy: 'bluegreen', hold: '30s', analysis: ['e: x < 1'], interval: '1s', 'failure-limit': 1 })).toMatchObject({ steps: [{ percent: 100, holdMs: 30_000 }], intervalMs: 1000, failureLimit: 1 });
    expect(() => canaryPlanOf({ strategy: 'bluegreen', steps: '10%' })).toThrow(/--strategy bluegreen takes no --steps/);
    expect(() => canaryPlanOf({ strategy: 'bluegreen', hold: 'soon' })).toThrow(/^--hold: /);
    expect(() => canaryPlanOf({ strategy: 'bluegreen', hold: '0s' })).toThrow('--hold must be positive');
    expect(() => canaryPlanOf({ strategy: 'canary', steps: '10%', hold: '1m' })).toThrow(/--hold is for --strategy bluegreen/);
    expect(() => canaryPlanOf({ hold: '1m' })).toThrow('%deploy: --hold needs --strategy bluegreen');
    expect(() => canaryPlanOf({ strategy: 'bluegreen', swarm: true })).toThrow('--strategy bluegreen works on the local path, not with --swarm');
    expect(canaryPlanText(canaryPlanOf({ strategy: 'bluegreen', hold: '90s' }) as CanaryPlan)[0]).toBe('  blue-green: every request to the new version once the proxy sees it healthy, the old one kept running for 90.0 s, then stopped');
    expect(() => deploySpecOf('shop/api:2', { name: 'api', strategy: 'bluegreen' }, {})).toThrow('%deploy --strategy bluegreen needs a published port');
  });
  test('--failure-limit takes a whole number ≥ 0', () => {
    expect(failureLimitOption('2')).toBe(2);
    expect(() => failureLimitOption('-1')).toThrow(/not a whole number/);
  });
  test('a canary needs a published port', () => {
    expect(() => deploySpecOf('shop/api:2', { name: 'api', strategy: 'canary', steps: '10%' }, {})).toThrow(/needs a published port/);
    expect(deploySpecOf('shop/api:2', { name: 'api', strategy: 'canary', steps: '10%', publish: ['8080:8080'] }, {}).canary?.steps).toEqual([{ percent: 10, holdMs: 0 }]);
  });
});

describe('readAnswer: one value out of an instant query', () => {
  test('a scalar, one sample, none, NaN', () => {
    expect(readAnswer({ resultType: 'scalar', result: [1, '0.5'] })).toEqual({ value: 0.5 });
    expect(readAnswer({ resultType: 'vector', result: [{ metric: {}, value: [1, '0.25'] }] })).toEqual({ value: 0.25 });
    expect(readAnswer({ resultType: 'vector', result: [] })).toEqual({ value: undefined });
    expect(readAnswer({ resultType: 'vector', result: [{ metric: {}, value: [1, 'NaN'] }] })).toEqual({ value: NaN });
  });
  test('several series and range vectors are not one value', () => {
    const two = readAnswer({ resultType: 'vector', result: [{ metric: { version: '1' }, value: [1, '1'] }, { metric: { version: '2' }, value: [1, '2'] }] });
    expect(two).toEqual({ shape: 'answers 2 series ({version="1"} {version="2"}); it must answer one value: aggregate it, e.g. sum(...) or max(...)' });
    expect(readAnswer({ resultType: 'matrix', result: [] })).toEqual({ shape: expect.stringMatching(/^answers a range vector/) });
  });
});
