// The audit trail of deploys, kept on the engine: every deploy (and rollback), whatever its outcome, leaves a
// record — a created, never started container whose labels say who, when, which image replaced which, how it
// ended and how long it took — and the same facts as one line in the cell output, which stays in the saved
// notebook. %history <service> lists the records (history.ts). The records are also where DORA's time to restore is
// read from (restoredAfterMs): a failed canary that rolled itself back says how long it took in restoredMs.
import type Docker from 'dockerode';
import { LABEL } from '../engine/labels';

export interface DeployRecord {
  service: string;
  deployId: string;
  /** "deploy" or "rollback". */
  kind: string;
  image: string;
  imageId: string;
  previousImage: string;
  by: string;
  at: string;
  /** "started" (written when the deploy takes the lock), "deployed", "failed: <why>; <old> kept serving", "rolled back", "killed: ...". */
  outcome: string;
  durationMs: number;
  /** Deploys before the proxy: from stopping the old version until the new one answered. */
  cutoverGapMs: number | undefined;
  /** Through the proxy: from the new version passing its gate to the proxy confirming it routes to it (no gap). */
  switchMs?: number;
  /**
   * A failed change restored automatically (a canary rolled back): from the first request the new version could get
   * to every new request going to the old version again. DORA counts it as a failure and its restore at once.
   */
  restoredMs?: number;
}

const RECORD = LABEL.deployRecord;
/** Records kept per service; older ones are removed when a new one is written. */
const RECORDS_KEPT = 100;

export function auditLine(r: DeployRecord): string {
  const gap = r.switchMs !== undefined ? `, switched in ${r.switchMs} ms with no gap` : r.cutoverGapMs === undefined ? '' : `, cutover gap ${r.cutoverGapMs} ms`;
  const previous = r.previousImage ? `, previous ${r.previousImage.replace(/^sha256:/, '').slice(0, 12)}` : ', first deploy';
  const restored = r.restoredMs === undefined ? '' : `, restored automatically ${(r.restoredMs / 1000).toFixed(1)} s after the new version's first request`;
  return `[audit] ${r.kind} ${r.image} (${r.imageId.replace(/^sha256:/, '').slice(0, 12)}) to ${r.service} by ${r.by} at ${r.at}: ${r.outcome} in ${(r.durationMs / 1000).toFixed(1)} s${previous}${gap}${restored} (deploy ${r.deployId})`;
}

/** A deploy that did not end (yet): its kernel died, or it is running now. */
const unfinished = (r: DeployRecord) => r.outcome === 'started';
const failed = (r: DeployRecord) => r.outcome.startsWith('failed') || r.outcome.startsWith('killed');
/** Deploys that changed what serves; "refused" ones (the lock was held) changed nothing and count as neither. */
const succeeded = (r: DeployRecord) => ['deployed', 'rolled back', 'created', 'updated'].includes(r.outcome);
/** A failure that restored itself (a canary rolled back): counted with its restore already, it leaves nothing open. */
const restoredItself = (r: DeployRecord) => failed(r) && r.restoredMs !== undefined;

/**
 * How long the service had been failing when a deploy or rollback succeeds now (DORA's time to restore), from the
 * service's earlier records, newest first; undefined when this success restores nothing.
 * - A successful rollback undoes the newest successful deploy: the failure began when that deploy went out.
 * - A successful deploy right after failed ones (a fix going out): the failure began with the first of those.
 * - A canary that rolled itself back was restored when it did (its record says how fast): it neither opens a failure
 *   for a later success to restore, nor closes an earlier one.
 */
export function restoredAfterMs(earlier: DeployRecord[], kind: string, nowMs: number): number | undefined {
  let since: string | undefined;
  if (kind === 'rollback') {
    since = earlier.find((r) => succeeded(r) && r.kind.startsWith('deploy'))?.at;
  } else {
    for (const r of earlier) {
      if (unfinished(r) || restoredItself(r) || (!failed(r) && !succeeded(r))) continue;
      if (!failed(r)) break;
      since = r.at;
    }
  }
  const sinceMs = since === undefined ? NaN : Date.parse(since);
  return Number.isFinite(sinceMs) ? Math.max(0, nowMs - sinceMs) : undefined;
}

function recordName(service: string, deployId: string): string {
  return `opsbook-record-${service}-${deployId}`;
}

/**
 * Writes the record as a labelled, never started container (replacing the deploy's earlier record: labels cannot
 * change, so a "started" record is completed by writing it again), and trims old records of the service.
 */
export async function writeRecord(docker: Docker, r: DeployRecord): Promise<void> {
  const labels: Record<string, string> = {
    [LABEL.managed]: 'true',
    [RECORD]: 'true',
    [LABEL.service]: r.service,
    [LABEL.deployId]: r.deployId,
    [LABEL.image]: r.image,
    [LABEL.previousImage]: r.previousImage,
    [LABEL.deployedBy]: r.by,
    [LABEL.deployedAt]: r.at,
    'opsbook.kind': r.kind,
    'opsbook.image-id': r.imageId,
    'opsbook.outcome': r.outcome,
    'opsbook.duration-ms': String(r.durationMs),
    'opsbook.cutover-gap-ms': r.cutoverGapMs === undefined ? '' : String(r.cutoverGapMs),
    'opsbook.switch-ms': r.switchMs === undefined ? '' : String(r.switchMs),
    'opsbook.restored-ms': r.restoredMs === undefined ? '' : String(r.restoredMs),
  };
  const name = recordName(r.service, r.deployId);
  await docker.getContainer(name).remove({ force: true }).catch(() => undefined);
  await docker.createContainer({ name, Image: r.imageId, Cmd: ['true'], Labels: labels });
  const records = await listRecords(docker, r.service);
  for (const old of records.slice(RECORDS_KEPT)) await docker.getContainer(recordName(old.service, old.deployId)).remove({ force: true }).catch(() => undefined);
}

/** The service's records, newest first. */
export async function listRecords(docker: Docker, service: string): Promise<DeployRecord[]> {
  const containers = await docker.listContainers({ all: true, filters: { label: [`${RECORD}=true`, `${LABEL.service}=${service}`] } });
  return containers
    .map((c) => {
      const l = c.Labels;
      const gap = l['opsbook.cutover-gap-ms'];
      const switched = l['opsbook.switch-ms'];
      const restored = l['opsbook.restored-ms'];
      return {
        service: l[LABEL.service] ?? service,
        deployId: l[LABEL.deployId] ?? '',
        kind: l['opsbook.kind'] ?? 'deploy',
        image: l[LABEL.image] ?? '',
        imageId: l['opsbook.image-id'] ?? '',
        previousImage: l[LABEL.previousImage] ?? '',
        by: l[LABEL.deployedBy] ?? '',
        at: l[LABEL.deployedAt] ?? '',
        outcome: l['opsbook.outcome'] ?? '',
        durationMs: Number(l['opsbook.duration-ms'] ?? 0),
        cutoverGapMs: gap ? Number(gap) : undefined,
        ...(switched ? { switchMs: Number(switched) } : {}),
        ...(restored ? { restoredMs: Number(restored) } : {}),
      };
    })
    .sort((a, b) => b.at.localeCompare(a.at));
}
