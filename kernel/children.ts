// Ends the child processes a kernel started (shell commands, servers a cell spawned) at shutdown.
import { readdirSync, readFileSync } from 'node:fs';

function childrenOf(pid: number, table: Map<number, number[]>): number[] {
  const direct = table.get(pid) ?? [];
  return direct.flatMap((c) => [c, ...childrenOf(c, table)]);
}

/** Every descendant of this process, read from /proc (empty where /proc is missing). */
export function descendants(root = process.pid): number[] {
  const table = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return [];
  }
  for (const d of entries) {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = table.get(ppid) ?? [];
      list.push(Number(d));
      table.set(ppid, list);
    } catch {
      // the process ended while we looked
    }
  }
  return childrenOf(root, table);
}

function signal(pids: number[], sig: NodeJS.Signals | number): number[] {
  return pids.filter((pid) => {
    try {
      process.kill(pid, sig);
      return true;
    } catch {
      return false;
    }
  });
}

/** SIGTERM to every descendant, then SIGKILL to those still alive after `graceMs`. */
export async function endChildren(graceMs = 1000): Promise<void> {
  const alive = signal(descendants(), 'SIGTERM');
  if (alive.length === 0) return;
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && signal(alive, 0).length > 0) await new Promise((r) => setTimeout(r, 50));
  signal(alive, 'SIGKILL');
}
