// The proxy's configuration rendered from a routing (a known answer, every line), what a routing may not be, the
// routing read back from the file, staging of new servers at weight 0, and the parsers of what the proxy reports
// (the runtime API's `show stat` CSV, docker log timestamps).
import { Routing, RoutingError, generationOf, metricsPortFor, parseRouting, renderConfig, serverName, stagedRouting, versionOfServer } from '../../magics/docker/proxy/config';
import { parseServerStates } from '../../magics/docker/proxy/runtime';
import { timestampNs } from '../../magics/docker/proxy/reload';

const routing: Routing = {
  service: 'api',
  ports: [{ hostIp: '127.0.0.1', host: 8080, container: 80 }, { host: 8443, container: 443 }],
  servers: [{ container: 'api-2511251200ab', version: '1', weight: 0 }, { container: 'api-2511251300cd', version: '2', weight: 256 }],
  mode: 'http',
  check: { kind: 'http', path: '/healthz' },
  drainSeconds: 30,
};

const EXPECTED = `# The proxy of one service, written by opsbook: edits are replaced by the next deploy.
# opsbook-routing: {"service":"api","ports":[{"hostIp":"127.0.0.1","host":8080,"container":80},{"host":8443,"container":443}],"servers":[{"container":"api-2511251200ab","version":"1","weight":0},{"container":"api-2511251300cd","version":"2","weight":256}],"mode":"http","check":{"kind":"http","path":"/healthz"},"drainSeconds":30}

global
  master-worker
  hard-stop-after 30s
  stats socket ipv4@127.0.0.1:9999 level admin
  description opsbook-c0767a0878b91bee

resolvers docker
  nameserver dns 127.0.0.11:53
  accepted_payload_size 8192
  resolve_retries 3
  timeout resolve 1s
  timeout retry 1s
  hold valid 1s
  hold obsolete 1s
  hold nx 1s
  hold other 1s
  hold refused 1s
  hold timeout 1s

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

frontend api-8443
  bind :8443
  default_backend api-443

backend api-80
  balance roundrobin
  option httpchk GET /healthz
  http-check expect status 200-399
  server 1:api-2511251200ab api-2511251200ab:80 weight 0
  server 2:api-2511251300cd api-2511251300cd:80 weight 256

backend api-443
  balance roundrobin
  option httpchk GET /healthz
  http-check expect status 200-399
  server 1:api-2511251200ab api-2511251200ab:443 weight 0
  server 2:api-2511251300cd api-2511251300cd:443 weight 256

frontend opsbook-metrics
  bind :8404
  mode http
  no log
  http-request use-service prometheus-exporter if { path /metrics }
  http-request return status 200 content-type text/plain string c0767a0878b91bee if { path /opsbook/generation }
  stats enable
  stats uri /stats
  stats refresh 5s
`;

describe('renderConfig', () => {
  test('a service with two ports and two versions: every line', () => {
    expect(renderConfig(routing)).toBe(EXPECTED);
  });

  test('TCP mode with a TCP check: no HTTP check or HTTP timeouts; one bind for a host port on two addresses', () => {
    const text = renderConfig({ ...routing, mode: 'tcp', check: { kind: 'tcp' }, ports: [{ hostIp: '127.0.0.1', host: 5432, container: 5432 }, { hostIp: '10.0.0.2', host: 5432, container: 5432 }] });
    expect(text).toContain('  mode tcp\n');
    expect(text).not.toContain('httpchk');
    expect(text).not.toContain('http-request 10s');
    expect(text.match(/bind :5432/g)).toHaveLength(1);
    expect(text).toContain('  server 2:api-2511251300cd api-2511251300cd:5432 weight 256\n');
  });

  test("a server's recorded address is its fallback when the name does not resolve at load; a bad one is refused", () => {
    const text = renderConfig({ ...routing, servers: [{ container: 'api-new', version: '2', weight: 100, address: '172.18.0.5' }] });
    expect(text).toContain('  server 2:api-new api-new:80 init-addr libc,172.18.0.5 weight 100\n');
    expect(() => renderConfig({ ...routing, servers: [{ container: 'api-new', version: '2', weight: 100, address: '1.2.3.4 backup' }] })).toThrow(new RoutingError('api-new: "1.2.3.4 backup" is not an IP address'));
  });

  test('a standby (the version a switch replaced) is a backup that can take requests: weight at least 1', () => {
    const text = renderConfig({ ...routing, servers: [{ container: 'api-old', version: '1', weight: 0, backup: true }, { container: 'api-new', version: '2', weight: 100 }] });
    expect(text).toContain('  server 1:api-old api-old:80 weight 1 backup\n');
    expect(text).toContain('  server 2:api-new api-new:80 weight 100\n');
  });

  test('what HAProxy or Docker would refuse is refused before anything is created', () => {
    const bad = (change: Partial<Routing>) => () => renderConfig({ ...routing, ...change });
    expect(bad({ ports: [{ host: 0, container: 80 }] })).toThrow(new RoutingError('port 0 is not in 1–65535'));
    expect(bad({ ports: [{ host: 8080, container: 70000 }] })).toThrow('port 70000 is not in 1–65535');
    expect(bad({ ports: [{ host: 8080, container: 80 }, { host: 8080, container: 81 }] })).toThrow('host port 8080 cannot go to both 80 and 81');
    expect(bad({ ports: [{ host: 9999, container: 80 }] })).toThrow(/runtime API/);
    expect(bad({ ports: [] })).toThrow(/at least one port/);
    expect(bad({ servers: [{ container: 'a', version: '1', weight: 257 }] })).toThrow('weight 257 of a is not an integer in 0–256');
    expect(bad({ servers: [{ container: 'a', version: '1', weight: 1.5 }] })).toThrow(/weight 1.5/);
    expect(bad({ servers: [{ container: 'a', version: '1', weight: 1 }, { container: 'a', version: '1', weight: 2 }] })).toThrow('a is routed twice');
    expect(bad({ service: 'a b' })).toThrow('not a service name: "a b"');
    expect(bad({ drainSeconds: 0 })).toThrow(/drain/);
    expect(bad({ mode: 'tcp' })).toThrow('an HTTP health check needs mode http');
    expect(bad({ check: { kind: 'http', path: 'health' } })).toThrow(/must start with \//);
  });

  test('the metrics port moves off a port the service binds', () => {
    expect(metricsPortFor([{ host: 80, container: 80 }])).toBe(8404);
    expect(metricsPortFor([{ host: 8404, container: 80 }, { host: 8405, container: 81 }])).toBe(8406);
  });

  test('server names carry the version (promex labels are proxy and server), in characters HAProxy accepts', () => {
    expect(serverName({ version: '1.4.2', container: 'api-2511' })).toBe('1.4.2:api-2511');
    expect(serverName({ version: 'a b:c', container: 'x' })).toBe('a_b_c:x');
    expect(versionOfServer('1.4.2:api-2511')).toBe('1.4.2');
  });
});

describe('the routing in the file', () => {
  test('read back as it was rendered; a file opsbook did not write has none', () => {
    expect(parseRouting(renderConfig(routing))).toEqual(routing);
    expect(parseRouting('global\n  daemon\n')).toBeUndefined();
  });

  test('the generation changes with any weight', () => {
    const shifted = { ...routing, servers: [{ ...routing.servers[0], weight: 10 }, routing.servers[1]] };
    expect(generationOf(shifted)).not.toBe(generationOf(routing));
    expect(renderConfig(routing)).toContain(`description opsbook-${generationOf(routing)}\n`);
  });

  test('staging adds the servers the proxy does not know at weight 0 and keeps the others as they are', () => {
    const current = { ...routing, servers: [{ container: 'api-old', version: '1', weight: 256 }] };
    const target = { ...routing, servers: [{ container: 'api-old', version: '1', weight: 0 }, { container: 'api-new', version: '2', weight: 256 }] };
    expect(stagedRouting(current, target).servers).toEqual([{ container: 'api-old', version: '1', weight: 256 }, { container: 'api-new', version: '2', weight: 0 }]);
  });
});

describe('what the proxy reports', () => {
  test('show stat with uweight (HAProxy ≥ 2.4): the weight set for a server, whatever its state', () => {
    const csv = ['# pxname,svname,status,weight,uweight,check_status', 'api-80,1:api-a,DOWN,0,10,L4CON', 'api-80,2:api-b,UP,90,90,L7OK', ''].join('\n');
    expect(parseServerStates(csv).map((s) => [s.server, s.weight, s.userWeight])).toEqual([
      ['1:api-a', 0, 10],
      ['2:api-b', 90, 90],
    ]);
  });

  test('show stat: one state per server; healthy needs UP and a passed check (a new worker says UP before any)', () => {
    const csv = [
      '# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,',
      'api-8080,FRONTEND,,,0,1,262124,7,700,900,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0,0,0,1,,,,0,7,0,0,0,',
      'api-80,1:api-a,0,0,0,1,,3,300,400,,0,,0,0,0,0,UP,0,1,0,0,0,20,0,,1,3,1,,3,,2,0,,1,L7OK,200,1,0,3,0,0,0,',
      'api-80,2:api-b,0,0,2,2,,4,400,500,,0,,1,0,0,0,UP,256,1,0,0,0,20,0,,1,3,2,,4,,2,0,,1,INI,,,0,3,0,0,1,',
      'api-80,3:api-c,0,0,0,0,,0,0,0,,0,,0,0,0,0,MAINT (resolution),0,1,0,0,0,20,0,,1,3,3,,0,,2,0,,0,,,,0,0,0,0,0,',
      'api-80,BACKEND,0,0,2,2,,7,700,900,0,0,,1,0,0,0,UP,256,2,0,,0,20,0,,1,3,0,,7,,1,0,,1,,,,0,6,0,0,1,',
      '',
    ].join('\n');
    expect(parseServerStates(csv)).toEqual([
      { backend: 'api-80', server: '1:api-a', version: '1', status: 'UP', weight: 0, userWeight: 0, checkStatus: 'L7OK', healthy: true, currentSessions: 0, totalSessions: 3, responses5xx: 0, connectionErrors: 0, failedChecks: 0 },
      { backend: 'api-80', server: '2:api-b', version: '2', status: 'UP', weight: 256, userWeight: 256, checkStatus: 'INI', healthy: false, currentSessions: 2, totalSessions: 4, responses5xx: 1, connectionErrors: 1, failedChecks: 0 },
      { backend: 'api-80', server: '3:api-c', version: '3', status: 'MAINT (resolution)', weight: 0, userWeight: 0, checkStatus: '', healthy: false, currentSessions: 0, totalSessions: 0, responses5xx: 0, connectionErrors: 0, failedChecks: 0 },
    ]);
  });

  test('docker log timestamps compare to the nanosecond, whatever their number of decimals', () => {
    expect(timestampNs('2026-12-06T03:42:48.175172412Z')).toBe(1796528568175172412n);
    expect(timestampNs('2026-12-06T03:42:48.1Z')).toBe(1796528568100000000n);
    expect(timestampNs('2026-12-06T03:42:48Z')).toBe(1796528568000000000n);
    expect(timestampNs('garbage')).toBe(0n);
  });
});
