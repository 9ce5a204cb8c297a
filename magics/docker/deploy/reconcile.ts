// Puts a service back into one consistent state after a deploy that did not finish (its kernel was killed at any
// step): exactly one version routed and running, every other version stopped, candidates that never served removed,
// the proxy running the configuration its file holds; old versions stop only after the proxy's old workers have
// finished their requests on them (a deploy killed during its drain). A canary killed mid-step leaves the running
// proxy sharing requests through its runtime API while its file still routes all to the old version: the weights are
// set back to the file's (the old version all requests) before the candidate is removed. The proxy's configuration is the record of which version
// serves; what the dead deploy did before or after writing it decides nothing else. Run by the next deploy or
// rollback when it takes over a dead kernel's lock, and by %deploy --cleanup.
import type Docker from 'dockerode';
import { containerName } from '../engine/containers';
import { LABEL } from '../engine/labels';
import { Routing, serverName } from '../proxy/config';
import { currentRouting, inspectProxy, serverStates, setWeights, switchTo, waitDrained } from '../proxy/proxy';
import { DeployRecord, listRecords, writeRecord } from './audit';
import { STOP_TIMEOUT_S, addressOf, isCandidate, removeQuietly, routeName, routedServers, servingWithoutProxy, versions } from './service';

/** The version to route when the routed one is gone: the newest running version that ever served, else the newest stopped one. */
function fallback(all: Docker.ContainerInfo[]): Docker.ContainerInfo | undefined {
  return all.find((c) => c.State === 'running' && !isCandidate(c)) ?? all.find((c) => c.State !== 'running' && !isCandidate(c));
}

/**
 * Makes the service consistent; returns what it did, one line each (empty when it was already). `deadDeployId` is
 * the deploy whose kernel died, if known: its "started" audit record is completed as killed.
 */
export async function reconcile(docker: Docker, service: string, deadDeployId?: string): Promise<string[]> {
  const done: string[] = [];
  const proxy = await inspectProxy(docker, service);
  let all = await versions(docker, service);
  if (!proxy) {
    // a service without ports has no proxy: a candidate never served, and the newest version must run
    for (const c of all.filter(isCandidate)) {
      await removeQuietly(docker.getContainer(c.Id));
      done.push(`removed ${containerName(c)}, a new version that never served`);
    }
    if (!(await servingWithoutProxy(docker, service))) {
      const stopped = fallback(all.filter((c) => !isCandidate(c)));
      if (stopped) {
        await docker.getContainer(stopped.Id).start();
        done.push(`nothing was serving ${service}: started ${containerName(stopped)} again`);
      }
    }
  } else {
    if (proxy.state !== 'running') {
      await docker.getContainer(proxy.id).start();
      done.push(`started the proxy ${proxy.name} again (it routes as its configuration says)`);
    }
    const routing = await currentRouting(docker, service);
    const routed = new Set(routedServers(routing).map((s) => s.container));
    let serving = all.filter((c) => routed.has(routeName(c)));
    if (!serving.some((c) => c.State === 'running')) {
      const next = serving.find((c) => !isCandidate(c)) ?? fallback(all);
      if (next && routing) {
        if (next.State !== 'running') await docker.getContainer(next.Id).start();
        const version = next.Labels[LABEL.version] ?? '';
        const address = addressOf((await docker.getContainer(next.Id).inspect()).NetworkSettings.Networks, service);
        await switchTo(docker, { ...routing, servers: [{ container: routeName(next), version, weight: 1, ...(address ? { address } : {}) }] });
        done.push(`nothing running was routed: ${containerName(next)} serves ${service} again`);
        serving = [next];
      }
    } else if (routing) {
      // the file may be newer than the running worker (killed between writing it and the reload), or a version's
      // address may have changed (restarted): load it with the addresses the versions have now
      await switchTo(docker, withAddressesOf(routing, all, service));
      // a canary killed mid-step left requests shared through the runtime API: the file's weights hold again
      if (await weightsAsFileSays(docker, routing)) done.push('the proxy shared requests with a new version (a canary killed mid-step): its weights are as its configuration says again');
    }
    const servingIds = new Set(serving.map((c) => c.Id));
    for (const c of serving) {
      const container = docker.getContainer(c.Id);
      await container.update({ RestartPolicy: { Name: 'unless-stopped' } }).catch(() => undefined);
      if (isCandidate(c)) {
        await container.rename({ name: routeName(c) });
        done.push(`${containerName(c)} serves: renamed ${routeName(c)}`);
      }
    }
    all = await versions(docker, service);
    const others = all.filter((v) => !servingIds.has(v.Id));
    for (const c of others.filter(isCandidate)) {
      await removeQuietly(docker.getContainer(c.Id));
      done.push(`removed ${containerName(c)}, a new version that never served`);
    }
    const toStop = others.filter((c) => !isCandidate(c) && c.State === 'running');
    // a deploy killed during its drain left the proxy's old workers finishing requests on these versions: they stop
    // only once those requests are done (bounded by the routing's drain), or the requests would be cut
    if (toStop.length > 0 && routing && !(await waitDrained(docker, service, (routing.drainSeconds + 2) * 1000).catch(() => true))) {
      done.push(`the proxy still had requests on an old version after ${routing.drainSeconds} s: it ended them (the drain limit)`);
    }
    for (const c of toStop) {
      const container = docker.getContainer(c.Id);
      await container.update({ RestartPolicy: { Name: 'no' } }).catch(() => undefined);
      await container.stop({ t: STOP_TIMEOUT_S }).catch(() => undefined);
      done.push(`stopped ${containerName(c)}, an old version the proxy no longer routes to (kept for %rollback)`);
    }
  }
  if (deadDeployId) await completeKilledRecord(docker, service, deadDeployId, done);
  return done;
}

/**
 * Sets the running proxy's server weights back to its configuration file's where they differ (the runtime API changed
 * them: a canary's steps); whether any did. A standby (backup) runs at weight 1 (see backendSections in config.ts).
 */
async function weightsAsFileSays(docker: Docker, routing: Routing): Promise<boolean> {
  const fileWeight = new Map(routing.servers.map((s) => [serverName(s), s.backup ? Math.max(1, s.weight) : s.weight]));
  const off = (await serverStates(docker, routing.service)).filter((st) => fileWeight.has(st.server) && fileWeight.get(st.server) !== st.userWeight);
  if (off.length === 0) return false;
  const byContainer = new Map(routing.servers.map((s) => [s.container, fileWeight.get(serverName(s)) ?? 0]));
  await setWeights(docker, routing, byContainer);
  return true;
}

/** The routing with each server's address as its running version has it now (a stopped one keeps what it had). */
function withAddressesOf(routing: Routing, all: Docker.ContainerInfo[], service: string): Routing {
  const byRoute = new Map(all.filter((c) => c.State === 'running').map((c) => [routeName(c), addressOf(c.NetworkSettings?.Networks, service)]));
  return { ...routing, servers: routing.servers.map((s) => (byRoute.get(s.container) ? { ...s, address: byRoute.get(s.container) } : s)) };
}

/** The dead deploy's "started" record says it was killed, and what the recovery did. */
async function completeKilledRecord(docker: Docker, service: string, deployId: string, done: string[]): Promise<void> {
  const record: DeployRecord | undefined = (await listRecords(docker, service).catch(() => [])).find((r) => r.deployId === deployId);
  if (!record || record.outcome !== 'started') return;
  const what = done.length > 0 ? `; recovered: ${done.join('; ')}` : '; nothing needed recovering';
  await writeRecord(docker, { ...record, outcome: `killed: its kernel died during the ${record.kind}${what}` }).catch(() => undefined);
}
