// How a canary rollout's display ends: the timeline kept while it runs (steps, measurements, the end and the time to
// restore), the chart of every analysis (one row each, its threshold a dashed line on its own axis, failed points red,
// the step boundaries dotted and labelled with the share, then the outcome), and the fixed summary (the audit line,
// the outcome, which analysis failed with which value, each analysis' count, last value and threshold).
import { type Analysis, type AnalysisVerdict, parseAnalysis } from '../../magics/docker/deploy/analysis';
import type { DeployRecord } from '../../magics/docker/deploy/audit';
import { type RolloutFigure, analysisUnit, rolloutFigure } from '../../magics/docker/deploy/rollout-figure';
import { rolloutEnding } from '../../magics/docker/deploy/rollout-report';
import { RolloutTimeline } from '../../magics/docker/deploy/timeline';
import { PlotlyLibrary } from '../../magics/plotly-library';
import { PLOTLY_MIME } from '../../magics/promql/bundle';
import type { Figure } from '../../magics/promql/figure';

const T0 = Date.parse('2026-11-25T12:00:00Z');
const errors = parseAnalysis('proxy-errors: sum(rate(e[1m])) / sum(rate(r[1m])) < 1%');
const latency = parseAnalysis('proxy-latency: max(l) < 300ms');
const record = (outcome: string, restoredMs?: number): DeployRecord => ({
  service: 'api', deployId: '2611251200ab', kind: 'deploy (canary)', image: 'shop/api:bad', imageId: 'sha256:0123456789abcdef', previousImage: 'sha256:fedcba9876543210',
  by: 'ops@host', at: new Date(T0).toISOString(), outcome, durationMs: 20_000, cutoverGapMs: undefined, switchMs: undefined, ...(restoredMs === undefined ? {} : { restoredMs }),
});

/** A canary rolled back at its first step (20%) when proxy-errors measured 0.5 at T0+4s. */
function rolledBack(): RolloutTimeline {
  const t = new RolloutTimeline([errors, latency], T0);
  t.stepStarted(0, 20, T0 + 1000);
  t.measured(errors, { kind: 'inconclusive', why: 'NaN', at: T0 + 2000 });
  t.measured(latency, { kind: 'success', value: 0.004, at: T0 + 2000 });
  t.measured(errors, { kind: 'success', value: 0.004, at: T0 + 3000 });
  t.measured(latency, { kind: 'success', value: 0.005, at: T0 + 3000 });
  t.measured(errors, { kind: 'failure', value: 0.5, at: T0 + 4000 });
  t.measured(latency, { kind: 'success', value: 0.006, at: T0 + 4000 });
  const verdict: AnalysisVerdict = { analysis: errors, why: 'proxy-errors was 0.5, not < 1%' };
  t.rolledBack('proxy-errors was 0.5, not < 1% at step 1 of 2 (20%)', verdict, T0 + 4300);
  return t;
}

function promoted(): RolloutTimeline {
  const t = new RolloutTimeline([errors], T0);
  t.stepStarted(0, 30, T0 + 1000);
  t.measured(errors, { kind: 'success', value: 0, at: T0 + 2000 });
  t.stepStarted(1, 100, T0 + 9000);
  t.promoted(T0 + 9500);
  return t;
}

describe('the timeline', () => {
  test('time to restore: from the first request the new version could get to every request back on the old one', () => {
    const t = rolledBack();
    expect(t.firstTrafficAt).toBe(T0 + 1000);
    expect(t.firstFailureAt).toBe(T0 + 4000);
    expect(t.restoredMs).toBe(3300);
    expect(t.end).toMatchObject({ outcome: 'rolled back', stepIndex: 0 });
  });

  test('nothing to restore when promoted, or rolled back before the new version had a share', () => {
    expect(promoted().restoredMs).toBeUndefined();
    const early = new RolloutTimeline([errors], T0);
    early.rolledBack('interrupted before step 1 of 2 (20%)', undefined, T0 + 100);
    expect(early.restoredMs).toBeUndefined();
    expect(early.end).toMatchObject({ stepIndex: undefined });
  });
});

describe('rolloutFigure', () => {
  const figure: RolloutFigure = rolloutFigure(rolledBack(), { title: 'canary of shop/api:bad → api: rolled back' });

  test('one row per analysis, each on its own value axis in its unit, sharing the time axis at the bottom', () => {
    expect(figure.data.map((t) => [t.type, t.name, t.yaxis])).toEqual([['scatter', 'proxy-errors', undefined], ['scatter', 'proxy-latency', 'y2']]);
    expect(figure.layout.yaxis.domain?.[1]).toBe(1);
    expect(figure.layout.yaxis2?.domain?.[0]).toBe(0);
    expect(figure.layout.yaxis.ticktext?.some((t) => t.endsWith('%'))).toBe(true);
    expect(figure.layout.yaxis2?.ticktext?.some((t) => t.endsWith('ms'))).toBe(true);
    expect(figure.layout.xaxis).toMatchObject({ type: 'date', anchor: 'y2', range: [T0, T0 + 4300] });
    expect([analysisUnit(errors), analysisUnit(latency), analysisUnit(parseAnalysis('up: min(up) >= 1'))]).toEqual(['percentunit', 'seconds', 'none']);
  });

  test('every measurement at its time; inconclusive ones a gap with the reason on hover, failed ones red', () => {
    const [e] = figure.data;
    expect(e.x).toEqual([T0 + 2000, T0 + 3000, T0 + 4000]);
    expect(e.y).toEqual([null, 0.004, 0.5]);
    expect(e.text).toEqual(['inconclusive (NaN)', '0.4% ✓', '50% ✗']);
    const colors = e.marker?.color as string[];
    expect(colors[2]).not.toBe(colors[1]);
  });

  test('each threshold a dashed line across its own row, labelled with the condition', () => {
    const thresholds = figure.layout.shapes.filter((s) => s.line.dash === 'dash');
    expect(thresholds.map((s) => [s.yref, s.y0, s.y1, s.xref, s.label.text])).toEqual([
      ['y', 0.01, 0.01, 'paper', '&lt; 1%'],
      ['y2', 0.3, 0.3, 'paper', '&lt; 300ms'],
    ]);
  });

  test('the step boundaries as dotted vertical lines labelled with the share, then the outcome', () => {
    const markers = figure.layout.shapes.filter((s) => s.line.dash === 'dot');
    expect(markers.map((s) => [s.x0, s.x1, s.yref, s.label.text])).toEqual([
      [T0 + 1000, T0 + 1000, 'paper', '20%'],
      [T0 + 4300, T0 + 4300, 'paper', 'rolled back'],
    ]);
    const steps = rolloutFigure(promoted()).layout.shapes.filter((s) => s.line.dash === 'dot').map((s) => s.label.text);
    expect(steps).toEqual(['30%', '100%', 'promoted']);
  });
});

describe('rolloutEnding', () => {
  test('rolled back: the audit line, where and why, which analysis failed with which value, and how fast it was undone', () => {
    const ending = rolloutEnding(record('failed: proxy-errors was 0.5, not < 1% at step 1 of 2 (20%); rolled back: ...', 3300), rolledBack(), { plotly: new PlotlyLibrary(() => 'PLOTLY_JS') });
    const text = ending.final['text/plain'];
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^\[audit\] deploy \(canary\) shop\/api:bad .*: failed: proxy-errors was 0\.5.*, restored automatically 3\.3 s after the new version's first request \(deploy 2611251200ab\)$/);
    expect(lines[1]).toBe('rolled back after 4.3 s: proxy-errors was 0.5, not < 1% at step 1 of 2 (20%)');
    expect(lines[2]).toBe('failed analysis: proxy-errors = 0.5 (wants < 1%)');
    expect(lines[3]).toBe('every request back on the old version 0.3 s after the first failed measurement, 3.3 s after the new version got its first request (the time to restore counted)');
    expect(lines[4]).toBe('  proxy-errors   3 measurements (1 failed, 1 inconclusive), last 0.5 not < 1% ✗, wants < 1%  ← failed the rollout');
    expect(lines[5]).toBe('  proxy-latency  3 measurements, last 0.006 < 300ms ✓, wants < 300ms');
    expect(ending.final['text/html']).toContain('<b>failed the rollout</b>');
    expect(ending.final['text/html']).toContain('<td style="text-align:left">proxy-latency</td>');
  });

  test("the chart is a second output, %promql's bundle: Plotly JSON, HTML carrying plotly.js once, a text summary", () => {
    const plotly = new PlotlyLibrary(() => 'PLOTLY_JS');
    const first = rolloutEnding(record('failed: x'), rolledBack(), { plotly, owner: 'cell-1' });
    expect(first.after).toHaveLength(1);
    const chart = first.after[0];
    expect((chart[PLOTLY_MIME] as Figure).data).toHaveLength(2);
    expect(chart['text/html']).toContain('PLOTLY_JS');
    expect(chart['text/plain']).toBe('canary of shop/api:bad → api: rolled back; proxy-errors (3 measurements, wants < 1%), proxy-latency (3 measurements, wants < 300ms); steps 20%');
    const later = rolloutEnding(record('deployed'), promoted(), { plotly, owner: 'cell-2' });
    expect(later.after[0]['text/html']).not.toContain('PLOTLY_JS');
    expect(later.final['text/plain'].split('\n')[1]).toBe('promoted after 2 steps (30%, 100%) in 9.5 s');
  });

  test('no analysis, no chart: the summary alone', () => {
    const t = new RolloutTimeline([] as Analysis[], T0);
    t.stepStarted(0, 50, T0 + 1000);
    t.promoted(T0 + 3000);
    const ending = rolloutEnding(record('deployed'), t, { plotly: new PlotlyLibrary(() => '') });
    expect(ending.after).toEqual([]);
    expect(ending.final['text/plain']).toContain('promoted after 1 step (50%) in 3.0 s');
  });
});
