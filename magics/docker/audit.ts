// The audit trail of deploys, kept on the engine: every deploy (and rollback), whatever its outcome, leaves a
// record — a created, never started container whose labels say who, when, which image replaced which, how it
// ended and how long it took — and the same facts as one line in the cell output, which stays in the saved
// notebook. %history <service> lists the records.
import type Docker from 'dockerode';
import { escapeHtml } from '../../kernel/io/html';
import type { Magic } from '../registry';
import type { DockerConnection } from './connection';
import { LABEL } from './labels';

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
  /** "deployed", "failed: <why>; <old> kept serving", "rolled back: ...". */
  outcome: string;
  durationMs: number;
  cutoverGapMs: number | undefined;
}

const RECORD = LABEL.deployRecord;
/** Records kept per service; older ones are removed when a new one is written. */
const RECORDS_KEPT = 100;

export function auditLine(r: DeployRecord): string {
  const gap = r.cutoverGapMs === undefined ? '' : `, cutover gap ${r.cutoverGapMs} ms`;
  const previous = r.previousImage ? `, previous ${r.previousImage.replace(/^sha256:/, '').slice(0, 12)}` : ', first deploy';
  return `[audit] ${r.kind} ${r.image} (${r.imageId.replace(/^sha256:/, '').slice(0, 12)}) to ${r.service} by ${r.by} at ${r.at}: ${r.outcome} in ${(r.durationMs / 1000).toFixed(1)} s${previous}${gap} (deploy ${r.deployId})`;
}

const failed = (r: DeployRecord) => r.outcome.startsWith('failed');
const succeeded = (r: DeployRecord) => !failed(r);

/**
 * How long the service had been failing when a deploy or rollback succeeds now (DORA's time to restore), from the
 * service's earlier records, newest first; undefined when this success restores nothing.
 * - A successful rollback undoes the newest successful deploy: the failure began when that deploy went out.
 * - A successful deploy right after failed ones (a fix going out): the failure began with the first of those.
 */
export function restoredAfterMs(earlier: DeployRecord[], kind: string, nowMs: number): number | undefined {
  let since: string | undefined;
  if (kind === 'rollback') {
    since = earlier.find((r) => succeeded(r) && r.kind.startsWith('deploy'))?.at;
  } else {
    for (const r of earlier) {
      if (!failed(r)) break;
      since = r.at;
    }
  }
  const sinceMs = since === undefined ? NaN : Date.parse(since);
  return Number.isFinite(sinceMs) ? Math.max(0, nowMs - sinceMs) : undefined;
}

/** Writes the record as a labelled, never started container, and trims old records of the service. */
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
  };
  await docker.createContainer({ name: `opsbook-record-${r.service}-${r.deployId}`, Image: r.imageId, Cmd: ['true'], Labels: labels });
  const records = await listRecords(docker, r.service);
  for (const old of records.slice(RECORDS_KEPT)) await docker.getContainer(`opsbook-record-${old.service}-${old.deployId}`).remove({ force: true }).catch(() => undefined);
}

/** The service's records, newest first. */
export async function listRecords(docker: Docker, service: string): Promise<DeployRecord[]> {
  const containers = await docker.listContainers({ all: true, filters: { label: [`${RECORD}=true`, `${LABEL.service}=${service}`] } });
  return containers
    .map((c) => {
      const l = c.Labels;
      const gap = l['opsbook.cutover-gap-ms'];
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
      };
    })
    .sort((a, b) => b.at.localeCompare(a.at));
}

export function historyMagic(connection: DockerConnection): Magic {
  return {
    name: 'history',
    summary: "list a service's deploys and rollbacks (who, when, image, outcome, duration) from the engine",
    kind: 'line',
    positional: { name: 'service', description: 'the service name given to %deploy --name', required: true },
    options: [{ name: 'limit', type: 'number', valueName: 'n', description: 'show the newest n (default 20)' }],
    run: async ({ args, bound }) => {
      const { docker } = await connection.engine();
      const limit = typeof args.options.limit === 'number' ? args.options.limit : 20;
      const records = (await listRecords(docker, args.rest)).slice(0, limit);
      if (bound) return records;
      if (records.length === 0) return { [Symbol.for('Jupyter.display')]: () => ({ 'text/plain': `no deploys of ${args.rest} recorded on this engine` }) };
      const cols = ['at', 'kind', 'image', 'outcome', 'by', 'duration', 'gap'];
      const rows = records.map((r) => [r.at, r.kind, r.image, r.outcome, r.by, `${(r.durationMs / 1000).toFixed(1)} s`, r.cutoverGapMs === undefined ? '' : `${r.cutoverGapMs} ms`]);
      const html = `<table><tr>${cols.map((c) => `<th style="text-align:left">${c}</th>`).join('')}</tr>${rows.map((row) => `<tr>${row.map((v) => `<td style="text-align:left">${escapeHtml(v)}</td>`).join('')}</tr>`).join('')}</table>`;
      const text = records.map(auditLine).join('\n');
      return { [Symbol.for('Jupyter.display')]: () => ({ 'text/plain': text, 'text/html': html }) };
    },
  };
}
