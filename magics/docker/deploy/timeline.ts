// What happened during one canary rollout, as data kept while it runs (no engine, no Prometheus): when each step gave
// the new version its share, every measurement of every analysis, and how it ended (promoted, or rolled back with the
// reason and the analysis that failed). The end display (rollout-report.ts, rollout-figure.ts) and the audit record's
// time to restore are read from it.
import type { Analysis, AnalysisVerdict, Measurement } from './analysis';

export interface StepMark {
  /** 0-based step number. */
  index: number;
  percent: number;
  /** When the proxy took the step's weights (ms since the epoch). */
  at: number;
}

export type RolloutEnd =
  | { outcome: 'promoted'; at: number }
  | {
      outcome: 'rolled back';
      /** When the new version's weight was back at 0: every new request to the old version again. */
      at: number;
      why: string;
      verdict?: AnalysisVerdict;
      /** The step it stopped at (0-based), undefined before the first one. */
      stepIndex: number | undefined;
    };

export class RolloutTimeline {
  readonly steps: StepMark[] = [];
  private readonly byAnalysis = new Map<string, Measurement[]>();
  private ended: RolloutEnd | undefined;

  /** `startedAt`: when the rollout began (the stage, before any request went to the new version). */
  constructor(readonly analyses: readonly Analysis[], readonly startedAt: number = Date.now()) {
    for (const a of analyses) this.byAnalysis.set(a.name, []);
  }

  stepStarted(index: number, percent: number, at: number = Date.now()): void {
    this.steps.push({ index, percent, at });
  }

  measured(a: Analysis, m: Measurement): void {
    this.byAnalysis.get(a.name)?.push(m);
  }

  promoted(at: number = Date.now()): void {
    this.ended = { outcome: 'promoted', at };
  }

  /** The new version's weight is 0 again, for `why` (the verdict when an analysis failed the rollout). */
  rolledBack(why: string, verdict: AnalysisVerdict | undefined, at: number = Date.now()): void {
    this.ended = { outcome: 'rolled back', at, why, verdict, stepIndex: this.steps.at(-1)?.index };
  }

  get end(): RolloutEnd | undefined {
    return this.ended;
  }

  measurements(a: Analysis): readonly Measurement[] {
    return this.byAnalysis.get(a.name) ?? [];
  }

  /** When the new version first got a share of the requests (the first step with a weight above 0). */
  get firstTrafficAt(): number | undefined {
    return this.steps.find((s) => s.percent > 0)?.at;
  }

  /** The first failed measurement of any analysis. */
  get firstFailureAt(): number | undefined {
    const times = [...this.byAnalysis.values()].flatMap((ms) => ms.filter((m) => m.kind === 'failure').map((m) => m.at));
    return times.length === 0 ? undefined : Math.min(...times);
  }

  /**
   * DORA's time to restore of a rolled-back canary: from the first request the new version could get (its first
   * step) to every new request going to the old version again. Undefined when it got no request or was not rolled back.
   */
  get restoredMs(): number | undefined {
    const from = this.firstTrafficAt;
    if (this.ended?.outcome !== 'rolled back' || from === undefined) return undefined;
    return Math.max(0, this.ended.at - from);
  }
}
