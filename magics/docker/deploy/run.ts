// One deploy (or rollback) of a service, from taking the lock to writing the audit record: the frame every deploy
// path shares. A DeployRun holds the service's lock, the one progress display that ends as the audit line (or as
// the error, never as a stale progress line), the masker of the spec's secrets, and the audit record: written as
// "started" when the lock is taken, completed at the end whatever the outcome, so a deploy whose kernel is killed
// still shows in %history (the next deploy completes it as killed when it recovers the service, see reconcile.ts).
// A deploy that cannot get the lock is recorded too. The local cutover (cutover.ts) and the Swarm update
// (swarm-deploy.ts) run their steps inside it. A canary sets how the display ends (its summary and chart, `ending`).
import { randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import type { DisplayHandle, Io } from '../../../kernel/io/io';
import { escapeHtml } from '../../../kernel/io/html';
import { masker } from '../../lib/secrets';
import { serviceFilter } from '../engine/labels';
import { DeployRecord, auditLine, listRecords, restoredAfterMs, writeRecord } from './audit';
import type { RolloutEnding } from './rollout-report';
import { HeldLock, acquireLock } from './lock';
import { reconcile } from './reconcile';
import { whoDeploys } from './service';
import { DeploySpec, seconds } from './spec';

/** The times an audit record carries: the switch through the proxy, or the cutover gap of a deploy without one. */
export interface RecordTimes {
  switchMs?: number;
  gapMs?: number;
  /** A failed canary rolled back: how long the new version had requests (see DeployRecord.restoredMs). */
  restoredMs?: number;
}

/** What `const d = %deploy ...` binds. */
export interface DeployResult extends DeployRecord {
  container: string;
}

function newDeployId(): string {
  return `${new Date().toISOString().replace(/[-:T]/g, '').slice(2, 14)}${randomBytes(2).toString('hex')}`;
}

/** The audit line as the deploy's display ends with it, whatever the outcome. */
export function auditBundle(r: DeployRecord): { 'text/plain': string; 'text/html': string } {
  const line = auditLine(r);
  return { 'text/plain': line, 'text/html': `<pre>${escapeHtml(line)}</pre>` };
}

/**
 * Counts a restore (DORA's time to restore) when this successful deploy or rollback ends a failure of the service, or
 * when this failed change restored itself (a canary rolled back: restoredMs).
 */
async function recordRestore(docker: Docker, io: Io, r: DeployRecord): Promise<void> {
  if (!io.record) return;
  if (r.restoredMs !== undefined) {
    io.record({ kind: 'restore', service: r.service, seconds: r.restoredMs / 1000 });
    return;
  }
  if (r.outcome.startsWith('failed')) return;
  const earlier = (await listRecords(docker, r.service).catch(() => [])).filter((e) => e.deployId !== r.deployId);
  const ms = restoredAfterMs(earlier, r.kind, Date.now());
  if (ms !== undefined) io.record({ kind: 'restore', service: r.service, seconds: ms / 1000 });
}

export class DeployRun {
  readonly deployId = newDeployId();
  readonly startedAt = Date.now();
  readonly at = new Date().toISOString();
  readonly by = whoDeploys();
  readonly mask: (text: string) => string;
  /** The image id of the version this deploy replaces ('' for a first deploy); set once the run knows it. */
  previousImage = '';
  private readonly display: DisplayHandle;
  private lock: HeldLock | undefined;
  /** Whether the record was completed (a step that failed recorded why before it threw). */
  private recorded = false;
  /** What the display ends as once the record is written, and what is shown under it; the audit line by default. */
  ending: ((r: DeployRecord) => RolloutEnding | undefined) | undefined;

  /** `kind` is what the record and the progress say: "deploy", "rollback", "deploy (swarm)". */
  constructor(
    readonly docker: Docker,
    readonly io: Io,
    readonly spec: DeploySpec,
    readonly imageId: string,
    private readonly kind: string = spec.kind,
  ) {
    this.mask = masker(spec.secretValues);
    this.display = io.display({ 'text/plain': `${kind} ${spec.image} → ${spec.service}: waiting for the deploy lock` });
  }

  /**
   * Takes the service's lock and writes the "started" record; a lock left by a dead kernel is taken over and the
   * service reconciled first. A deploy that cannot get the lock is recorded as failed, then the error goes on.
   */
  async lockService(): Promise<void> {
    try {
      this.lock = await acquireLock(this.docker, this.spec.service, this.imageId, this.deployId, this.spec.lockWaitMs, this.io.signal);
    } catch (e) {
      await this.record(`refused: ${(e as Error).message}`, {});
      throw e;
    }
    await this.write('started', {});
    const dead = this.lock.recoveredFrom;
    if (dead) {
      this.io.stream('stderr', `[opsbook] took over the deploy lock of ${this.spec.service} from ${dead.by} (kernel pid ${dead.pid}, gone) held since ${dead.since}\n`);
      this.step(`recovering ${this.spec.service} from the interrupted deploy ${dead.deployId}`);
      for (const line of await reconcile(this.docker, this.spec.service, dead.deployId)) this.io.stream('stderr', `[opsbook] ${line}\n`);
    }
  }

  async release(): Promise<void> {
    await this.lock?.release();
  }

  /** Shows where the run is, with the time since it started, and `details` lines under it (a canary's analyses). */
  step(text: string, details: readonly string[] = []): void {
    const { kind, spec } = this;
    const elapsed = seconds(Date.now() - this.startedAt);
    const plain = details.map((d) => `\n  ${d}`).join('');
    const html = details.length > 0 ? `<pre>${details.map(escapeHtml).join('\n')}</pre>` : '';
    this.display.update({
      'text/plain': `${kind} ${spec.image} → ${spec.service}: ${text} (${elapsed})${plain}`,
      'text/html': `<b>${escapeHtml(kind)}</b> <code>${escapeHtml(spec.image)}</code> → <code>${escapeHtml(spec.service)}</code>: ${escapeHtml(text)} (${elapsed})${html}`,
    });
  }

  /** Replaces the progress with the final bundle (the audit line, maybe with a table under it). */
  finish(bundle: Record<string, string>): void {
    this.display.update(bundle);
  }

  /** The record as it stands, with `outcome` (secrets masked). */
  private recordOf(outcome: string, times: RecordTimes): DeployRecord {
    const { spec } = this;
    return {
      service: spec.service,
      deployId: this.deployId,
      kind: this.kind,
      image: spec.image,
      imageId: this.imageId,
      previousImage: this.previousImage,
      by: this.by,
      at: this.at,
      outcome: this.mask(outcome),
      durationMs: Date.now() - this.startedAt,
      cutoverGapMs: times.gapMs,
      ...(times.switchMs !== undefined ? { switchMs: times.switchMs } : {}),
      ...(times.restoredMs !== undefined ? { restoredMs: times.restoredMs } : {}),
    };
  }

  private async write(outcome: string, times: RecordTimes): Promise<DeployRecord> {
    const r = this.recordOf(outcome, times);
    await writeRecord(this.docker, r).catch((e: Error) => this.io.stream('stderr', `[opsbook] the audit record could not be written: ${e.message}\n`));
    return r;
  }

  /** Completes the audit record and counts the outcome; the display then ends as the audit line. */
  async record(outcome: string, times: RecordTimes): Promise<DeployRecord> {
    const { spec, io } = this;
    const r = this.recordOf(outcome, times);
    this.recorded = true;
    const failed = outcome.startsWith('failed');
    if (!outcome.startsWith('refused')) {
      io.record?.({ kind: spec.kind, service: spec.service, outcome: failed ? 'failed' : spec.kind === 'rollback' ? 'rolled back' : 'deployed' });
      await recordRestore(this.docker, io, r);
    }
    await this.write(outcome, times);
    this.end(r);
    return r;
  }

  /** The display's end: the audit line, or the ending a canary set (then its chart under it). */
  private end(r: DeployRecord): void {
    let ending: RolloutEnding | undefined;
    try {
      ending = this.ending?.(r);
    } catch (e) {
      this.io.stream('stderr', `[opsbook] the rollout's summary could not be drawn: ${(e as Error).message}\n`);
    }
    this.finish(ending?.final ?? auditBundle(r));
    for (const bundle of ending?.after ?? []) this.io.display(bundle);
  }

  /** After an error no step recorded (an engine failure, an interrupt): the record and the display say so. */
  async recordError(e: unknown): Promise<void> {
    if (this.recorded) return;
    const why = this.io.signal.aborted ? 'interrupted' : (e as Error).message;
    await this.record(`failed: ${why}`, {}).catch(() => undefined);
  }
}

/**
 * A deploy refused before it could start (its image is not on the engine): recorded all the same, so %history shows
 * every attempt, when the engine has any image of the service to hold the record; then the error goes on.
 */
export async function recordRefused(docker: Docker, io: Io, spec: DeploySpec, kind: string, error: Error): Promise<never> {
  const anyImage = (await docker.listContainers({ all: true, filters: serviceFilter(spec.service) }).catch(() => []))[0]?.ImageID;
  if (anyImage) await new DeployRun(docker, io, spec, anyImage, kind).record(`refused: ${error.message}`, {}).catch(() => undefined);
  throw error;
}

/**
 * How long after an interrupt the cell may wait for the deploy to put the service in order (weights back, the old
 * version alone in the proxy, the new one drained and stopped, the record written, the lock released), beyond --drain.
 */
export const INTERRUPT_WAIT_BEYOND_DRAIN_MS = 120_000;

/**
 * Runs `work` inside a run that holds the service's lock, releasing it whatever happens. An interrupt's answer waits
 * for all of it (bounded: --drain plus INTERRUPT_WAIT_BEYOND_DRAIN_MS), so a cell run next finds the service in
 * order and its lock free, never a rollback still going on behind it.
 */
export function withDeployRun<T>(run: DeployRun, work: (run: DeployRun) => Promise<T>): Promise<T> {
  const whole = (async () => {
    try {
      await run.lockService();
      return await work(run);
    } catch (e) {
      await run.recordError(e);
      throw e;
    } finally {
      await run.release();
    }
  })();
  const { io, spec } = run;
  return io.holdInterrupt ? io.holdInterrupt(whole, `the ${spec.kind} of ${spec.service} (putting it back in order, then releasing its lock)`, spec.drainMs + INTERRUPT_WAIT_BEYOND_DRAIN_MS) : whole;
}
