// What the deploy suites read back about a service after a deploy, a kill or a recovery, through the same library
// functions the kernel uses (the proxy's routing from its configuration file, the versions by label): which versions
// the proxy routes, which run, which candidates are left, whether the deploy lock is held. Also the helpers that
// read a kernel's answer: the cell's value, its streams, and the progress display's updates.
import type Docker from 'dockerode';
import type { Message } from '../../kernel/protocol/messages';
import type { ExecuteResult, TestKernel } from './kernel-client';
import { containerName } from '../../magics/docker/engine/containers';
import { currentRouting } from '../../magics/docker/proxy/proxy';
import { isCandidate, routeName, routedServers, versions } from '../../magics/docker/deploy/service';

export interface ServiceState {
  /** The route names (`<service>-<deploy id>`) the proxy's configuration sends requests to. */
  routed: string[];
  /** The route names of the versions running now. */
  running: string[];
  /** Containers of the service still named `…-candidate`. */
  candidates: string[];
  /** Whether the deploy lock container exists. */
  lockHeld: boolean;
}

export async function serviceState(docker: Docker, service: string): Promise<ServiceState> {
  const routing = await currentRouting(docker, service);
  const all = await versions(docker, service);
  const lockHeld = await docker
    .getContainer(`opsbook-lock-${service}`)
    .inspect()
    .then(() => true)
    .catch(() => false);
  return {
    routed: routedServers(routing).map((s) => s.container).sort(),
    running: all.filter((c) => c.State === 'running').map(routeName).sort(),
    candidates: all.filter(isCandidate).map(containerName),
    lockHeld,
  };
}

/** The consistent state every recovery must reach: one version routed, that one alone running, no candidate, no lock. */
export function isConsistent(s: ServiceState): boolean {
  return s.routed.length === 1 && s.running.length === 1 && s.running[0] === s.routed[0] && s.candidates.length === 0 && !s.lockHeld;
}

/** The cell's value (text/plain of its execute_result). */
export function valueOf(r: ExecuteResult): string | undefined {
  return (r.outputs.find((m) => m.header.msg_type === 'execute_result')?.content.data as Record<string, string> | undefined)?.['text/plain'];
}

/** Everything the cell wrote to its streams. */
export function streamsOf(r: ExecuteResult): string {
  return r.outputs
    .filter((m) => m.header.msg_type === 'stream')
    .map((m) => String(m.content.text))
    .join('');
}

/** Every output and the reply, as one searchable text. */
export function textOf(r: ExecuteResult): string {
  return JSON.stringify([r.outputs.filter((m) => m.header.msg_type !== 'execute_input').map((m) => m.content), r.reply.content]);
}

/** The text/plain of a display update (a deploy's progress line), or undefined for any other message. */
export function progressText(m: Message): string | undefined {
  if (m.header.msg_type !== 'update_display_data' && m.header.msg_type !== 'display_data') return undefined;
  return (m.content.data as Record<string, string> | undefined)?.['text/plain'];
}

/**
 * Calls `onStep` (once) as soon as a progress update containing `step` arrives from the kernel; resolves with the
 * update's text then. Register it before the cell runs.
 */
export function whenStep(kernel: TestKernel, step: string, onStep: () => void | Promise<void>, timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no progress update "${step}" within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = kernel.client.onIopubMessage((m) => {
      const text = progressText(m);
      if (done || text === undefined || !text.includes(step)) return;
      done = true;
      clearTimeout(timer);
      off();
      Promise.resolve(onStep()).then(() => resolve(text), reject);
    });
  });
}

/** The service's records as %history binds them: deploy id, kind, image and outcome of each, newest first. */
export async function historyOf(kernel: TestKernel, service: string): Promise<Array<{ deployId: string; kind: string; image: string; outcome: string }>> {
  const r = await kernel.client.execute(`const h = %history ${service} --limit 100\nconsole.log(JSON.stringify(h.map((x) => ({ deployId: x.deployId, kind: x.kind, image: x.image, outcome: x.outcome }))))`);
  const line = streamsOf(r).split('\n').find((l) => l.startsWith('['));
  if (line === undefined) throw new Error(`%history printed no records: ${textOf(r)}`);
  return JSON.parse(line);
}

/** The loop's answers between two progress updates: how many, and how many 200s each body got. */
export interface AnswerWindow {
  from: string;
  to: string;
  total: number;
  byBody: Map<string, number>;
}

/**
 * Counts a request loop's answers between progress updates: a snapshot of its counts at the first update containing
 * each of `marks` (in order), so each step of a rollout gets the answers given while it held. Register it before the
 * cell runs; `windows()` gives the spans between consecutive marks that were seen.
 */
export function answersBetween(kernel: TestKernel, loop: { stats: { total: number; byBody: Map<string, number> } }, marks: string[]): { windows(): AnswerWindow[]; off(): void } {
  const snaps = new Map<string, { total: number; byBody: Map<string, number> }>();
  const off = kernel.client.onIopubMessage((m) => {
    const text = progressText(m);
    if (text === undefined) return;
    for (const mark of marks) if (!snaps.has(mark) && text.includes(mark)) snaps.set(mark, { total: loop.stats.total, byBody: new Map(loop.stats.byBody) });
  });
  return {
    off,
    windows() {
      const seen = marks.filter((m) => snaps.has(m));
      return seen.slice(1).map((to, i) => {
        const a = snaps.get(seen[i]) as { total: number; byBody: Map<string, number> };
        const b = snaps.get(to) as { total: number; byBody: Map<string, number> };
        const byBody = new Map([...b.byBody].map(([body, n]) => [body, n - (a.byBody.get(body) ?? 0)]));
        return { from: seen[i], to, total: b.total - a.total, byBody };
      });
    },
  };
}

/** PromQL: the 5xx share of one version's answers through its service's proxy, over the last 5 s. */
export function proxyErrorRatio(service: string, version: string): string {
  const sel = `service='${service}',version='${version}'`;
  return `sum(rate(haproxy_server_http_responses_total{${sel},code='5xx'}[5s])) / sum(rate(haproxy_server_http_responses_total{${sel}}[5s]))`;
}
