// How a canary rollout's display ends, the picture a reviewer finds in the saved notebook: the live progress becomes a
// fixed summary (the audit line; the outcome and, when rolled back, which analysis failed with which value; per
// analysis its measurements, last value and threshold; how fast every request was back on the old version), and a
// second output under it holds the chart of every analysis over the rollout (rollout-figure.ts). Two outputs, not one
// bundle: a frontend shows one form of a bundle, and JupyterLab with the Plotly extension would show only the chart.
// The chart's bundle is %promql's (application/vnd.plotly.v1+json, text/html drawing it with plotly.js carried once
// per notebook, text/plain). Pure apart from the chart's random element id.
import { escapeHtml } from '../../../kernel/io/html';
import type { PlotlyLibrary } from '../../plotly-library';
import { chartBundle } from '../../promql/bundle';
import { type Analysis, type Measurement, measurementText, valueText } from './analysis';
import { type DeployRecord, auditLine } from './audit';
import { rolloutFigure } from './rollout-figure';
import { seconds } from './spec';
import type { RolloutTimeline } from './timeline';

export interface RolloutEnding {
  /** What the progress display ends as (text/plain and text/html). */
  final: Record<string, string>;
  /** Displayed under it: the chart's bundle (none when the rollout had no analysis). */
  after: Array<Record<string, unknown>>;
}

export interface ChartTarget {
  plotly: PlotlyLibrary;
  /** Passed to PlotlyLibrary.scriptOnce: the cell, so its re-run output carries plotly.js again if it did. */
  owner?: string;
}

interface AnalysisRow {
  name: string;
  measured: string;
  last: string;
  wants: string;
  failedHere: boolean;
}

function countsText(ms: readonly Measurement[]): string {
  const count = (kind: Measurement['kind']) => ms.filter((m) => m.kind === kind).length;
  const parts = [['failed', count('failure')], ['inconclusive', count('inconclusive')], ['errors', count('error')]].filter(([, n]) => n !== 0).map(([what, n]) => `${n} ${what}`);
  return `${ms.length} measurement${ms.length === 1 ? '' : 's'}${parts.length > 0 ? ` (${parts.join(', ')})` : ''}`;
}

function rows(timeline: RolloutTimeline): AnalysisRow[] {
  const end = timeline.end;
  const failedName = end?.outcome === 'rolled back' ? end.verdict?.analysis.name : undefined;
  return timeline.analyses.map((a) => {
    const ms = timeline.measurements(a);
    return { name: a.name, measured: countsText(ms), last: measurementText(a, ms.at(-1)), wants: `${a.op} ${a.thresholdText}`, failedHere: a.name === failedName };
  });
}

/** The value of the analysis' last failed measurement, as the record and the progress write values. */
function failedValue(timeline: RolloutTimeline, a: Analysis): string | undefined {
  const failure = [...timeline.measurements(a)].reverse().find((m) => m.kind === 'failure');
  return failure?.kind === 'failure' ? valueText(failure.value) : undefined;
}

/** The outcome, and what failed with which value, in a few lines. */
export function outcomeLines(timeline: RolloutTimeline): string[] {
  const end = timeline.end;
  const shares = timeline.steps.map((s) => `${s.percent}%`).join(', ');
  if (end === undefined) return ['the rollout did not end'];
  const took = seconds(end.at - timeline.startedAt);
  if (end.outcome === 'promoted') return [`promoted after ${timeline.steps.length} step${timeline.steps.length === 1 ? '' : 's'} (${shares}) in ${took}`];
  // the reason names the step ("... at step 1 of 2 (20%)", "interrupted during step 2 of 3 (50%)")
  const lines = [`rolled back after ${took}: ${end.why}`];
  const verdict = end.verdict;
  if (verdict) {
    const value = failedValue(timeline, verdict.analysis);
    lines.push(`failed analysis: ${verdict.analysis.name}${value === undefined ? '' : ` = ${value}`} (wants ${verdict.analysis.op} ${verdict.analysis.thresholdText})`);
  }
  const firstFailure = timeline.firstFailureAt;
  const restored = timeline.restoredMs;
  const back = [
    ...(firstFailure !== undefined && firstFailure <= end.at ? [`${seconds(end.at - firstFailure)} after the first failed measurement`] : []),
    ...(restored !== undefined ? [`${seconds(restored)} after the new version got its first request (the time to restore counted)`] : []),
  ];
  if (back.length > 0) lines.push(`every request back on the old version ${back.join(', ')}`);
  return lines;
}

function summaryText(record: DeployRecord, timeline: RolloutTimeline): string {
  const table = rows(timeline);
  const width = Math.max(0, ...table.map((r) => r.name.length));
  return [
    auditLine(record),
    ...outcomeLines(timeline),
    ...table.map((r) => `  ${r.name.padEnd(width)}  ${r.measured}, last ${r.last}, wants ${r.wants}${r.failedHere ? '  ← failed the rollout' : ''}`),
  ].join('\n');
}

function summaryHtml(record: DeployRecord, timeline: RolloutTimeline): string {
  const table = rows(timeline);
  const cells = (r: AnalysisRow) =>
    [r.name, r.measured, r.last, r.wants].map((c) => `<td style="text-align:left">${escapeHtml(c)}</td>`).join('') + `<td style="text-align:left">${r.failedHere ? '<b>failed the rollout</b>' : ''}</td>`;
  const analyses =
    table.length === 0
      ? ''
      : `<table class="opsbook-table"><thead><tr><th>analysis</th><th>measurements</th><th>last</th><th>wants</th><th></th></tr></thead><tbody>${table.map((r) => `<tr>${cells(r)}</tr>`).join('')}</tbody></table>`;
  return `<pre>${escapeHtml(auditLine(record))}</pre><div class="opsbook-rollout">${outcomeLines(timeline).map((l) => `<div>${escapeHtml(l)}</div>`).join('')}</div>${analyses}`;
}

/** The end of a canary's display: the fixed summary, and the chart under it. */
export function rolloutEnding(record: DeployRecord, timeline: RolloutTimeline, charts: ChartTarget): RolloutEnding {
  const final = { 'text/plain': summaryText(record, timeline), 'text/html': summaryHtml(record, timeline) };
  if (timeline.analyses.length === 0) return { final, after: [] };
  const outcome = timeline.end?.outcome ?? 'unfinished';
  const title = `canary of ${record.image} → ${record.service}: ${outcome}`;
  const summary = `${title}; ${timeline.analyses.map((a) => `${a.name} (${countsText(timeline.measurements(a)).replace(/ \(.*/, '')}, wants ${a.op} ${a.thresholdText})`).join(', ')}; steps ${timeline.steps.map((s) => `${s.percent}%`).join(', ') || 'none'}`;
  const chart = chartBundle(rolloutFigure(timeline, { title }), { summary, plotly: charts.plotly, ...(charts.owner === undefined ? {} : { owner: charts.owner }) });
  return { final, after: [{ ...chart }] };
}
