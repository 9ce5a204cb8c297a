// Unit tests of the Docker magics' pure parts: DOCKER_HOST parsing, the ping against loopback listeners that never
// answer or close the connection, the build stream read into progress (steps, cache hits, image id, failures only
// reported in errorDetail), the build's display (throttled progress, then one outcome), and secret masking.
import * as net from 'node:net';
import { DockerConnection, dockerTarget, unreachable } from '../../magics/docker/engine/connection';
import { NotebookConfig } from '../../magics/lib/notebook-config';
import { BuildProgress } from '../../magics/docker/build/progress';
import { BuildDisplay } from '../../magics/docker/build/display';
import type { MimeBundle } from '../../kernel/protocol/messages';
import { masker } from '../../magics/lib/secrets';
import { MagicError } from '../../kernel/io/errors';

test('DOCKER_HOST: the local socket by default, unix, tcp, tcp with TLS, ssh; bad hosts are MagicErrors', () => {
  expect(dockerTarget(undefined)).toEqual({ shown: 'unix:///var/run/docker.sock', options: { socketPath: '/var/run/docker.sock' } });
  expect(dockerTarget('unix:///run/user/1000/docker.sock').options).toEqual({ socketPath: '/run/user/1000/docker.sock' });
  expect(dockerTarget('tcp://10.0.0.5:2375', {})).toEqual({ shown: 'tcp://10.0.0.5:2375', options: { host: '10.0.0.5', port: '2375', protocol: 'http' } });
  expect(() => dockerTarget('tcp://10.0.0.5', { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/nonexistent' })).toThrow(/TLS files in \/nonexistent cannot be read/);
  const ssh = dockerTarget('ssh://ops@build-host:2222', { SSH_AUTH_SOCK: '/tmp/agent' });
  expect(ssh).toEqual({ shown: 'ssh://ops@build-host:2222', options: { protocol: 'ssh', host: 'build-host', port: '2222', username: 'ops', sshAuthAgent: '/tmp/agent' } });
  expect(() => dockerTarget('ftp://x')).toThrow(MagicError);
  expect(() => dockerTarget('not a host')).toThrow(/not a Docker host/);
});

test('an unreachable engine is one line naming the host and what to check', () => {
  const local = dockerTarget('unix:///tmp/none.sock');
  const err = (code: string, message = code) => Object.assign(new Error(message), { code });
  expect(unreachable(local, err('ENOENT')).message).toBe('no Docker engine at unix:///tmp/none.sock (the socket does not exist)');
  expect(unreachable(local, err('EACCES')).hint).toMatch(/docker group/);
  expect(unreachable(dockerTarget('tcp://127.0.0.1:9'), err('ECONNREFUSED')).message).toBe('cannot connect to the Docker engine at tcp://127.0.0.1:9 (connection refused)');
  expect(unreachable(dockerTarget('tcp://127.0.0.1:9'), err('ECONNRESET', 'socket hang up')).message).toBe('the Docker engine at tcp://127.0.0.1:9 did not answer (it closed the connection)');
});

/** A TCP listener on loopback that does `onConnection` with every connection; closed (its sockets too) by `close`. */
async function listener(onConnection: (socket: net.Socket) => void): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const close = () => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  });
  return { port, close };
}

/** What DockerConnection.engine() fails with against DOCKER_HOST=tcp://127.0.0.1:<port>. */
async function engineFailure(port: number): Promise<MagicError> {
  const env = { DOCKER_HOST: `tcp://127.0.0.1:${port}` };
  const connection = new DockerConnection(new NotebookConfig(env), env);
  return connection.engine().then(() => { throw new Error('the engine answered'); }, (e: MagicError) => e);
}

test('an engine that accepts and never answers: "did not answer within 3 s", one line, not "socket hang up"', async () => {
  const silent = await listener(() => undefined);
  try {
    const e = await engineFailure(silent.port);
    expect(e).toBeInstanceOf(MagicError);
    expect(e.message).toBe(`the Docker engine at tcp://127.0.0.1:${silent.port} did not answer within 3 s`);
    expect(e.hint).toMatch(/DOCKER_HOST/);
  } finally {
    await silent.close();
  }
}, 10_000); // the ping gives up after 3 s: the test's timeout bounds it

test('an engine that accepts and closes the connection (a reset): one line saying it did not answer', async () => {
  for (const cut of [(s: net.Socket) => s.destroy(), (s: net.Socket) => s.resetAndDestroy()]) {
    const closing = await listener(cut);
    try {
      const e = await engineFailure(closing.port);
      expect(e).toBeInstanceOf(MagicError);
      expect(e.message).toBe(`the Docker engine at tcp://127.0.0.1:${closing.port} did not answer (it closed the connection)`);
    } finally {
      await closing.close();
    }
  }
}, 10_000);

test('the build stream: steps of how many, cache hits, the image id, the log', () => {
  let now = 1000;
  const p = new BuildProgress(() => now);
  p.add({ stream: 'Step 1/3 : FROM opsbook/node:local\n' });
  p.add({ stream: ' ---> 1a2b3c\n' });
  now = 2000;
  p.add({ stream: 'Step 2/3 : COPY . /app\n ---> Using cache\n ---> 4d5e6f\n' });
  now = 3500;
  p.add({ stream: 'Step 3/3 : RUN make' });
  p.add({ stream: '\n ---> Running in 0a0a\nbuilding...\n' });
  expect(p.describeCurrent()).toBe('Step 3/3: RUN make');
  p.add({ aux: { ID: 'sha256:feed' } });
  p.add({ stream: 'Successfully built feed\n' });
  now = 5000;
  p.finish();
  expect(p.steps.map((s) => [s.number, s.cached, s.startedAt, s.endedAt])).toEqual([[1, false, 1000, 2000], [2, true, 2000, 3500], [3, false, 3500, 5000]]);
  expect([p.totalSteps, p.cacheHits, p.imageId, p.error]).toEqual([3, 1, 'sha256:feed', undefined]);
  expect(p.logText()).toContain('building...');
});

test('a failed build is only in errorDetail: it is read, and masked', () => {
  const p = new BuildProgress(Date.now, masker(['hunter2']));
  p.add({ stream: 'Step 2/4 : RUN echo hunter2 && false\n' });
  p.add({ errorDetail: { message: "The command '/bin/sh -c echo hunter2 && false' returned a non-zero code: 1", code: 1 }, error: 'x' });
  expect(p.error).toBe("The command '/bin/sh -c echo *** && false' returned a non-zero code: 1");
  expect(p.logText()).not.toContain('hunter2');
  expect(p.describeCurrent()).toBe('Step 2/4: RUN echo *** && false');
});

/** A cell Io that keeps what its one display showed, in order. */
function displayRecorder(): { io: { display: (bundle: MimeBundle) => { id: string; update: (b: MimeBundle) => void; clear: () => void } }; shown: string[] } {
  const shown: string[] = [];
  const io = {
    display: (bundle: MimeBundle) => {
      shown.push(String(bundle['text/plain']));
      return { id: 'build', update: (b: MimeBundle) => shown.push(String(b['text/plain'])), clear: () => shown.push('') };
    },
  };
  return { io, shown };
}

describe('the %build display', () => {
  beforeEach(() => jest.useFakeTimers({ now: Date.parse('2026-01-01T10:00:00Z') }));
  afterEach(() => jest.useRealTimers());

  test('progress at most every 250 ms, the step held back shown when that time is up', () => {
    const { io, shown } = displayRecorder();
    const p = new BuildProgress();
    const display = new BuildDisplay(io, p, 'app');
    p.add({ stream: 'Step 1/2 : FROM busybox\n' });
    display.refresh();
    p.add({ stream: 'Step 2/2 : RUN sleep 47\n' });
    display.refresh(); // within 250 ms: held back, and the engine then says nothing for a long time
    expect(shown).toEqual(['building app: sending the build context — 0 cached — 0.0 s', 'building app: Step 1/2: FROM busybox — 0 cached — 0.0 s']);
    jest.advanceTimersByTime(250);
    expect(shown[shown.length - 1]).toBe('building app: Step 2/2: RUN sleep 47 — 0 cached — 0.3 s');
  });

  test('a failure or an interruption replaces the progress line once; nothing updates it after', () => {
    const failing = displayRecorder();
    const p = new BuildProgress();
    const display = new BuildDisplay(failing.io, p, 'app');
    p.add({ stream: 'Step 1/3 : FROM busybox\nStep 2/3 : RUN false\n' });
    display.refresh();
    display.refresh(); // a trailing update pending when the build fails
    display.failed("The command '/bin/sh -c false' returned a non-zero code: 1");
    display.interrupted();
    display.refresh();
    jest.advanceTimersByTime(1000);
    expect(failing.shown.slice(-1)).toEqual(["build failed at Step 2/3 (RUN false): The command '/bin/sh -c false' returned a non-zero code: 1"]);
    expect(failing.shown.filter((line) => line.startsWith('build failed') || line.startsWith('build interrupted'))).toHaveLength(1);

    const early = displayRecorder();
    new BuildDisplay(early.io, new BuildProgress(), 'app').failed('cannot send the context: no Dockerfile');
    expect(early.shown).toEqual(['building app: sending the build context — 0 cached — 0.0 s', 'build failed before the first step: cannot send the context: no Dockerfile']);

    const stopped = displayRecorder();
    const q = new BuildProgress();
    const interrupted = new BuildDisplay(stopped.io, q, 'app');
    q.add({ stream: 'Step 2/2 : RUN sleep 47\n' });
    interrupted.interrupted();
    interrupted.failed('aborted');
    expect(stopped.shown.slice(-1)).toEqual(['build interrupted at Step 2/2: RUN sleep 47']);
  });
});

test('masker hides every secret, longest first; no secrets, no change', () => {
  expect(masker(['abc', 'abcdef'])('x abcdef abc y')).toBe('x *** *** y');
  expect(masker([])('same')).toBe('same');
  expect(masker([''])('same')).toBe('same');
});

test("a container's multiplexed log bytes become lines, stderr marked; a TTY container's raw bytes too", async () => {
  const { demuxLines } = await import('../../magics/docker/engine/log-streams');
  const frame = (stream: number, text: string) => {
    const body = Buffer.from(text);
    const head = Buffer.alloc(8);
    head[0] = stream;
    head.writeUInt32BE(body.length, 4);
    return Buffer.concat([head, body]);
  };
  expect(demuxLines(Buffer.concat([frame(1, 'out 1\nout 2\n'), frame(2, 'err 1\n')]))).toEqual(['out 1', 'out 2', 'err| err 1']);
  expect(demuxLines(Buffer.from('raw line\nraw 2\n'))).toEqual(['raw line', 'raw 2']);
  // a line the engine split over two frames stays one line; a last line without newline is kept
  expect(demuxLines(Buffer.concat([frame(1, 'listening on '), frame(1, ':8080\nbye')]))).toEqual(['listening on :8080', 'bye']);
});

test('an engine lost after it answered once is one line naming it, and is pinged again next time; other errors pass', async () => {
  const { DockerConnection } = await import('../../magics/docker/engine/connection');
  const { NotebookConfig } = await import('../../magics/lib/notebook-config');
  const connection = new DockerConnection(new NotebookConfig({ DOCKER_HOST: 'tcp://127.0.0.1:2999' }), { DOCKER_HOST: 'tcp://127.0.0.1:2999' });
  const forget = jest.spyOn(connection, 'forget');
  const failing = (error: Error) => connection.guard({ name: 'x', summary: '', kind: 'line', options: [], run: async () => { throw error; } });
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:2999'), { code: 'ECONNREFUSED' });
  const call = {} as Parameters<ReturnType<typeof failing>['run']>[0];
  await expect(failing(refused).run(call)).rejects.toThrow(new MagicError('cannot connect to the Docker engine at tcp://127.0.0.1:2999 (connection refused)'));
  expect(forget).toHaveBeenCalledTimes(1);
  const other = new Error('(HTTP code 409) conflict - name in use');
  await expect(failing(other).run(call)).rejects.toBe(other);
  const expected = new MagicError('image x is not on the engine');
  await expect(failing(expected).run(call)).rejects.toBe(expected);
  expect(forget).toHaveBeenCalledTimes(1);
});
