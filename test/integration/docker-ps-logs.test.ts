// %ps, %logs and %stop through a real kernel against the real Docker engine. The containers are started here with
// the docker CLI and carry the labels %deploy puts on its containers (managed, service, version, secret-env), plus a
// per-run label to clean up by. Checks the %ps rows and filters, stdout and stderr demultiplexed into the right
// streams with the secret masked, --tail / --since / --timestamps, --follow ended by an interrupt (at once) and by
// the container stopping, TTY logs, unknown names, and %stop (graceful, killed at the timeout, nothing running).
// Skipped with a warning without Docker, except with CI=true, where it fails.
import { execFileSync } from 'node:child_process';
import { startTestKernel, TestKernel } from '../support/kernel-client';
import type { Message } from '../../kernel/protocol/messages';
import { BUSYBOX_IMAGE, ensureBaseImages } from '../../notebooks/stack/base-images';
import { docker } from '../../notebooks/stack/commands';
import { ensureDocker } from '../../notebooks/stack/engine';
import { describeWithDocker, removeByLabel } from '../support/docker';
import { TEST_LABEL } from '../support/sample-image';

const describeDocker = describeWithDocker('docker-ps-logs');

const RUN = `docker-ps-logs-${process.pid}`;
const RUN_LABEL = `opsbook.test.run=${RUN}`;
const SECRET = `pslogs-secret-${process.pid}-x9`;
/** Unique per run, so other suites' and earlier runs' containers never match. */
const CHATTY = `chatty-${process.pid}`;
const STOPPABLE = `stoppable-${process.pid}`;

/** Prints the secret once on each stream, then numbered lines on stdout and stderr, forever. */
const CHATTY_SCRIPT = 'echo "starting with secret $OPSBOOK_SECRET"; echo "stderr secret $OPSBOOK_SECRET" >&2; i=0; while true; do i=$((i+1)); echo "out $i"; echo "err $i" >&2; sleep 0.2; done';

interface ContainerSpec {
  name: string;
  service?: string;
  managed?: boolean;
  script: string;
  extra?: string[];
}

/** `docker run -d` with %deploy's labels (when managed) and the test labels; returns the container id. */
async function startContainer(spec: ContainerSpec): Promise<string> {
  const managed = spec.managed ?? true;
  const labels = [
    RUN_LABEL, TEST_LABEL,
    ...(managed ? ['opsbook.managed=true', 'opsbook.version=1.2.3', `opsbook.image=${BUSYBOX_IMAGE}`, 'opsbook.secret-env=OPSBOOK_SECRET', `opsbook.deployed-at=${new Date().toISOString()}`] : []),
    ...(spec.service ? [`opsbook.service=${spec.service}`] : []),
  ];
  const args = ['run', '-d', '--name', spec.name, ...labels.flatMap((l) => ['--label', l]), '-e', `OPSBOOK_SECRET=${SECRET}`, ...(spec.extra ?? []), BUSYBOX_IMAGE, 'sh', '-c', spec.script];
  return (await docker(args, 30_000)).stdout.trim();
}

/** A created, never started container like %deploy's deploy lock or audit record of a service. */
async function createBookkeeping(name: string, service: string, kind: 'opsbook.lock' | 'opsbook.deploy-record'): Promise<void> {
  const labels = [RUN_LABEL, TEST_LABEL, 'opsbook.managed=true', `opsbook.service=${service}`, `${kind}=true`];
  await docker(['create', '--name', name, ...labels.flatMap((l) => ['--label', l]), BUSYBOX_IMAGE, 'true'], 30_000);
}

function inspectField(name: string, template: string): string {
  return execFileSync('docker', ['inspect', '--format', template, name], { encoding: 'utf8' }).trim();
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const streamText = (outputs: Message[], name: 'stdout' | 'stderr') =>
  outputs.filter((m) => m.header.msg_type === 'stream' && m.content.name === name).map((m) => String(m.content.text)).join('');
const linesOf = (text: string) => text.split('\n').filter((l) => l !== '');
const resultText = (outputs: Message[]) => (outputs.find((m) => m.header.msg_type === 'execute_result')?.content.data as Record<string, string> | undefined)?.['text/plain'] ?? '';
const displayed = (outputs: Message[]) => outputs.filter((m) => m.header.msg_type === 'display_data' || m.header.msg_type === 'update_display_data').map((m) => m.content.data as Record<string, string>);
/** What a cell printed last with `console.log(JSON.stringify(x))`. */
const jsonResult = <T>(outputs: Message[]): T => JSON.parse(linesOf(streamText(outputs, 'stdout')).pop() ?? 'null') as T;

interface Row {
  service: string;
  name: string;
  image: string;
  status: string;
  health: string;
  ports: string;
  uptime: string;
  version: string;
}

describeDocker('%ps, %logs and %stop against a real Docker engine', () => {
  let k: TestKernel;

  beforeAll(async () => {
    await ensureDocker();
    await ensureBaseImages();
    await removeByLabel(RUN_LABEL);
    await startContainer({ name: `${CHATTY}-1`, service: CHATTY, script: CHATTY_SCRIPT, extra: ['-p', '127.0.0.1::8080', '--health-cmd', 'true', '--health-interval', '1s'] });
    await startContainer({ name: `unmanaged-${process.pid}`, managed: false, script: 'sleep 600' });
    await startContainer({ name: `exited-${process.pid}`, service: CHATTY, script: 'echo bye; exit 3' });
    await createBookkeeping(`opsbook-lock-${CHATTY}`, CHATTY, 'opsbook.lock');
    k = await startTestKernel();
    await waitFor('the chatty container to turn healthy and log a few lines', () => inspectField(`${CHATTY}-1`, '{{.State.Health.Status}}') === 'healthy'
      && execFileSync('docker', ['logs', `${CHATTY}-1`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).includes('out 3'));
    await waitFor('the exited container to exit', () => inspectField(`exited-${process.pid}`, '{{.State.Status}}') === 'exited');
  }, 120_000);

  afterAll(async () => {
    await k?.stop();
    await removeByLabel(RUN_LABEL);
  }, 60_000);

  test('%ps shows the running opsbook containers as a table; the bound value is the rows', async () => {
    const r = await k.client.execute(`const rows = %ps --filter service=${CHATTY}\nconsole.log(JSON.stringify(rows))`, {}, 30_000);
    expect(r.reply.content.status).toBe('ok');
    const rows = jsonResult<Row[]>(r.outputs);
    expect(rows).toHaveLength(1); // the exited one needs --all
    const hostPort = inspectField(`${CHATTY}-1`, '{{(index (index .NetworkSettings.Ports "8080/tcp") 0).HostPort}}');
    expect(rows[0]).toMatchObject({ service: CHATTY, name: `${CHATTY}-1`, image: BUSYBOX_IMAGE, status: 'running', health: 'healthy', ports: `127.0.0.1:${hostPort}:8080/tcp`, version: '1.2.3' });
    expect(rows[0].uptime).toMatch(/^\d+(s|m)$/);
    const [table] = displayed(r.outputs);
    expect(table['text/plain'].split('\n')[0]).toMatch(/^service\s+container\s+image\s+status\s+health\s+ports\s+uptime\s+version$/);
    expect(table['text/html']).toContain(`<td style="text-align:left">${CHATTY}-1</td>`);
    expect(table['text/html']).toContain('<table class="opsbook-ps">');
  });

  test('%ps --all adds stopped and unmanaged containers; filters narrow; nothing found says what was asked', async () => {
    const managedOnly = await k.client.execute(`const m = %ps --filter label=${RUN_LABEL}\nconsole.log(JSON.stringify(m.map((r) => r.name).sort()))`, {}, 30_000);
    expect(jsonResult<string[]>(managedOnly.outputs)).toEqual([`${CHATTY}-1`]);
    const all = await k.client.execute(`const a = %ps --all --filter label=${RUN_LABEL}\nconsole.log(JSON.stringify(a))`, {}, 30_000);
    const rows = jsonResult<Row[]>(all.outputs);
    expect(rows.map((row) => row.name)).toEqual([`${CHATTY}-1`, `exited-${process.pid}`, `unmanaged-${process.pid}`]);
    expect(rows[1]).toMatchObject({ service: CHATTY, status: 'exited (3)', uptime: '—', ports: '' });
    expect(rows[2]).toMatchObject({ service: '—', version: 'local', health: '—' });
    const locks = await k.client.execute(`const l = %ps --all --filter label=${RUN_LABEL} --filter label=opsbook.lock=true\nconsole.log(JSON.stringify(l.map((r) => [r.name, r.status])))`, {}, 30_000);
    expect(jsonResult<string[][]>(locks.outputs)).toEqual([[`opsbook-lock-${CHATTY}`, 'created']]);
    const byStatus = await k.client.execute(`const e = %ps --filter service=${CHATTY} --filter status=exited\nconsole.log(JSON.stringify(e.map((r) => r.name)))`, {}, 30_000);
    expect(jsonResult<string[]>(byStatus.outputs)).toEqual([`exited-${process.pid}`]);
    const byName = await k.client.execute(`const n = %ps --all --filter name=unmanaged-${process.pid}\nconsole.log(JSON.stringify(n.map((r) => r.name)))`, {}, 30_000);
    expect(jsonResult<string[]>(byName.outputs)).toEqual([`unmanaged-${process.pid}`]);
    const none = await k.client.execute(`%ps --filter service=nothing-${process.pid}`, {}, 30_000);
    expect(none.reply.content.status).toBe('ok');
    expect(displayed(none.outputs)[0]['text/plain']).toBe(`no containers (running, managed by opsbook; filter service=nothing-${process.pid})`);
    const bad = await k.client.execute('%ps --filter colour=red', {}, 30_000);
    expect(bad.reply.content.ename).toBe('UsageError');
  });

  test('%ps shows the tag of a container created from an image id; after the tag is gone, the reference deployed', async () => {
    const tag = `opsbook-test/ps-image:${process.pid}`;
    // an image of its own (the run label makes it unique), so no other suite's tags of it can interfere
    execFileSync('docker', ['build', '-q', '-t', tag, '--label', RUN_LABEL, '-'], { input: `FROM ${BUSYBOX_IMAGE}\n`, encoding: 'utf8', timeout: 60_000 });
    const id = inspectField(tag, '{{.Id}}');
    const name = `by-id-${process.pid}`;
    await docker(['run', '-d', '--name', name, '--label', RUN_LABEL, '--label', TEST_LABEL, '--label', 'opsbook.managed=true', '--label', `opsbook.image=${tag}`, id, 'sleep', '600'], 30_000);
    const rowOf = async () => {
      const r = await k.client.execute(`const byId = %ps --filter name=${name}\nconsole.log(JSON.stringify(byId.map((row) => [row.image, row.version])))`, {}, 30_000);
      return jsonResult<string[][]>(r.outputs);
    };
    expect(execFileSync('docker', ['ps', '--filter', `name=${name}`, '--format', '{{.Image}}'], { encoding: 'utf8' }).trim()).toMatch(/^(sha256:)?[0-9a-f]{12,64}$/);
    expect(await rowOf()).toEqual([[tag, String(process.pid)]]);
    await docker(['rmi', '-f', tag], 30_000); // only untags: a running container keeps its image
    expect(await rowOf()).toEqual([[tag, String(process.pid)]]); // no tag left: the opsbook.image label
  });

  test('%logs: stdout lines on stdout, stderr lines on stderr, never mixed, the secret masked', async () => {
    const r = await k.client.execute(`%logs ${CHATTY} --tail all`, {}, 30_000);
    expect(r.reply.content.status).toBe('ok');
    const out = linesOf(streamText(r.outputs, 'stdout'));
    const err = linesOf(streamText(r.outputs, 'stderr'));
    expect(out[0]).toBe('starting with secret ***');
    expect(err[0]).toBe('stderr secret ***');
    expect(out.length).toBeGreaterThan(3);
    expect(err.length).toBeGreaterThan(3);
    for (const line of out.slice(1)) expect(line).toMatch(/^out \d+$/);
    for (const line of err.slice(1)) expect(line).toMatch(/^err \d+$/);
    expect(out.slice(1, 4)).toEqual(['out 1', 'out 2', 'out 3']);
    expect(JSON.stringify(r.outputs)).not.toContain(SECRET);
  });

  test('%logs --tail, --since and --timestamps; a bound %logs returns the text instead of printing it', async () => {
    const tail = await k.client.execute(`%logs ${CHATTY}-1 --tail 4`, {}, 30_000);
    const tailed = [...linesOf(streamText(tail.outputs, 'stdout')), ...linesOf(streamText(tail.outputs, 'stderr'))];
    expect(tailed).toHaveLength(4); // the last 4 lines of the log, both streams together, as docker logs --tail
    expect(tailed.some((l) => l.includes('secret'))).toBe(false);
    const since = new Date(Date.now() + 500).toISOString();
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const recent = await k.client.execute(`%logs ${CHATTY} --tail all --since ${since}`, {}, 30_000);
    const recentOut = linesOf(streamText(recent.outputs, 'stdout'));
    expect(recentOut.length).toBeGreaterThan(0);
    expect(recentOut.length).toBeLessThan(25); // ~0.7 s of a line every 0.2 s, not the whole log
    expect(recentOut.every((l) => /^out \d+$/.test(l))).toBe(true);
    const ago = await k.client.execute(`%logs ${CHATTY} --tail all --since 1h`, {}, 30_000);
    expect(linesOf(streamText(ago.outputs, 'stdout'))[0]).toBe('starting with secret ***');
    const stamped = await k.client.execute(`%logs ${CHATTY} --tail 2 --timestamps`, {}, 30_000);
    for (const line of linesOf(streamText(stamped.outputs, 'stdout') + streamText(stamped.outputs, 'stderr'))) expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z (out|err) \d+$/);
    const bound = await k.client.execute(`const l = %logs ${CHATTY} --tail all\nconsole.log(JSON.stringify([l.container, l.stdout.split('\\n')[0], l.stderr.split('\\n')[0], l.truncated]))`, {}, 30_000);
    expect(linesOf(streamText(bound.outputs, 'stdout'))).toHaveLength(1); // the console.log, not the log lines
    expect(streamText(bound.outputs, 'stderr')).toBe('');
    expect(jsonResult<unknown[]>(bound.outputs)).toEqual([`${CHATTY}-1`, 'starting with secret ***', 'stderr secret ***', false]);
  });

  test('%logs --follow streams new lines and stops at once on interrupt', async () => {
    const { msgId, frames } = k.client.frames('execute_request', { code: `%logs ${CHATTY} --tail 1 --follow`, silent: false, store_history: true, user_expressions: {}, allow_stdin: true, stop_on_error: true });
    const reply = k.client.waitReply(msgId, 30_000);
    await k.client.sendRaw('shell', frames);
    const numbers = () => linesOf(streamText(k.client.iopubFor(msgId), 'stdout')).map((l) => Number(/^out (\d+)$/.exec(l)?.[1]));
    await waitFor('three stdout lines while following', () => numbers().length >= 3, 15_000);
    const seen = numbers();
    expect(seen.every((n, i) => i === 0 || n === seen[i - 1] + 1)).toBe(true); // consecutive: new lines as they come
    expect(linesOf(streamText(k.client.iopubFor(msgId), 'stderr')).every((l) => /^err \d+$/.test(l))).toBe(true);
    const t0 = Date.now();
    await k.client.call('interrupt_request', {}, { channel: 'control', timeoutMs: 5000 });
    const answer = await reply;
    expect(answer.content.ename).toBe('KeyboardInterrupt');
    expect(Date.now() - t0).toBeLessThan(1500);
    await k.client.waitIdle(msgId, 5000);
    const next = await k.client.execute('1 + 1', {}, 10_000);
    expect(resultText(next.outputs)).toBe('2');
  });

  test('%logs --follow ends normally when the container stops; a TTY log is raw stdout', async () => {
    const name = `short-${process.pid}`;
    await startContainer({ name, service: `short-svc-${process.pid}`, script: 'echo first; sleep 2; echo last >&2; sleep 1; echo done' });
    const t0 = Date.now();
    const r = await k.client.execute(`%logs ${name} --follow`, {}, 30_000);
    expect(r.reply.content.status).toBe('ok');
    expect(Date.now() - t0).toBeGreaterThan(1000);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(linesOf(streamText(r.outputs, 'stdout'))).toEqual(['first', 'done']);
    expect(linesOf(streamText(r.outputs, 'stderr'))).toEqual(['last']);
    const tty = `tty-${process.pid}`;
    await startContainer({ name: tty, script: 'echo "tty out $OPSBOOK_SECRET"; echo "tty err" >&2; sleep 600', extra: ['-t'] });
    await waitFor('the TTY container to log', () => execFileSync('docker', ['logs', tty], { encoding: 'utf8' }).includes('tty err'));
    const raw = await k.client.execute(`%logs ${tty}`, {}, 30_000);
    expect(streamText(raw.outputs, 'stdout')).toBe('tty out ***\r\ntty err\r\n');
    expect(streamText(raw.outputs, 'stderr')).toBe('');
  });

  test('%logs and %stop complete service and container names', async () => {
    const code = `%logs ${CHATTY.slice(0, -2)}`;
    const r = await k.client.call('complete_request', { code, cursor_pos: code.length });
    const content = r.reply.content as { matches: string[]; cursor_start: number; cursor_end: number };
    expect(content.matches).toEqual([CHATTY, `${CHATTY}-1`]);
    expect(content.cursor_start).toBe('%logs '.length);
    const options = await k.client.call('complete_request', { code: '%stop api --ti', cursor_pos: 14 });
    expect((options.reply.content as { matches: string[] }).matches).toEqual(['--timeout']); // option names still complete
  });

  test('an unknown service or container is a MagicError naming the services that exist', async () => {
    const r = await k.client.execute(`%logs nothing-here-${process.pid}`, {}, 30_000);
    expect(r.reply.content.ename).toBe('MagicError');
    expect(r.reply.content.evalue).toBe(`%logs: no service or container named "nothing-here-${process.pid}"`);
    const traceback = (r.reply.content.traceback as string[]).join('\n');
    expect(traceback).toContain(CHATTY);
    expect(traceback).not.toMatch(/\bat .*\.js:\d+/);
    const stop = await k.client.execute(`%stop nothing-here-${process.pid}`, {}, 30_000);
    expect(stop.reply.content.evalue).toBe(`%stop: no service or container named "nothing-here-${process.pid}"`);
    // names no container can have (Node would refuse them in a request path): the same one-line error
    const spaced = await k.client.execute('%logs "a b"', {}, 30_000);
    expect([spaced.reply.content.ename, spaced.reply.content.evalue]).toEqual(['MagicError', '%logs: no service or container named "a b"']);
    expect((spaced.reply.content.traceback as string[]).join('\n')).toContain(CHATTY);
    const semicolon = await k.client.execute('%stop a;b', {}, 30_000);
    expect([semicolon.reply.content.ename, semicolon.reply.content.evalue]).toEqual(['MagicError', '%stop: no service or container named "a;b"']);
    expect((semicolon.reply.content.traceback as string[]).join('\n')).not.toMatch(/TypeError|\bat .*\.js:\d+/);
  });

  test('%stop stops every running container of a service: SIGTERM, SIGKILL at the timeout; then nothing is running', async () => {
    await startContainer({ name: `${STOPPABLE}-graceful`, service: STOPPABLE, script: "trap 'echo bye; exit 0' TERM; echo graceful; while true; do sleep 0.1; done" });
    await startContainer({ name: `${STOPPABLE}-stubborn`, service: STOPPABLE, script: 'echo stubborn; while true; do sleep 0.1; done' });
    await waitFor('both to run', () => ['graceful', 'stubborn'].every((n) => inspectField(`${STOPPABLE}-${n}`, '{{.State.Running}}') === 'true'));
    await new Promise((resolve) => setTimeout(resolve, 300)); // the trap is set once the shell has run its first line
    const newest = await k.client.execute(`%logs ${STOPPABLE}`, {}, 30_000);
    expect(linesOf(streamText(newest.outputs, 'stdout'))).toEqual(['stubborn']); // the newest running container
    const r = await k.client.execute(`const stopped = %stop ${STOPPABLE} --timeout 1\nconsole.log(JSON.stringify(stopped.map((s) => [s.name, s.outcome, s.exitCode]).sort()))`, {}, 30_000);
    expect(r.reply.content.status).toBe('ok');
    expect(jsonResult<unknown[]>(r.outputs)).toEqual([[`${STOPPABLE}-graceful`, 'stopped', 0], [`${STOPPABLE}-stubborn`, 'killed', 137]]);
    const shown = displayed(r.outputs);
    expect(shown[0]['text/plain']).toMatch(/^stopping 2 containers of service stoppable-\d+: .* \(SIGTERM, SIGKILL after 1 s\)…$/);
    const final = shown[shown.length - 1]['text/plain'];
    expect(final).toMatch(new RegExp(`^stopped 2 containers of service ${STOPPABLE}\\n`));
    expect(final).toMatch(/stopped in \d+\.\d s \(exit 0\)/);
    expect(final).toContain('killed after the 1 s timeout (exit 137)');
    expect(inspectField(`${STOPPABLE}-graceful`, '{{.State.Running}}')).toBe('false');
    const again = await k.client.execute(`%stop ${STOPPABLE}`, {}, 30_000);
    expect(again.reply.content.status).toBe('ok');
    expect(displayed(again.outputs)[0]['text/plain']).toBe(`nothing to stop: service ${STOPPABLE} has no running container (2 stopped)`);
    await createBookkeeping(`opsbook-record-${STOPPABLE}-1`, STOPPABLE, 'opsbook.deploy-record'); // newer than both, never a candidate
    const afterRecord = await k.client.execute(`%stop ${STOPPABLE}`, {}, 30_000);
    expect(displayed(afterRecord.outputs)[0]['text/plain']).toBe(`nothing to stop: service ${STOPPABLE} has no running container (2 stopped)`);
    const logsOfStopped = await k.client.execute(`%logs ${STOPPABLE}`, {}, 30_000);
    expect(streamText(logsOfStopped.outputs, 'stderr')).toMatch(new RegExp(`^service ${STOPPABLE} has no running container; the logs of its newest one, ${STOPPABLE}-(graceful|stubborn) \\(exited \\((0|137)\\)\\):\n$`));
    expect(['graceful', 'stubborn']).toContain(linesOf(streamText(logsOfStopped.outputs, 'stdout'))[0]);
  });

  test('%stop of one container by name, and of a container that is not running', async () => {
    const name = `unmanaged-${process.pid}`;
    const r = await k.client.execute(`%stop ${name} -t 0`, {}, 30_000);
    expect(r.reply.content.status).toBe('ok');
    const shown = displayed(r.outputs);
    expect(shown[shown.length - 1]['text/plain']).toMatch(new RegExp(`^stopped container ${name}\\n.*\\n—\\s+${name}\\s+killed after the 0 s timeout \\(exit 137\\)$`));
    const again = await k.client.execute(`%stop ${name}`, {}, 30_000);
    expect(displayed(again.outputs)[0]['text/plain']).toBe(`nothing to stop: container ${name} is not running (exited (137))`);
  });
});
