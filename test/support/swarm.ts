// A one-node Swarm for tests and benchmarks on a shared engine: joined only if the engine is not a Swarm manager
// yet (`docker swarm init --advertise-addr 127.0.0.1`), and left only by whoever created it, after its own
// services are gone. Also removing one `%deploy --swarm` service with everything it made: the service (its tasks
// stop), its proxy, and its overlay network once no task is attached any more.
import { execFileSync } from 'node:child_process';
import { requestLoop } from './request-loop';

export function swarmState(): string {
  return execFileSync('docker', ['info', '--format', '{{.Swarm.LocalNodeState}}'], { encoding: 'utf8' }).trim();
}

/** Makes the engine a one-node Swarm manager if it is not one; true when this call created the swarm. */
export function joinSwarm(): boolean {
  if (swarmState() === 'active') return false;
  execFileSync('docker', ['swarm', 'init', '--advertise-addr', '127.0.0.1'], { stdio: 'ignore' });
  return true;
}

/** Leaves the swarm, only if `created` (this process made it) and no service is left in it. */
export function leaveSwarmIfOurs(created: boolean): void {
  if (!created || swarmState() !== 'active') return;
  const services = execFileSync('docker', ['service', 'ls', '-q'], { encoding: 'utf8' }).trim();
  if (services !== '') {
    console.warn(`[swarm] not leaving the swarm: other services run in it (${services.split('\n').length})`);
    return;
  }
  execFileSync('docker', ['swarm', 'leave', '--force'], { stdio: 'ignore' });
}

const sh = (script: string) => execFileSync('sh', ['-c', script], { encoding: 'utf8' });

/** Removes a `%deploy --swarm` service, its proxy and containers, and its overlay network (waits for its tasks to go). */
export async function removeSwarmService(service: string, timeoutMs = 60_000): Promise<void> {
  sh(`docker service rm ${service} >/dev/null 2>&1; docker rm -f $(docker ps -aq --filter label=opsbook.service=${service}) >/dev/null 2>&1; true`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const net = `opsbook-swarm-${service}`;
    sh(`docker network rm ${net} >/dev/null 2>&1; true`);
    if (sh(`docker network inspect ${net} >/dev/null 2>&1 || echo gone; true`).trim() === 'gone') return;
    if (Date.now() > deadline) throw new Error(`the network opsbook-swarm-${service} still has endpoints after ${timeoutMs / 1000} s`);
    sh(`docker rm -f $(docker ps -aq --filter label=opsbook.service=${service}) >/dev/null 2>&1; true`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

export interface LoopTotals {
  total: number;
  failed: number;
  bodies: Set<string>;
  ms: number;
}

/**
 * `count` request loops at once (each bounded in count and time; back to back), so a busy 2-core machine still
 * sends enough requests across one update; stop() sums them.
 */
export function parallelLoops(port: number, count: number, bounds: { maxRequests: number; maxMs: number }): { stop(): Promise<LoopTotals> } {
  const started = Date.now();
  const loops = Array.from({ length: count }, () => requestLoop(port, { pauseMs: 0, maxRequests: Math.ceil(bounds.maxRequests / count), maxMs: bounds.maxMs }));
  return {
    async stop() {
      const all = await Promise.all(loops.map((l) => l.stop()));
      return { total: all.reduce((n, s) => n + s.total, 0), failed: all.reduce((n, s) => n + s.failed, 0), bodies: new Set(all.flatMap((s) => [...s.bodies])), ms: Date.now() - started };
    },
  };
}
