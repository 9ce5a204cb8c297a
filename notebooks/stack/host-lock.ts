// A lock file in os.tmpdir() shared by every process of this machine that may start dockerd, import the base images
// or install the sample app's node_modules at the same moment (the jest workers, the demo, `stack:up`).
import { closeSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Runs fn while holding a lock file in os.tmpdir(); a lock whose owner process is gone is taken over. */
export async function withHostLock<T>(name: string, fn: () => Promise<T>, timeoutMs = 180000): Promise<T> {
  const lockFile = path.join(os.tmpdir(), `opsbook-${name}.lock`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(lockFile, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (lockIsStale(lockFile)) rmSync(lockFile, { force: true });
      else if (Date.now() > deadline) throw new Error(`lock ${lockFile} still held after ${timeoutMs} ms (remove it if no test is running)`);
      else await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockFile, { force: true });
  }
}

function lockIsStale(lockFile: string): boolean {
  try {
    const owner = Number(readFileSync(lockFile, 'utf8'));
    if (!Number.isInteger(owner) || owner <= 0) return Date.now() - statSync(lockFile).mtimeMs > 5000;
    process.kill(owner, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
