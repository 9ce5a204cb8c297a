// The deploy lock of a service, kept on the engine so every notebook and kernel that deploys there sees it: a
// created (never started) container named opsbook-lock-<service>, whose creation is atomic (a second create
// gets 409). Its labels say who holds it (user@host, kernel pid) and since when. A lock whose holder was a
// kernel on this host that no longer runs is stale and is taken over; any other holder is waited for, then
// reported.
import * as os from 'node:os';
import type Docker from 'dockerode';
import { MagicError } from '../../../kernel/io/errors';
import { LABEL } from '../engine/labels';

export interface LockHolder {
  by: string;
  host: string;
  pid: number;
  since: string;
  deployId: string;
}

export interface HeldLock {
  /** Whether an earlier, dead holder's lock was taken over (its deploy's leftovers should be cleaned). */
  recoveredFrom: LockHolder | undefined;
  release(): Promise<void>;
}

const LOCK_PREFIX = 'opsbook-lock-';
const POLL_MS = 500;

function lockName(service: string): string {
  return `${LOCK_PREFIX}${service}`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Who holds a lock, from its container's labels. */
export function holderOf(labels: Record<string, string> | undefined): LockHolder {
  const l = labels ?? {};
  return { by: l['opsbook.lock.by'] ?? '?', host: l['opsbook.lock.host'] ?? '?', pid: Number(l['opsbook.lock.pid'] ?? 0), since: l['opsbook.lock.since'] ?? '?', deployId: l[LABEL.deployId] ?? '?' };
}

/** A holder that was a kernel on this machine whose process is gone: it can never release the lock. */
export function isStale(holder: LockHolder, hostname = os.hostname(), isAlive: (pid: number) => boolean = alive): boolean {
  return holder.host === hostname && holder.pid > 0 && !isAlive(holder.pid);
}

function conflict(e: unknown): boolean {
  return (e as { statusCode?: number }).statusCode === 409;
}

/**
 * Takes the service's lock, waiting up to `waitMs` for a live holder; `image` is any local image (the lock
 * container is never started). Throws MagicError naming the holder and since when.
 */
export async function acquireLock(docker: Docker, service: string, image: string, deployId: string, waitMs: number, signal: AbortSignal): Promise<HeldLock> {
  const name = lockName(service);
  const labels = {
    [LABEL.managed]: 'true',
    [LABEL.lock]: 'true',
    [LABEL.service]: service,
    [LABEL.deployId]: deployId,
    'opsbook.lock.by': `${os.userInfo().username}@${os.hostname()}`,
    'opsbook.lock.host': os.hostname(),
    'opsbook.lock.pid': String(process.pid),
    'opsbook.lock.since': new Date().toISOString(),
  };
  const deadline = Date.now() + waitMs;
  let recoveredFrom: LockHolder | undefined;
  for (;;) {
    if (signal.aborted) throw new MagicError('interrupted while waiting for the deploy lock');
    try {
      const container = await docker.createContainer({ name, Image: image, Cmd: ['true'], Labels: labels, HostConfig: { AutoRemove: false } });
      return {
        recoveredFrom,
        release: async () => {
          await container.remove({ force: true }).catch(() => undefined);
        },
      };
    } catch (e) {
      if (!conflict(e)) throw new MagicError(`cannot take the deploy lock of ${service}: ${(e as Error).message}`);
    }
    let holder: LockHolder;
    try {
      holder = holderOf((await docker.getContainer(name).inspect()).Config.Labels);
    } catch {
      continue; // released between our create and our look: try again at once
    }
    if (isStale(holder)) {
      // its kernel died mid-deploy: take the lock over; the caller cleans what that deploy left
      recoveredFrom = holder;
      await docker.getContainer(name).remove({ force: true }).catch(() => undefined);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new MagicError(`${service} is being deployed by ${holder.by} (kernel pid ${holder.pid}) since ${holder.since}`, `wait for that deploy to finish, or if it is gone for good remove its lock: docker rm ${name}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
