// %deploy --cleanup --name S: puts the service in order after failed or interrupted deploys. It takes the service's
// deploy lock first, so it never touches a deploy whose kernel is alive (that deploy is named, and nothing is done);
// a dead kernel's lock is taken over. Then the service is reconciled (reconcile.ts: one version routed and running,
// candidates that never served removed, old versions stopped) and stopped versions beyond --keep are removed.
import type Docker from 'dockerode';
import { MagicError } from '../../../kernel/io/errors';
import { acquireLock } from './lock';
import { reconcile } from './reconcile';
import { trimOld } from './service';

/** What was done, one line each; empty when the service was in order. */
export async function cleanupService(docker: Docker, service: string, keep: number, lockImage: string, signal: AbortSignal): Promise<string[]> {
  let lock;
  try {
    lock = await acquireLock(docker, service, lockImage, `cleanup-${Date.now().toString(36)}`, 0, signal);
  } catch (e) {
    if (e instanceof MagicError) throw new MagicError(`nothing cleaned up: ${e.message}`, e.hint);
    throw e;
  }
  try {
    const done: string[] = [];
    if (lock.recoveredFrom) done.push(`took over the deploy lock of a kernel that is gone (pid ${lock.recoveredFrom.pid}, held since ${lock.recoveredFrom.since})`);
    done.push(...(await reconcile(docker, service, lock.recoveredFrom?.deployId)));
    const trimmed = await trimOld(docker, service, keep);
    if (trimmed > 0) done.push(`removed ${trimmed} stopped old version${trimmed === 1 ? '' : 's'} beyond --keep ${keep}`);
    return done;
  } finally {
    await lock.release();
  }
}
