// %deploy --cleanup --name S: removes what failed or interrupted deploys of a service left, found by their labels:
// candidates, the lock of a kernel that is gone, and stopped versions beyond --keep. It never touches the version
// that serves, nor a lock whose holder is alive.
import type Docker from 'dockerode';
import { containerName } from '../engine/containers';
import { LABEL, serviceFilter } from '../engine/labels';
import { holderOf, isStale } from './lock';
import { isCandidate, removeQuietly, trimOld } from './service';

/** What was removed, one line each; empty when there was nothing to clean. */
export async function cleanupService(docker: Docker, service: string, keep: number): Promise<string[]> {
  const removed: string[] = [];
  for (const c of await docker.listContainers({ all: true, filters: serviceFilter(service) })) {
    const name = containerName(c);
    if (isCandidate(c)) {
      await removeQuietly(docker.getContainer(c.Id));
      removed.push(`${name} (a candidate left by deploy ${c.Labels[LABEL.deployId] ?? '?'})`);
    } else if (c.Labels[LABEL.lock] === 'true') {
      const holder = holderOf(c.Labels);
      if (isStale(holder)) {
        await removeQuietly(docker.getContainer(c.Id));
        removed.push(`${name} (the lock of a kernel that is gone, held since ${holder.since})`);
      }
    }
  }
  const trimmed = await trimOld(docker, service, keep);
  if (trimmed > 0) removed.push(`${trimmed} stopped old version${trimmed === 1 ? '' : 's'} beyond --keep ${keep}`);
  return removed;
}
