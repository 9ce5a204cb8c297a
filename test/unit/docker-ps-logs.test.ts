// Unit tests of the pure parts of %ps, %logs and %stop: filter mapping, row fields (uptime, ports, health, status,
// version), the escaped table, the demultiplexer on hand-made frames split across chunks, whole-line masking,
// secret values from labels and Config.Env, --since / --tail / --timeout values, option parsing of the magics.
import type Docker from 'dockerode';
import { ContainerRow, asksForBookkeeping, containerRow, describeSelection, engineFilters, healthText, imageTag, isImageId, portsText, psBundle, psMagic, servicesAskedFor, sortRows, tagsByImageId, uptimeText } from '../../magics/docker/ps';
import { ContainerState, couldNameContainer, isBookkeeping, resolveTarget, secretValues, statusText } from '../../magics/docker/engine/containers';
import { logsMagic, sinceSeconds, tailLines } from '../../magics/docker/logs';
import { FrameDemuxer, LineBuffer, LogSink, LogStreamName } from '../../magics/docker/engine/log-streams';
import { describeStop, nothingRunning, runningContainers, stopMagic, timeoutSeconds } from '../../magics/docker/stop';
import { masker } from '../../magics/lib/secrets';
import { DockerConnection } from '../../magics/docker/engine/connection';
import { NotebookConfig } from '../../magics/lib/notebook-config';
import { MagicRegistry } from '../../magics/registry';
import { MagicError, UsageError } from '../../kernel/io/errors';

/** One frame of Docker's multiplexed log format: type, 3 zero bytes, size (big-endian uint32), payload. */
function frame(type: number, text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const header = Buffer.alloc(8);
  header[0] = type;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

function collector(): { out: Array<[LogStreamName, string]>; write: (s: LogStreamName, t: string) => void; text: (s: LogStreamName) => string } {
  const out: Array<[LogStreamName, string]> = [];
  return { out, write: (s, t) => out.push([s, t]), text: (s) => out.filter(([n]) => n === s).map(([, t]) => t).join('') };
}

function listEntry(overrides: Partial<Docker.ContainerInfo> = {}): Docker.ContainerInfo {
  return {
    Id: 'abcdef0123456789abcdef', Names: ['/api-k3j2'], Image: 'shop/api:2', ImageID: 'sha256:1', Command: 'node server.js', Created: 1_700_000_000,
    Ports: [], Labels: {}, State: 'running', Status: 'Up 5 minutes', HostConfig: { NetworkMode: 'default' }, NetworkSettings: { Networks: {} }, Mounts: [],
    ...overrides,
  };
}

function state(overrides: Partial<ContainerState> = {}): ContainerState {
  return { Status: 'running', Running: true, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: 1, ExitCode: 0, Error: '', StartedAt: '2026-01-01T10:00:00Z', FinishedAt: '0001-01-01T00:00:00Z', ...overrides };
}

describe('%ps', () => {
  test('filters: service=x is the label filter, other keys pass through, managed-only unless --all', () => {
    expect(engineFilters([], false)).toEqual({ label: ['opsbook.managed=true'] });
    expect(engineFilters([], true)).toEqual({});
    expect(engineFilters(['service=api', 'status=running', 'label=team=ops', 'name=api-'], false)).toEqual({
      label: ['opsbook.service=api', 'team=ops', 'opsbook.managed=true'], status: ['running'], name: ['api-'],
    });
    expect(engineFilters(['health=unhealthy', 'ancestor=busybox'], true)).toEqual({ health: ['unhealthy'], ancestor: ['busybox'] });
    expect(() => engineFilters(['service'], false)).toThrow(UsageError);
    expect(() => engineFilters(['colour=red'], false)).toThrow(/unknown filter "colour"/);
    expect(describeSelection(['service=api'], false)).toBe('running, managed by opsbook; filter service=api');
    expect(describeSelection([], true)).toBe('all containers');
  });

  test("%deploy's lock and audit record containers are bookkeeping, shown only when a label filter asks", () => {
    expect(isBookkeeping({ 'opsbook.lock': 'true', 'opsbook.service': 'api' })).toBe(true);
    expect(isBookkeeping({ 'opsbook.deploy-record': 'true' })).toBe(true);
    expect([isBookkeeping({ 'opsbook.service': 'api' }), isBookkeeping(null), isBookkeeping(undefined)]).toEqual([false, false, false]);
    expect(asksForBookkeeping(['service=api', 'label=opsbook.deploy-record=true'])).toBe(true);
    expect(asksForBookkeeping(['label=opsbook.lock'])).toBe(true);
    expect(asksForBookkeeping(['service=api', 'label=opsbook.version=2'])).toBe(false);
  });

  test('uptime: seconds, minutes, hours and minutes, days and hours; zero parts dropped', () => {
    expect([uptimeText(0), uptimeText(59.9), uptimeText(60), uptimeText(5 * 60 + 59)]).toEqual(['0s', '59s', '1m', '5m']);
    expect([uptimeText(2 * 3600 + 3 * 60 + 10), uptimeText(2 * 3600 + 30), uptimeText(23 * 3600 + 59 * 60)]).toEqual(['2h 3m', '2h', '23h 59m']);
    expect([uptimeText(3 * 86400 + 4 * 3600 + 5), uptimeText(86400 + 59 * 60)]).toEqual(['3d 4h', '1d']);
    expect([uptimeText(-1), uptimeText(NaN)]).toEqual(['—', '—']);
  });

  test('image tags, published ports, health and status', () => {
    expect(['shop/api:2', 'busybox', 'localhost:5000/app', 'localhost:5000/app:1.2', 'sha256:0123456789abcdef0123', 'app@sha256:fedcba9876543210ff'].map(imageTag))
      .toEqual(['2', 'latest', 'latest', '1.2', '0123456789ab', 'fedcba987654']);
    const ports: Docker.Port[] = [
      { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
      { IP: '::', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
      { IP: '127.0.0.1', PrivatePort: 53, PublicPort: 5353, Type: 'udp' },
      { IP: '', PrivatePort: 9000, PublicPort: 0, Type: 'tcp' },
    ];
    expect(portsText(ports)).toBe('127.0.0.1:5353:53/udp, 8080:80/tcp');
    expect(portsText([{ PrivatePort: 9000, Type: 'tcp' } as Docker.Port])).toBe('');
    expect(healthText('Up 1 minute', state({ Health: { Status: 'unhealthy', FailingStreak: 3, Log: [] } }))).toBe('unhealthy');
    expect([healthText('Up 2 minutes (healthy)'), healthText('Up 1 second (health: starting)'), healthText('Up 1 second')]).toEqual(['healthy', 'starting', '—']);
    expect(statusText({ State: 'exited', Status: 'Exited (3) 2 minutes ago' })).toBe('exited (3)');
    expect(statusText({ State: 'running', Status: 'Up' }, state({ Status: 'exited', ExitCode: 137 }))).toBe('exited (137)');
    expect(statusText({ State: 'paused', Status: 'Up 1 minute (Paused)' })).toBe('paused');
  });

  test('a row: service and version from labels, else "—" and the image tag; uptime only while running', () => {
    const now = Date.parse('2026-01-01T12:03:30Z');
    const labelled = listEntry({ Labels: { 'opsbook.service': 'api', 'opsbook.version': '2.1.0' }, Ports: [{ IP: '0.0.0.0', PrivatePort: 3000, PublicPort: 18080, Type: 'tcp' }] });
    expect(containerRow(labelled, state({ Health: { Status: 'healthy', FailingStreak: 0, Log: [] } }), now)).toEqual({
      service: 'api', name: 'api-k3j2', id: 'abcdef012345', image: 'shop/api:2', status: 'running', health: 'healthy', ports: '18080:3000/tcp', uptime: '2h 3m', version: '2.1.0',
    });
    const plain = containerRow(listEntry({ Names: ['/db'], Image: 'postgres', State: 'exited', Status: 'Exited (0) 1 hour ago' }), state({ Status: 'exited', Running: false }), now);
    expect([plain.service, plain.version, plain.status, plain.uptime, plain.health]).toEqual(['—', 'latest', 'exited (0)', '—', '—']);
  });

  test('a container the engine shows by image id: its one local tag, else the reference opsbook deployed, else the id', () => {
    const now = Date.parse('2026-01-01T12:03:30Z');
    const id = `sha256:${'ab'.repeat(32)}`;
    const two = `sha256:${'c2'.repeat(32)}`;
    const dangling = `sha256:${'d0'.repeat(32)}`;
    expect([id, 'ab'.repeat(6), 'ab'.repeat(32)].every(isImageId)).toBe(true);
    expect(['shop/api:2', 'busybox', 'abcdef', 'cafe/api'].some(isImageId)).toBe(false);
    const tags = tagsByImageId([
      { Id: id, RepoTags: ['shop/api:2'] },
      { Id: two, RepoTags: ['shop/api:3', 'shop/api:latest'] },
      { Id: dangling, RepoTags: ['<none>:<none>'] },
    ]);
    const row = (overrides: Partial<Docker.ContainerInfo>) => containerRow(listEntry(overrides), state(), now, tags);
    // created from the id (a %rollback), tag known: the tag, and the version column follows it
    expect(row({ Image: id, ImageID: id })).toMatchObject({ image: 'shop/api:2', version: '2' });
    expect(row({ Image: 'ab'.repeat(6), ImageID: id }).image).toBe('shop/api:2');
    // opsbook's label says what it was deployed as: used when the image has no single tag (its tag was rebuilt)
    const deployed = { 'opsbook.image': 'shop/api:latest', 'opsbook.version': 'latest' };
    expect(row({ Image: dangling, ImageID: dangling, Labels: deployed })).toMatchObject({ image: 'shop/api:latest', version: 'latest' });
    expect(row({ Image: two, ImageID: two, Labels: deployed }).image).toBe('shop/api:latest');
    expect(row({ Image: id, ImageID: id, Labels: { 'opsbook.image': 'shop/api:old' } }).image).toBe('shop/api:2');
    // nothing better known: the id stays; a reference the engine shows stays as it is
    expect(row({ Image: two, ImageID: two }).image).toBe(two);
    expect(row({ Image: dangling, ImageID: dangling, Labels: { 'opsbook.image': id } }).image).toBe(dangling);
    expect(row({ Image: 'shop/api:9', ImageID: id }).image).toBe('shop/api:9');
    expect(containerRow(listEntry({ Image: id, ImageID: id }), state(), now).image).toBe(id); // no image listing given
  });

  test('rows sort by service (unowned last) then name; the table escapes HTML; empty says what was asked', () => {
    const row = (service: string, name: string): ContainerRow => ({ service, name, id: name, image: '<img src=x onerror=alert(1)>', status: 'running', health: '—', ports: '', uptime: '1m', version: 'a&b' });
    const rows = sortRows([row('—', 'zz'), row('web', 'web-2'), row('api', 'api-1'), row('web', 'web-1')]);
    expect(rows.map((r) => r.name)).toEqual(['api-1', 'web-1', 'web-2', 'zz']);
    const bundle = psBundle(rows, 'x');
    expect(bundle['text/html']).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(bundle['text/html']).not.toContain('<img');
    expect(bundle['text/html']).toContain('<td style="text-align:left">a&amp;b</td>');
    const lines = bundle['text/plain'].split('\n');
    expect(lines[0]).toMatch(/^service\s+container\s+image\s+status\s+health\s+ports\s+uptime\s+version$/);
    expect(lines).toHaveLength(5);
    expect(lines[1].indexOf('api-1')).toBe(lines[0].indexOf('container'));
    expect(psBundle([], describeSelection(['service=nope'], false))['text/plain']).toBe('no containers (running, managed by opsbook; filter service=nope)');
  });

  test('a service with versions but none serving: one warning line under the table (or the empty line), text and HTML', () => {
    const row: ContainerRow = { service: 'api', name: 'opsbook-proxy-api', id: 'x', image: 'haproxy:2.8', status: 'running', health: '—', ports: '8080:8080/tcp', uptime: '1m', version: '2.8' };
    const bundle = psBundle([row], 'x', ['api', 'w<b']);
    const lines = bundle['text/plain'].split('\n');
    expect(lines.slice(-2)).toEqual(['warning: api has versions but none serving: run %deploy --cleanup --name api', 'warning: w<b has versions but none serving: run %deploy --cleanup --name w<b']);
    expect(bundle['text/html']).toContain('<div class="opsbook-ps-warning">warning: api has versions but none serving: run %deploy --cleanup --name api</div>');
    expect(bundle['text/html']).toContain('w&lt;b');
    expect(psBundle([], 'running, managed by opsbook', ['api'])['text/plain']).toBe('no containers (running, managed by opsbook)\nwarning: api has versions but none serving: run %deploy --cleanup --name api');
    expect(psBundle([row], 'x')['text/plain']).not.toContain('warning');
    expect(servicesAskedFor(['status=exited', 'service=api', 'service=web'])).toEqual(['api', 'web']);
    expect(servicesAskedFor(['status=exited'])).toBeUndefined();
  });

  test('unserved services: with a proxy, the version its routing names must run; without one, any version but a candidate', async () => {
    const labels = (service: string, extra: Record<string, string> = {}) => ({ 'opsbook.managed': 'true', 'opsbook.service': service, ...extra });
    const routingFile = (container: string) => `# opsbook-routing: ${JSON.stringify({ service: 'api', ports: [{ host: 8080, container: 8080 }], servers: [{ container, version: '2', weight: 100 }], mode: 'http', check: { kind: 'tcp' }, drainSeconds: 30 })}\n`;
    const containers = [
      { Id: 'p1', Names: ['/opsbook-proxy-api'], State: 'running', Labels: labels('api', { 'opsbook.role': 'proxy' }) },
      { Id: 'a1', Names: ['/api-d1'], State: 'running', Labels: labels('api', { 'opsbook.deploy-id': 'd1' }) },
      { Id: 'a2', Names: ['/api-d2'], State: 'exited', Labels: labels('api', { 'opsbook.deploy-id': 'd2' }) },
      { Id: 'w1', Names: ['/worker-d3-candidate'], State: 'running', Labels: labels('worker', { 'opsbook.deploy-id': 'd3' }) },
      { Id: 'w2', Names: ['/worker-d2'], State: 'exited', Labels: labels('worker', { 'opsbook.deploy-id': 'd2' }) },
      { Id: 'j1', Names: ['/job-d1'], State: 'running', Labels: labels('job', { 'opsbook.deploy-id': 'd1' }) },
      { Id: 'l1', Names: ['/opsbook-lock-idle'], State: 'created', Labels: labels('idle', { 'opsbook.lock': 'true' }) },
    ];
    let routedTo = 'api-d2';
    const fakeDocker = {
      listContainers: async (o: { filters?: { label?: string[] } }) => containers.filter((c) => (o.filters?.label ?? []).every((l) => { const [k, v] = l.split('='); return (c.Labels as Record<string, string>)[k] === v; })),
      getContainer: () => ({ getArchive: async () => { throw Object.assign(new Error('no archive in this fake'), { statusCode: 404 }); } }),
    };
    // the routing is read from the proxy's file: stand in for it through the archive reader
    jest.resetModules();
    jest.doMock('../../magics/docker/proxy/archive', () => ({ readFile: async () => routingFile(routedTo), putFiles: async () => undefined }));
    const ps = await import('../../magics/docker/ps');
    expect(await ps.unservedServices(fakeDocker as never, undefined)).toEqual(['api', 'worker']);
    routedTo = 'api-d1';
    expect(await ps.unservedServices(fakeDocker as never, undefined)).toEqual(['worker']);
    expect(await ps.unservedServices(fakeDocker as never, ['api', 'job'])).toEqual([]);
    jest.dontMock('../../magics/docker/proxy/archive');
  });
});

describe('%logs', () => {
  test('the demuxer splits frames by stream, also when frames and headers are split across chunks', () => {
    const c = collector();
    const d = new FrameDemuxer((s, payload) => c.write(s, payload.toString('utf8')));
    const all = Buffer.concat([frame(1, 'out one\n'), frame(2, 'err one\n'), frame(1, 'out two\n'), frame(2, 'err two\n'), frame(1, '')]);
    // every split point: a chunk boundary inside a header, inside a payload, between frames
    for (let cut = 1; cut < all.length; cut += 1) {
      c.out.length = 0;
      const again = new FrameDemuxer((s, payload) => c.write(s, payload.toString('utf8')));
      again.push(all.subarray(0, cut));
      again.push(all.subarray(cut));
      expect(c.out).toEqual([['stdout', 'out one\n'], ['stderr', 'err one\n'], ['stdout', 'out two\n'], ['stderr', 'err two\n']]);
      expect(again.incompleteBytes).toBe(0);
    }
    // one byte at a time, and many frames in one chunk
    c.out.length = 0;
    for (const byte of all) d.push(Buffer.from([byte]));
    expect(c.text('stdout')).toBe('out one\nout two\n');
    expect(c.text('stderr')).toBe('err one\nerr two\n');
    d.push(frame(2, 'cut sh').subarray(0, 10));
    expect(d.incompleteBytes).toBe(10);
  });

  test('stdin frames go to stdout, the engine\'s own errors (type 3) to stderr; a non-frame header passes everything through', () => {
    const c = collector();
    const d = new FrameDemuxer((s, payload) => c.write(s, payload.toString('utf8')));
    d.push(Buffer.concat([frame(0, 'in\n'), frame(3, 'engine error\n')]));
    expect(c.out).toEqual([['stdout', 'in\n'], ['stderr', 'engine error\n']]);
    const raw = collector();
    const tty = new FrameDemuxer((s, payload) => raw.write(s, payload.toString('utf8')));
    tty.push(Buffer.from('plain tty output\r\n'));
    tty.push(Buffer.from('more\r\n'));
    expect(raw.text('stdout')).toBe('plain tty output\r\nmore\r\n');
    expect(raw.text('stderr')).toBe('');
  });

  test('lines are handed on whole: a UTF-8 character and a line split across pushes arrive intact', () => {
    const got: string[] = [];
    const lines = new LineBuffer((t) => got.push(t));
    const text = Buffer.from('héllo wörld\nsecond', 'utf8');
    lines.push(text.subarray(0, 2)); // inside "é"
    expect(got).toEqual([]);
    lines.push(text.subarray(2));
    expect(got).toEqual(['héllo wörld\n']);
    expect(lines.holding).toBe(true);
    lines.flush();
    expect(got).toEqual(['héllo wörld\n', 'second']);
    expect(lines.holding).toBe(false);
  });

  test('a secret split across frames and chunks is still masked; streams never mix', () => {
    const c = collector();
    const sink = new LogSink(c.write, masker(['hunter2-secret']), false);
    const all = Buffer.concat([frame(1, 'token=hunt'), frame(2, 'warn: hunter2-'), frame(1, 'er2-secret ok\n'), frame(2, 'secret leaked?\n'), frame(1, 'tail without newline hunter2-secret')]);
    for (let i = 0; i < all.length; i += 5) sink.push(all.subarray(i, i + 5));
    sink.flush();
    expect(c.text('stdout')).toBe('token=*** ok\ntail without newline ***');
    expect(c.text('stderr')).toBe('warn: *** leaked?\n');
    expect(JSON.stringify(c.out)).not.toContain('hunter2-secret');
  });

  test('a TTY log is raw: everything on stdout, masked by line', () => {
    const c = collector();
    const sink = new LogSink(c.write, masker(['pw123']), true);
    sink.push(Buffer.from('login pw1'));
    sink.push(Buffer.from('23\r\nbye\r\n'));
    expect(c.out).toEqual([['stdout', 'login ***\r\nbye\r\n']]);
  });

  test('secret values: the variables the label names, from Config.Env', () => {
    const env = ['PATH=/bin', 'OPSBOOK_SECRET=s3cr3t=with=equals', 'DB_PASSWORD=pw', 'EMPTY='];
    expect(secretValues({ 'opsbook.secret-env': 'OPSBOOK_SECRET, DB_PASSWORD,EMPTY,MISSING' }, env)).toEqual(['s3cr3t=with=equals', 'pw']);
    expect(secretValues({}, env)).toEqual([]);
    expect(secretValues(undefined, undefined)).toEqual([]);
  });

  test('--since takes a duration back from now or a time; --tail a number or all', () => {
    const now = 1_800_000_000;
    expect(sinceSeconds('10m', now)).toBe(now - 600);
    expect(sinceSeconds('1h30m', now)).toBe(now - 5400);
    expect(sinceSeconds('30', now)).toBe(now - 30);
    expect(sinceSeconds('2026-11-25T10:00:00Z', now)).toBe(Date.parse('2026-11-25T10:00:00Z') / 1000);
    expect(sinceSeconds('now-2h', now)).toBe(now - 7200);
    expect(() => sinceSeconds('yesterday', now)).toThrow('bad --since "yesterday": use a duration (30s, 10m, 1h30m) or an RFC 3339 time (2026-11-25T10:00:00Z)');
    expect([tailLines('100'), tailLines('0'), tailLines('all')]).toEqual([100, 0, 'all']);
    expect(() => tailLines('-5')).toThrow(/bad --tail/);
  });
});

describe('%stop', () => {
  test('what happened to a container, in words', () => {
    expect(describeStop('stopped', 0, 0.42, 10)).toEqual({ outcome: 'stopped', result: 'stopped in 0.4 s (exit 0)' });
    expect(describeStop('stopped', 137, 10.2, 10)).toEqual({ outcome: 'killed', result: 'killed after the 10 s timeout (exit 137)' });
    expect(describeStop('stopped', 137, 0.1, 10).outcome).toBe('stopped'); // killed by someone else, quickly
    expect(describeStop('already stopped', 3, 0, 10).result).toBe('already stopped (exit 3)');
    expect(describeStop('gone', undefined, 0, 10).result).toBe('removed meanwhile');
    expect(describeStop('failed', undefined, 0, 10, 'boom').result).toBe('failed: boom');
    expect([timeoutSeconds('0'), timeoutSeconds('30')]).toEqual([0, 30]);
    expect(() => timeoutSeconds('1.5')).toThrow(/whole seconds/);
  });

  test('running containers of a target, and the line when none runs', () => {
    const service = { kind: 'service' as const, service: 'api', containers: [listEntry({ Id: 'a'.repeat(64), Names: ['/api-1'] }), listEntry({ Id: 'b'.repeat(64), Names: ['/api-0'], State: 'exited' })] };
    expect(runningContainers(service)).toEqual([{ id: 'a'.repeat(64), name: 'api-1', service: 'api' }]);
    const stopped = { ...service, containers: service.containers.slice(1) };
    expect(runningContainers(stopped)).toEqual([]);
    expect(nothingRunning(stopped)).toBe('nothing to stop: service api has no running container (1 stopped)');
    const container = { kind: 'container' as const, container: { Id: 'c1', Name: '/db', State: state({ Status: 'exited', Running: false, ExitCode: 0 }), Config: { Labels: {} } } as unknown as Docker.ContainerInspectInfo };
    expect(nothingRunning(container)).toBe('nothing to stop: container db is not running (exited (0))');
  });
});

describe('names given to %logs and %stop', () => {
  /** An engine with one service, api; any container path asked for is recorded (and found by name only for "api-1"). */
  function fakeEngine(): { docker: Docker; pathsAsked: string[] } {
    const pathsAsked: string[] = [];
    const api = listEntry({ Labels: { 'opsbook.service': 'api' } });
    const docker = {
      listContainers: async (options: { filters?: { label?: string[] } }) => {
        const label = options.filters?.label?.[0];
        return label === 'opsbook.service' || label === 'opsbook.service=api' ? [api] : [];
      },
      getContainer: (name: string) => ({
        inspect: async () => {
          pathsAsked.push(`/containers/${name}/json`);
          if (name === 'api-1') return { Id: 'abc', Name: '/api-1' };
          throw Object.assign(new Error('(HTTP code 404) no such container'), { statusCode: 404 });
        },
      }),
    } as unknown as Docker;
    return { docker, pathsAsked };
  }

  test('container names and ids are what the engine allows; anything else cannot name a container', () => {
    for (const ok of ['api', 'api-k3j2', 'web_1.blue', 'abcdef012345', 'a']) expect(couldNameContainer(ok)).toBe(true);
    for (const bad of ['a b', 'a;b', 'a/b', '../images/json', '-api', '.api', 'api?x=1', 'api%20', 'ä', '']) expect(couldNameContainer(bad)).toBe(false);
  });

  test('a name no container can have is the unknown-name error, and never goes into a request path', async () => {
    const { docker, pathsAsked } = fakeEngine();
    for (const name of ['a b', 'a;b', 'x/../../images/json']) {
      const failure = await resolveTarget(docker, name, 'logs').then(() => undefined, (e: unknown) => e);
      expect(failure).toBeInstanceOf(MagicError);
      expect((failure as MagicError).message).toBe(`%logs: no service or container named "${name}"`);
      expect((failure as MagicError).hint).toBe('services: api (%ps --all lists every container)');
    }
    expect(pathsAsked).toEqual([]);
    expect(await resolveTarget(docker, 'api', 'stop')).toMatchObject({ kind: 'service', service: 'api' });
    expect(await resolveTarget(docker, 'api-1', 'stop')).toMatchObject({ kind: 'container' });
    await expect(resolveTarget(docker, 'other', 'stop')).rejects.toThrow('%stop: no service or container named "other"');
    expect(pathsAsked).toEqual(['/containers/api-1/json', '/containers/other/json']);
  });
});

test('option parsing of the three magics: usage errors are short, values converted', async () => {
  const connection = new DockerConnection(new NotebookConfig({}), {});
  const registry = new MagicRegistry();
  const seen: unknown[] = [];
  for (const magic of [psMagic(connection), logsMagic(connection), stopMagic(connection)]) registry.register({ ...magic, run: async (call) => seen.push(call.args) });
  const io = { signal: new AbortController().signal } as never;
  await registry.run({ name: 'logs', text: 'api --tail all -f --since 10m -t', cell: false, help: false, bound: false }, io);
  await registry.run({ name: 'stop', text: 'api -t 3', cell: false, help: false, bound: false }, io);
  await registry.run({ name: 'ps', text: '--all --filter service=api --filter status=exited', cell: false, help: false, bound: false }, io);
  expect(seen).toEqual([
    { options: { tail: 'all', follow: true, since: '10m', timestamps: true }, rest: 'api', words: ['api', '--tail', 'all', '-f', '--since', '10m', '-t'] },
    { options: { timeout: 3 }, rest: 'api', words: ['api', '-t', '3'] },
    { options: { all: true, filter: ['service=api', 'status=exited'] }, rest: '', words: ['--all', '--filter', 'service=api', '--filter', 'status=exited'] },
  ]);
  await expect(registry.run({ name: 'logs', text: 'api --since yesterday', cell: false, help: false, bound: false }, io)).rejects.toThrow(/bad --since "yesterday"/);
  await expect(registry.run({ name: 'stop', text: 'api --timeout soon', cell: false, help: false, bound: false }, io)).rejects.toThrow(UsageError);
  await expect(registry.run({ name: 'logs', text: '', cell: false, help: false, bound: false }, io)).rejects.toThrow(/missing required argument 'target'/);
});
