// How a local deploy fails before its new version serves: the new version's last log lines and health checks shown
// under the error, the new version removed, the audit record and the progress display saying why and what serves.
// Shared by the cutover's steps (cutover.ts) and a canary's staging (rollout.ts).
import type Docker from 'dockerode';
import { MagicError } from '../../../kernel/io/errors';
import { whyUnhealthy } from './health';
import { DeployRun } from './run';
import { removeQuietly } from './service';

/** What a failed deploy's error shows under its message: the new container's last log lines and health checks. */
export async function failureDetails(run: DeployRun, container: Docker.Container): Promise<string> {
  const why = await whyUnhealthy(container);
  return run.mask(['last log lines:', ...why.logs, ...(why.healthLog.length ? ['health checks:', ...why.healthLog] : [])].join('\n'));
}

/** Fails the deploy: the candidate removed, the record and the display saying why and what serves. */
export async function fail(run: DeployRun, candidate: Docker.Container, what: string, kept: string): Promise<never> {
  const { spec } = run;
  const details = await failureDetails(run, candidate);
  await removeQuietly(candidate);
  await run.record(`failed: ${what}; ${kept}`, {});
  throw new MagicError(`${spec.kind} of ${spec.image} to ${spec.service} failed: ${what}; ${kept}`, details);
}

