// %deploy's ports and engines against the real engine and the real HAProxy image: a host port another process holds
// (a Node server on 127.0.0.1) is a one-line error before anything is stopped, for a first deploy and for a service
// moving to it, and nothing of the service is left running but what served before; 127.0.0.1:P:8080 publishes on
// loopback only; bad -p values and --keep values are usage errors before anything is created; and a remote engine
// over DOCKER_HOST=tcp://127.0.0.1:<port> (the same engine reached through a TCP relay the test runs) carries a whole
// deploy v1→v2 with a request loop (no failed request) and a %rollback: exec, archive and kill all work over tcp://.
// Skipped with a warning without Docker, except with CI=true.
import * as net from 'node:net';
import { execFileSync } from 'node:child_process';
import Docker from 'dockerode';
import { startTestKernel, TestKernel } from '../support/kernel-client';
import { freePort } from '../support/kernel-process';
import { describeWithDocker, removeByLabel, ensureDeployParts } from '../support/docker';
import { buildSampleApp } from '../support/sample-image';
import { PROXY_IMAGE } from '../../notebooks/stack/proxy-image';
import { get, requestLoop } from '../support/request-loop';
import { historyOf, isConsistent, serviceState, textOf } from '../support/deploy-state';
import { inspectProxy } from '../../magics/docker/proxy/proxy';

const describeDocker = describeWithDocker('deploy-ports');

const RUN = `deploy-ports-${process.pid}`;
const PREFIX = `opsbook-test-ports-${process.pid}`;
const SERVICES = { held: `${PREFIX}-held`, loop: `${PREFIX}-lo`, usage: `${PREFIX}-usage`, remote: `${PREFIX}-remote` };
const LOOP = { maxRequests: 20_000, maxMs: 180_000 };

/** A server on 127.0.0.1:port that holds the port like any other process would. */
function holdPort(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => socket.destroy());
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

interface Relay {
  port: number;
  /** "METHOD /path" of every HTTP request that went through, in order. */
  requests: string[];
  close(): Promise<void>;
}

/** A TCP relay on 127.0.0.1 to the engine's unix socket: the same engine, reached as a remote one over tcp://. */
function dockerRelay(socketPath = '/var/run/docker.sock'): Promise<Relay> {
  const requests: string[] = [];
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const engine = net.connect(socketPath);
    open.add(client).add(engine);
    client.on('data', (chunk: Buffer) => {
      for (const m of chunk.toString('latin1').matchAll(/^(GET|POST|PUT|DELETE|HEAD) (\S+) HTTP\/1\.[01]\r?$/gm)) requests.push(`${m[1]} ${m[2]}`);
    });
    client.pipe(engine);
    engine.pipe(client);
    const end = () => {
      client.destroy();
      engine.destroy();
      open.delete(client);
      open.delete(engine);
    };
    client.on('error', end).on('close', end);
    engine.on('error', end).on('close', end);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      resolve({
        port,
        requests,
        close: () =>
          new Promise<void>((done) => {
            for (const s of open) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

describeDocker('%deploy: ports and a remote engine', () => {
  const docker = new Docker();
  let k: TestKernel;
  const images = { v1: `opsbook-test/ports:1-${process.pid}`, v2: `opsbook-test/ports:2-${process.pid}` };
  const env = { OPSBOOK_PROXY_IMAGE: PROXY_IMAGE };
  const holders: net.Server[] = [];
  const deploy = (kernel: TestKernel, image: string, service: string, ports: string, extra = '') => kernel.client.execute(`%deploy ${image} --name ${service} ${ports} --wait 60s --yes ${extra}`, {}, 180_000);

  beforeAll(async () => {
    await ensureDeployParts();
    const labels = [`opsbook.test.run=${RUN}`];
    await buildSampleApp(images.v1, { version: '1', labels });
    await buildSampleApp(images.v2, { version: '2', labels });
    k = await startTestKernel({ env });
  }, 300_000);

  afterAll(async () => {
    for (const h of holders) h.close();
    await k?.stop();
    for (const service of Object.values(SERVICES)) {
      execFileSync('sh', ['-c', `docker rm -f $(docker ps -aq --filter label=opsbook.service=${service}) 2>/dev/null; docker network rm opsbook-net-${service} 2>/dev/null; true`]);
    }
    execFileSync('sh', ['-c', `docker rm -f $(docker ps -aq --filter label=opsbook.probe-of) 2>/dev/null; true`]);
    await removeByLabel(`opsbook.test.run=${RUN}`);
  }, 120_000);

  /** The service's containers that are not audit records, and whether its network exists. */
  async function leftovers(service: string): Promise<{ containers: string[]; network: boolean }> {
    const all = await docker.listContainers({ all: true, filters: { label: [`opsbook.service=${service}`] } });
    const network = await docker
      .getNetwork(`opsbook-net-${service}`)
      .inspect()
      .then(() => true)
      .catch(() => false);
    return { containers: all.filter((c) => c.Labels['opsbook.deploy-record'] !== 'true').map((c) => `${c.Names[0]} ${c.State}`), network };
  }

  test('a first deploy onto a host port another process holds: one clear line, nothing of the service left', async () => {
    const port = await freePort();
    holders.push(await holdPort(port));
    const r = await deploy(k, images.v1, SERVICES.held, `-p ${port}:8080`);
    expect(r.reply.content.ename).toBe('MagicError');
    const message = String(r.reply.content.evalue);
    expect(message).not.toContain('\n');
    expect(message).toMatch(new RegExp(`^deploy of ${images.v1} to ${SERVICES.held} refused: a host port of ${SERVICES.held} \\(${port}:8080\\) is held by another process: .*address already in use`));
    expect((r.reply.content.traceback as string[]).join('\n')).toContain('nothing was changed');
    expect(await leftovers(SERVICES.held)).toEqual({ containers: [], network: false });
    // the refused deploy is in the history, as every deploy that took the lock
    expect((await historyOf(k, SERVICES.held)).map((h) => h.outcome.split(':')[0])).toEqual(['failed']);
  });

  test('127.0.0.1:P:8080 publishes on loopback only: the proxy binds 127.0.0.1, the service answers there', async () => {
    const port = await freePort();
    const r = await deploy(k, images.v1, SERVICES.loop, `-p 127.0.0.1:${port}:8080`);
    expect(r.reply.content.status).toBe('ok');
    const proxy = await inspectProxy(docker, SERVICES.loop);
    const info = await docker.getContainer(proxy?.id ?? '').inspect();
    expect(info.HostConfig.PortBindings?.[`${port}/tcp`]).toEqual([{ HostIp: '127.0.0.1', HostPort: String(port) }]);
    expect(info.NetworkSettings.Ports[`${port}/tcp`]).toEqual([{ HostIp: '127.0.0.1', HostPort: String(port) }]);
    expect((await get(port)).body).toContain('opsbook-sample-app 1');
  });

  test('moving a service onto a held port is refused before anything is stopped: it keeps serving, no request fails', async () => {
    const state = await serviceState(docker, SERVICES.loop);
    const proxyBefore = await inspectProxy(docker, SERVICES.loop);
    const servingPort = Number(proxyBefore?.ports.split(':').slice(-2)[0]);
    const heldPort = await freePort();
    holders.push(await holdPort(heldPort));
    const loop = requestLoop(servingPort, LOOP);
    const r = await deploy(k, images.v2, SERVICES.loop, `-p ${heldPort}:8080`);
    const stats = await loop.stop();
    console.log(`moving onto a held port: ${stats.failed} of ${stats.total} requests failed`);
    expect(r.reply.content.ename).toBe('MagicError');
    expect(String(r.reply.content.evalue)).toMatch(new RegExp(`^deploy of ${images.v2} to ${SERVICES.loop} refused: a host port of ${SERVICES.loop} \\(${heldPort}:8080\\) is held by another process: [^\\n]*$`));
    expect(stats.failed).toBe(0);
    expect(stats.total).toBeGreaterThan(10);
    // the same proxy and the same version, nothing else
    expect((await inspectProxy(docker, SERVICES.loop))?.id).toBe(proxyBefore?.id);
    expect(await serviceState(docker, SERVICES.loop)).toEqual(state);
    expect(isConsistent(state)).toBe(true);
    expect((await get(servingPort)).body).toContain('opsbook-sample-app 1');
  });

  test('bad -p values and --keep values are usage errors, before anything is created', async () => {
    const port = await freePort();
    const cases: Array<[string, RegExp]> = [
      [`-p 0:8080`, /^-p 0:8080: the host port 0 is not in 1–65535$/],
      [`-p 70000:8080`, /^-p 70000:8080: the host port 70000 is not in 1–65535$/],
      [`-p ${port}:70000`, /the container port 70000 is not in 1–65535$/],
      [`-p ${port}`, /^-p takes \[IP:\]HOST:CONTAINER/],
      [`-p abc:8080`, /^-p takes \[IP:\]HOST:CONTAINER/],
      [`-p 1.2.3:${port}:8080`, /^-p takes \[IP:\]HOST:CONTAINER/],
      [`-p ${port}:8080/udp`, /carries TCP only$/],
      [`-p ${port}:8080 -p ${port}:9090`, new RegExp(`^-p: host port ${port} is given twice`)],
      [`-p ${port}:8080 -p 127.0.0.1:${port}:8080`, new RegExp(`^-p: host port ${port} is given twice`)],
      [`-p ${port}:8080 --keep -1`, /--keep.*"-1" is not a whole number of versions/],
      [`-p ${port}:8080 --keep 1.5`, /--keep.*"1.5" is not a whole number of versions/],
    ];
    for (const [options, message] of cases) {
      const r = await deploy(k, images.v1, SERVICES.usage, options);
      expect({ options, ename: r.reply.content.ename }).toEqual({ options, ename: 'UsageError' });
      expect(String(r.reply.content.evalue)).toMatch(message);
    }
    // nothing at all: no container, no network, no audit record
    expect(await docker.listContainers({ all: true, filters: { label: [`opsbook.service=${SERVICES.usage}`] } })).toEqual([]);
    expect(await leftovers(SERVICES.usage)).toEqual({ containers: [], network: false });
  });

  test('a remote engine over tcp:// (a relay to the same engine): deploy v1→v2 with no failed request, then %rollback', async () => {
    const relay = await dockerRelay();
    const remote = await startTestKernel({ env: { ...env, DOCKER_HOST: `tcp://127.0.0.1:${relay.port}` } });
    try {
      const port = await freePort();
      const first = await deploy(remote, images.v1, SERVICES.remote, `-p 127.0.0.1:${port}:8080`);
      expect(first.reply.content.status).toBe('ok');
      let loop = requestLoop(port, LOOP);
      const second = await deploy(remote, images.v2, SERVICES.remote, `-p 127.0.0.1:${port}:8080`);
      let stats = await loop.stop();
      console.log(`remote engine over tcp://, v1→v2: ${stats.failed} of ${stats.total} requests failed`);
      if (second.reply.content.status !== 'ok') console.log(textOf(second));
      expect(second.reply.content.status).toBe('ok');
      expect(stats.failed).toBe(0);
      expect(stats.bodies.size).toBe(2);
      loop = requestLoop(port, LOOP);
      const back = await remote.client.execute(`%rollback ${SERVICES.remote} --yes`, {}, 180_000);
      stats = await loop.stop();
      console.log(`remote engine over tcp://, %rollback: ${stats.failed} of ${stats.total} requests failed`);
      if (back.reply.content.status !== 'ok') console.log(textOf(back));
      expect(back.reply.content.status).toBe('ok');
      expect(stats.failed).toBe(0);
      expect((await get(port)).body).toContain('opsbook-sample-app 1');
      expect(isConsistent(await serviceState(docker, SERVICES.remote))).toBe(true);
      // everything went through the relay: container exec (the proxy's runtime API), archive (its configuration), kill (reload)
      const seen = relay.requests.map((r) => r.replace(/^(\w+) \/v[\d.]+/, '$1 ').replace(/\?.*$/, ''));
      expect(seen.some((r) => /^POST \/containers\/[^/]+\/exec$/.test(r))).toBe(true);
      expect(seen.some((r) => /^POST \/exec\/[^/]+\/start$/.test(r))).toBe(true);
      expect(seen.some((r) => /^PUT \/containers\/[^/]+\/archive$/.test(r))).toBe(true);
      expect(seen.some((r) => /^GET \/containers\/[^/]+\/archive$/.test(r))).toBe(true);
      expect(seen.some((r) => /^POST \/containers\/[^/]+\/kill$/.test(r))).toBe(true);
    } finally {
      await remote.stop();
      await relay.close();
    }
  }, 400_000);
});
