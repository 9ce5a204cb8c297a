// %deploy --swarm without an engine: the service spec (rolling, start-first, rolled back by Swarm, dnsrr, nothing
// published, on the proxy's overlay network), the proxy's Swarm routing (a known answer: its tasks by DNS through a
// server template), what such a routing may not be, that Swarm's task containers are never a deploy's versions, and
// that one service name is never deployed both ways (a fake engine with the other kind's proxy).
import { Routing, RoutingError, generationOf, parseRouting, renderConfig, swarmSlotPrefix } from '../../magics/docker/proxy/config';
import { requireManager, serviceSpec } from '../../magics/docker/deploy/swarm';
import type Docker from 'dockerode';
import { prepareSwarmFront, swarmNetworkName, swarmRouting, swarmSlots } from '../../magics/docker/deploy/swarm-front';
import { planProxy } from '../../magics/docker/deploy/front';
import { deploySpecOf } from '../../magics/docker/deploy/spec';
import { isVersion } from '../../magics/docker/engine/containers';

const routing: Routing = {
  service: 'api',
  ports: [{ hostIp: '127.0.0.1', host: 8080, container: 80 }],
  servers: [],
  mode: 'http',
  check: { kind: 'http', path: '/healthz' },
  drainSeconds: 30,
  swarm: { service: 'api', slots: 6 },
};

const EXPECTED = `# The proxy of one service, written by opsbook: edits are replaced by the next deploy.
# opsbook-routing: {"service":"api","ports":[{"hostIp":"127.0.0.1","host":8080,"container":80}],"servers":[],"mode":"http","check":{"kind":"http","path":"/healthz"},"drainSeconds":30,"swarm":{"service":"api","slots":6}}

global
  master-worker
  hard-stop-after 30s
  stats socket ipv4@127.0.0.1:9999 level admin
  description opsbook-e7ee9fb7359814ef

resolvers docker
  nameserver dns 127.0.0.11:53
  accepted_payload_size 8192
  resolve_retries 3
  timeout resolve 1s
  timeout retry 1s
  hold valid 1s
  hold obsolete 1s
  hold nx 1s
  hold other 30s
  hold refused 30s
  hold timeout 30s

defaults
  mode http
  timeout connect 3s
  timeout client 60s
  timeout server 60s
  timeout check 2s
  timeout http-request 10s
  timeout http-keep-alive 10s
  retries 3
  option redispatch 1
  default-server init-addr libc,none check inter 1s fall 3 rise 2

frontend api-8080
  bind :8080
  default_backend api-80

backend api-80
  balance roundrobin
  option httpchk GET /healthz
  http-check expect status 200-399
  server-template api-task- 1-6 tasks.api:80 resolvers docker resolve-prefer ipv4 init-addr last,libc,none

frontend opsbook-metrics
  bind :8404
  mode http
  no log
  http-request use-service prometheus-exporter if { path /metrics }
  http-request return status 200 content-type text/plain string e7ee9fb7359814ef if { path /opsbook/generation }
  stats enable
  stats uri /stats
  stats refresh 5s
`;

describe("a Swarm service's proxy", () => {
  test('the routing renders its tasks as a server template over tasks.<service>, 1 s holds of answers (30 s of a silent DNS), retries with redispatch: every line', () => {
    expect(renderConfig(routing)).toBe(EXPECTED);
    expect(parseRouting(renderConfig(routing))).toEqual(routing);
  });

  test('TCP mode, two container ports: one template per backend, no HTTP check', () => {
    const text = renderConfig({ ...routing, mode: 'tcp', check: { kind: 'tcp' }, ports: [{ host: 5432, container: 5432 }, { host: 9000, container: 9000 }] });
    expect(text).toContain('backend api-5432\n  balance roundrobin\n  server-template api-task- 1-6 tasks.api:5432 resolvers docker resolve-prefer ipv4 init-addr last,libc,none\n');
    expect(text).toContain('backend api-9000\n  balance roundrobin\n  server-template api-task- 1-6 tasks.api:9000 resolvers docker resolve-prefer ipv4 init-addr last,libc,none\n');
    expect(text).not.toContain('httpchk');
  });

  test('what HAProxy would refuse is refused before anything is created', () => {
    const bad = (change: Partial<Routing>) => () => renderConfig({ ...routing, ...change });
    expect(bad({ swarm: { service: 'api', slots: 0 } })).toThrow(new RoutingError('0 Swarm server slots is not an integer in 1–256'));
    expect(bad({ swarm: { service: 'api', slots: 2.5 } })).toThrow(/2.5 Swarm server slots/);
    expect(bad({ swarm: { service: 'a b', slots: 2 } })).toThrow('not a Swarm service name: "a b"');
    expect(bad({ servers: [{ container: 'api-1', version: '1', weight: 1 }] })).toThrow('api: a Swarm backend finds its servers through DNS; the routing cannot name servers too');
  });

  test("slot names carry no ':' (HAProxy refuses it in a template prefix); a routing without Swarm keeps its generation", () => {
    expect(swarmSlotPrefix('shop.api_2')).toBe('shop.api_2-task-');
    const local: Routing = { ...routing, servers: [{ container: 'api-1', version: '1', weight: 100 }] };
    delete local.swarm;
    expect(generationOf(local)).toBe(generationOf({ ...local, swarm: undefined }));
  });

  test('from a deploy spec: slots for every task a start-first update runs, and the overlay network is not the local bridge', () => {
    const spec = deploySpecOf('shop/api:2', { name: 'api', publish: ['127.0.0.1:8080:80'], 'health-url': '/healthz' }, {});
    expect(swarmRouting(spec, 2)).toEqual({ ...routing, swarm: { service: 'api', slots: 6 } });
    expect([swarmSlots(0), swarmSlots(1), swarmSlots(3), swarmSlots(1000)]).toEqual([4, 4, 8, 256]);
    expect(swarmNetworkName('api')).toBe('opsbook-swarm-api');
  });
});

test('a Swarm service spec: one task at a time, start-first, rolled back by Swarm on failure, dnsrr on the overlay, nothing published', async () => {
  const spec = serviceSpec({ image: 'shop/api:2', service: 'api', replicas: 3, ports: [{ host: 8080, container: 80, proto: 'tcp' }], env: ['A=1'], labels: { 'opsbook.service': 'api' }, gate: { kind: 'url', path: '/healthz' }, waitMs: 60_000, network: 'opsbook-swarm-api' });
  expect(spec.UpdateConfig).toEqual({ Parallelism: 1, Delay: 0, FailureAction: 'rollback', Monitor: 5e9, MaxFailureRatio: 0, Order: 'start-first' });
  expect(spec.RollbackConfig?.Order).toBe('start-first');
  expect(spec.Mode).toEqual({ Replicated: { Replicas: 3 } });
  expect(spec.EndpointSpec).toEqual({ Mode: 'dnsrr', Ports: [] });
  const task = spec.TaskTemplate as { ContainerSpec: { HealthCheck: { Test: string[] }; Labels: Record<string, string> }; Networks: Array<{ Target: string }> };
  expect(task.Networks).toEqual([{ Target: 'opsbook-swarm-api' }]);
  expect(task.ContainerSpec.HealthCheck.Test).toEqual(['CMD-SHELL', 'wget -q -O /dev/null http://127.0.0.1:80/healthz']);
  expect(task.ContainerSpec.Labels['opsbook.service']).toBe('api');
  const noPorts = serviceSpec({ image: 'shop/worker:1', service: 'worker', replicas: 1, ports: [], env: [], labels: {}, gate: { kind: 'image' }, waitMs: 60_000 });
  expect((noPorts.TaskTemplate as { Networks?: unknown }).Networks).toBeUndefined();
  const notManager = { info: async () => ({ Swarm: { LocalNodeState: 'inactive' } }) } as unknown as import('dockerode');
  await expect(requireManager(notManager, 'unix:///var/run/docker.sock')).rejects.toThrow('the Docker engine at unix:///var/run/docker.sock is not a Swarm manager');
});

test("Swarm's task containers are not versions a deploy reconciles or trims; the Swarm service's proxy is still a proxy", () => {
  expect(isVersion({ 'opsbook.service': 'api', 'opsbook.deploy-id': 'x' })).toBe(true);
  expect(isVersion({ 'opsbook.service': 'api', 'opsbook.deploy-id': 'x', 'opsbook.mode': 'swarm' })).toBe(false);
  expect(isVersion({ 'opsbook.service': 'api', 'opsbook.role': 'proxy', 'opsbook.mode': 'swarm' })).toBe(false);
});

/** An engine whose only container is the proxy of `api`, attached to `network`; images and networks exist. */
function engineWithProxyOn(network: string): Docker {
  const labels = { 'opsbook.service': 'api', 'opsbook.role': 'proxy', 'opsbook.ports': '127.0.0.1:8080:80' };
  return {
    getImage: () => ({ inspect: async () => ({ Id: 'sha256:1' }) }),
    getNetwork: () => ({ inspect: async () => ({}) }),
    listContainers: async () => [{ Id: 'p1', State: 'running', Labels: labels, NetworkSettings: { Networks: { [network]: {} } } }],
    getContainer: () => ({
      inspect: async () => ({ Id: 'p1', Name: '/opsbook-proxy-api', Config: { Labels: labels, Image: 'opsbook/haproxy:local' }, State: { Status: 'running' }, NetworkSettings: { Networks: { [network]: {} }, Ports: {} } }),
    }),
  } as unknown as Docker;
}

test('one name is not deployed both ways: the local path refuses a Swarm proxy, --swarm refuses a local one', async () => {
  const spec = deploySpecOf('shop/api:2', { name: 'api', publish: ['127.0.0.1:8080:80'] }, {});
  await expect(planProxy(engineWithProxyOn('opsbook-swarm-api'), spec, undefined)).rejects.toThrow('deploy of shop/api:2 to api refused: api is a Swarm service (its proxy routes its tasks on opsbook-swarm-api)');
  await expect(prepareSwarmFront(engineWithProxyOn('opsbook-net-api'), spec, 2, false, () => undefined)).rejects.toThrow('api is deployed without --swarm: its proxy routes to local versions on opsbook-net-api');
});
