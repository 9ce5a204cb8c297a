// One deploy (or rollback) of a service, from taking the lock to writing the audit record: the frame every deploy
// path shares. A DeployRun holds the service's lock, the one progress display that ends as the audit line, the masker
// of the spec's secrets, and writes the record (plus the metrics events) whatever the outcome. The local cutover
// (cutover.ts) and the Swarm update (swarm-deploy.ts) run their steps inside it.
import { randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import type { DisplayHandle, Io } from '../../../kernel/io/io';
import { escapeHtml } from '../../../kernel/io/html';
import { masker } from '../../lib/secrets';
import { DeployRecord, auditLine, listRecords, restoredAfterMs, writeRecord } from './audit';
import { HeldLock, acquireLock } from './lock';
import { recover, whoDeploys } from './service';
import { DeploySpec, seconds } from './spec';

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

/** Counts a restore (DORA's time to restore) when this successful deploy or rollback ends a failure of the service. */
async function recordRestore(docker: Docker, io: Io, r: DeployRecord): Promise<void> {
  if (!io.record || r.outcome.startsWith('failed')) return;
  const earlier = await listRecords(docker, r.service).catch(() => []);
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

  /** Takes the service's lock; a lock left by a dead kernel is taken over and that deploy's leftovers cleaned. */
  async lockService(): Promise<void> {
    this.lock = await acquireLock(this.docker, this.spec.service, this.imageId, this.deployId, this.spec.lockWaitMs, this.io.signal);
    const dead = this.lock.recoveredFrom;
    if (dead) {
      this.io.stream('stderr', `[opsbook] took over the deploy lock of ${this.spec.service} from ${dead.by} (kernel pid ${dead.pid}, gone) held since ${dead.since}\n`);
      await recover(this.docker, this.spec.service, dead.deployId, this.io);
    }
  }

  async release(): Promise<void> {
    await this.lock?.release();
  }

  /** Shows where the run is, with the time since it started. */
  step(text: string): void {
    const { kind, spec } = this;
    const elapsed = seconds(Date.now() - this.startedAt);
    this.display.update({
      'text/plain': `${kind} ${spec.image} → ${spec.service}: ${text} (${elapsed})`,
      'text/html': `<b>${escapeHtml(kind)}</b> <code>${escapeHtml(spec.image)}</code> → <code>${escapeHtml(spec.service)}</code>: ${escapeHtml(text)} (${elapsed})`,
    });
  }

  /** Replaces the progress with the final bundle (the audit line, maybe with a table under it). */
  finish(bundle: Record<string, string>): void {
    this.display.update(bundle);
  }

  /** Writes the audit record and counts the outcome; the display then ends as the audit line. */
  async record(outcome: string, cutoverGapMs: number | undefined): Promise<DeployRecord> {
    const { spec, io } = this;
    const r: DeployRecord = {
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
      cutoverGapMs,
    };
    const failed = outcome.startsWith('failed');
    io.record?.({ kind: spec.kind, service: spec.service, outcome: failed ? 'failed' : spec.kind === 'rollback' ? 'rolled back' : 'deployed' });
    await recordRestore(this.docker, io, r);
    await writeRecord(this.docker, r).catch((e: Error) => io.stream('stderr', `[opsbook] the audit record could not be written: ${e.message}\n`));
    this.finish(auditBundle(r));
    return r;
  }
}

/** Runs `work` inside a run that holds the service's lock, releasing it whatever happens. */
export async function withDeployRun<T>(run: DeployRun, work: (run: DeployRun) => Promise<T>): Promise<T> {
  try {
    await run.lockService();
    return await work(run);
  } finally {
    await run.release();
  }
}
