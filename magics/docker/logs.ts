// %logs: a container's logs in the cell, like `docker logs`. A service name means its newest running container
// (by label), else the name is a container name or id. stdout and stderr are demultiplexed from the engine's frame
// format (8-byte header: stream type, 3 zero bytes, payload size big-endian) into the cell's stdout and stderr
// streams; a TTY container's log is raw and all stdout. Output goes out a whole line at a time so the values of the
// container's secret environment variables (named in its opsbook.secret-env label) are masked as *** even when the
// engine splits them across chunks. --follow streams until the container stops or the cell is interrupted.
import { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { InterruptedError, type Io } from '../../kernel/io/io';
import { MagicError } from '../../kernel/io/errors';
import type { Magic, MagicCall } from '../registry';
import { parseDuration, parseTime } from '../lib/time';
import { masker } from '../lib/secrets';
import type { DockerConnection } from './engine/connection';
import { completeTarget, resolveTarget, secretValues, statusText } from './engine/containers';
import { LogSink, type LogStreamName } from './engine/log-streams';

/** What `const l = %logs api` binds (the lines are then not printed). */
export interface LogsResult {
  container: string;
  stdout: string;
  stderr: string;
  /** True when more than CAPTURE_LIMIT characters came on a stream and the rest was dropped. */
  truncated: boolean;
}

/** In --follow, a line without its newline yet is shown after this long without more output (a prompt, a progress bar). */
const PARTIAL_LINE_FLUSH_MS = 500;
const DEFAULT_TAIL = 100;
/** Characters a bound %logs keeps per stream. */
const CAPTURE_LIMIT = 8 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------------------------
// Pure parts: demultiplexing, whole lines, masking, option values

/** --since: a duration back from now (10m, 1h30m, 30) or a time (RFC 3339, now-2h) → unix seconds. */
export function sinceSeconds(text: string, nowSeconds: number): number {
  try {
    return Math.max(0, nowSeconds - parseDuration(text));
  } catch {
    // not a duration: a point in time
  }
  try {
    return parseTime(text, nowSeconds);
  } catch {
    throw new Error(`bad --since "${text}": use a duration (30s, 10m, 1h30m) or an RFC 3339 time (2026-11-25T10:00:00Z)`);
  }
}

/** Option-time check of --since; the value is turned into a time when the magic runs. */
function checkSince(text: string): string {
  sinceSeconds(text, 0);
  return text;
}

/** --tail: a number of lines or "all". */
export function tailLines(text: string): number | 'all' {
  const trimmed = text.trim();
  if (trimmed === 'all') return 'all';
  if (!/^\d+$/.test(trimmed)) throw new Error(`bad --tail "${text}": use a number of lines or all`);
  return Number(trimmed);
}

// ---------------------------------------------------------------------------------------------------------------
// The engine side

interface LogSource {
  container: Docker.ContainerInspectInfo;
  name: string;
  /** Said on stderr before the logs when the source is not what was asked for (a service with nothing running). */
  note?: string;
}

/** A service's newest running container, else a container by name or id; a service with nothing running: its newest container. */
async function logSource(docker: Docker, name: string, signal: AbortSignal): Promise<LogSource> {
  const target = await resolveTarget(docker, name, 'logs', signal);
  if (target.kind === 'container') return { container: target.container, name: target.container.Name.replace(/^\//, '') };
  const running = target.containers.find((c) => c.State === 'running');
  const chosen = running ?? target.containers[0];
  const container = await docker.getContainer(chosen.Id).inspect({ abortSignal: signal });
  const shown = container.Name.replace(/^\//, '');
  const note = running ? undefined : `service ${target.service} has no running container; the logs of its newest one, ${shown} (${statusText(chosen, container.State)}):\n`;
  return { container, name: shown, note };
}

type LogOptions = Omit<Docker.ContainerLogsOptions, 'follow' | 'abortSignal'>;

function logOptions(options: Record<string, unknown>): LogOptions {
  const tail = options.tail ?? DEFAULT_TAIL;
  const since = typeof options.since === 'string' ? sinceSeconds(options.since, Date.now() / 1000) : undefined;
  return { stdout: true, stderr: true, timestamps: options.timestamps === true, ...(tail === 'all' ? {} : { tail: Number(tail) }), ...(since === undefined ? {} : { since }) };
}

function engineRefused(name: string, e: unknown): MagicError {
  const message = (e as Error).message.replace(/^\(HTTP code \d+\) [a-z ]+ - /, '').trim();
  return new MagicError(`%logs: the engine cannot give the logs of ${name}: ${message}`);
}

/** Streams the logs until the engine ends them (the container stopped) or the signal fires. */
async function followLogs(container: Docker.Container, options: LogOptions, sink: LogSink, signal: AbortSignal): Promise<void> {
  const stream = await container.logs({ ...options, follow: true, abortSignal: signal });
  await new Promise<void>((resolve, reject) => {
    let done = false;
    let idleFlush: NodeJS.Timeout | undefined;
    const finish = (error?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(idleFlush);
      signal.removeEventListener('abort', onInterrupt);
      if (error) reject(error);
      else resolve();
    };
    const onInterrupt = () => {
      if (stream instanceof Readable) stream.destroy();
      finish();
    };
    if (signal.aborted) return onInterrupt();
    signal.addEventListener('abort', onInterrupt, { once: true });
    stream.on('data', (chunk: Buffer) => {
      sink.push(chunk);
      clearTimeout(idleFlush);
      if (sink.holding) idleFlush = setTimeout(() => sink.flush(), PARTIAL_LINE_FLUSH_MS);
    });
    stream.on('end', () => finish());
    stream.on('close', () => finish());
    stream.on('error', (e: Error) => finish(signal.aborted ? undefined : e));
  });
}

/** Where the lines go: the cell's streams, or (bound) a capture returned as the value. */
function logWriter(io: Io, capture: LogsResult | undefined): (stream: LogStreamName, text: string) => void {
  if (!capture) return (stream, text) => io.stream(stream, text);
  return (stream, text) => {
    const room = CAPTURE_LIMIT - capture[stream].length;
    if (text.length > room) capture.truncated = true;
    capture[stream] += text.slice(0, Math.max(0, room));
  };
}

async function runLogs(call: MagicCall, connection: DockerConnection): Promise<LogsResult | undefined> {
  const io = call.io;
  const options = logOptions(call.args.options);
  const { docker } = await connection.engine();
  const source = await logSource(docker, call.args.rest, io.signal);
  const capture: LogsResult | undefined = call.bound ? { container: source.name, stdout: '', stderr: '', truncated: false } : undefined;
  const write = logWriter(io, capture);
  if (source.note) io.stream('stderr', source.note);
  const mask = masker(secretValues(source.container.Config.Labels, source.container.Config.Env));
  const sink = new LogSink(write, mask, source.container.Config.Tty);
  const container = docker.getContainer(source.container.Id);
  try {
    if (call.args.options.follow === true) await followLogs(container, options, sink, io.signal);
    else sink.push(await container.logs({ ...options, follow: false, abortSignal: io.signal }));
  } catch (e) {
    if (io.signal.aborted) throw new InterruptedError();
    throw engineRefused(source.name, e);
  }
  // interrupted while following: the cell ends as interrupted, whichever of the stream's end and the interrupt came first
  if (io.signal.aborted) throw new InterruptedError();
  sink.flush();
  return capture;
}

export function logsMagic(connection: DockerConnection): Magic {
  return {
    name: 'logs',
    summary: "a service's or container's logs, stdout and stderr apart, secrets masked (--follow until interrupted or stopped)",
    kind: 'line',
    positional: { name: 'target', description: 'a service (its newest running container) or a container name or id', required: true },
    options: [
      { name: 'tail', short: 'n', type: 'string', valueName: 'lines', description: `the last lines only, or all (default ${DEFAULT_TAIL})`, parse: tailLines },
      { name: 'since', type: 'string', valueName: 'when', description: 'only lines since a duration ago (10m, 1h30m) or an RFC 3339 time', parse: checkSince },
      { name: 'follow', short: 'f', type: 'boolean', description: 'keep streaming new lines until the container stops or the cell is interrupted' },
      { name: 'timestamps', short: 't', type: 'boolean', description: 'prefix each line with its RFC 3339 time' },
    ],
    run: (call) => runLogs(call, connection),
    completeArguments: (before) => completeTarget(connection, before),
  };
}
