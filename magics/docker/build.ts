// %build: builds an image from a context folder on the notebook's Docker engine, like `docker build`. The context
// is streamed as a tar filtered by .dockerignore (build/context/); progress is one display updated in place
// (step N of M, cached or not, elapsed; build/display.ts) and becomes a summary table with the log folded away; a
// failed build is a cell error with the failing step and its last log lines, and its display says so instead of
// the progress line; interrupt aborts at once and the display says where. Values of
// --secret-build-arg never appear in any output, error or label.
import * as os from 'node:os';
import * as path from 'node:path';
import { existsSync, statSync } from 'node:fs';
import type { Io } from '../../kernel/io/io';
import { MagicError } from '../../kernel/io/errors';
import type { Magic, MagicCall } from '../registry';
import type { DockerConnection } from './engine/connection';
import { BuildEvent, BuildProgress } from './build/progress';
import { BuildDisplay, BuildResult, FAILURE_LOG_LINES, whereText } from './build/display';

export type { BuildResult };
import { packContext } from './build/context';
import { masker, secretRefs } from '../lib/secrets';

function pairs(values: unknown, option: string): Array<[string, string]> {
  if (!Array.isArray(values)) return [];
  return values.map((v) => {
    const text = String(v);
    const eq = text.indexOf('=');
    if (eq <= 0) throw new MagicError(`${option} takes KEY=VALUE, not "${text}"`);
    return [text.slice(0, eq), text.slice(eq + 1)];
  });
}

/** The first line of an error message, for the display's one line (the error itself keeps all of it). */
function firstLine(text: string): string {
  return text.split('\n')[0].trim();
}

/** Reads the build stream to its end, feeding progress; resolves when it ends (a failure is in progress.error). */
function follow(stream: NodeJS.ReadableStream, progress: BuildProgress, onLine: (line: string) => void, onEvent: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (line === '') continue;
        let event: BuildEvent;
        try {
          event = JSON.parse(line) as BuildEvent;
        } catch {
          continue;
        }
        const before = progress.lastLines(1)[0];
        progress.add(event);
        const after = progress.lastLines(1)[0];
        if (after !== undefined && after !== before) onLine(after);
        onEvent();
      }
    });
    stream.on('end', () => resolve());
    stream.on('error', reject);
  });
}

async function runBuild(call: MagicCall, connection: DockerConnection, env: NodeJS.ProcessEnv): Promise<BuildResult | undefined> {
  const o = call.args.options;
  const io: Io = call.io;
  const contextArg = call.args.rest;
  if (!contextArg) throw new MagicError('%build: no context folder given', 'usage: %build <context> -t <tag>');
  const context = path.resolve(process.cwd(), contextArg);
  if (!existsSync(context) || !statSync(context).isDirectory()) throw new MagicError(`%build: the context ${contextArg} is not a folder`, `the path is taken from the notebook's folder (${process.cwd()})`);
  const tags = Array.isArray(o.tag) ? (o.tag as string[]) : [];
  // like the CLI: -f is taken from the current (notebook) folder; without it, Dockerfile (or dockerfile) in the context
  const dockerfile = typeof o.file === 'string' ? path.resolve(process.cwd(), o.file) : undefined;
  const buildargs: Record<string, string> = Object.fromEntries(pairs(o['build-arg'], '--build-arg'));
  const secrets = secretRefs(o['secret-build-arg'], '--secret-build-arg', env);
  for (const s of secrets) buildargs[s.key] = s.value;
  const mask = masker(secrets.map((s) => s.value));
  const labels: Record<string, string> = {
    ...Object.fromEntries(pairs(o.label, '--label')),
    'opsbook.managed': 'true',
    // stable values only: the classic builder turns each label into a LABEL step, and a value that changed (a
    // timestamp) would make every rebuild of an unchanged context a new image
    'opsbook.built-by': `${os.userInfo().username}@${os.hostname()}`,
  };
  const verbose = o.verbose === true;

  const { docker, target } = await connection.engine();
  const startedAt = Date.now();
  const progress = new BuildProgress(Date.now, mask);
  const display = new BuildDisplay(io, progress, contextArg);

  const abort = new AbortController();
  // the display says so at once: the cell's reply goes out right after this listener, before the build unwinds
  const onInterrupt = () => {
    display.interrupted();
    abort.abort();
  };
  io.signal.addEventListener('abort', onInterrupt, { once: true });
  const packed = packContext(context, { dockerfile, signal: abort.signal });
  // a context that cannot be read fails `done` (and the stream); it is reported below, not as unhandled
  packed.done.catch(() => undefined);
  try {
    let stream: NodeJS.ReadableStream;
    try {
      stream = await docker.buildImage(packed.stream, {
        t: tags.length > 0 ? tags : undefined,
        dockerfile: await packed.dockerfile,
        version: '1',
        buildargs,
        labels,
        target: typeof o.target === 'string' ? o.target : undefined,
        nocache: o['no-cache'] === true,
        pull: o.pull === true ? 'true' : undefined,
        platform: typeof o.platform === 'string' ? o.platform : undefined,
        rm: true,
        forcerm: true,
        abortSignal: abort.signal,
      } as Parameters<typeof docker.buildImage>[1]);
    } catch (e) {
      if (abort.signal.aborted) throw e;
      const packError = await packed.done.then(() => undefined, (err: Error) => err);
      if (packError) throw new MagicError(`%build: cannot send the context: ${mask(packError.message)}`);
      throw new MagicError(`the Docker engine at ${target.shown} refused the build: ${mask((e as Error).message.replace(/^\(HTTP code \d+\) [a-z ]+ - /, ''))}`);
    }
    await follow(stream, progress, (line) => verbose && io.stream('stdout', `${line}\n`), () => display.refresh());
    progress.finish();
    const sent = await packed.done.catch(() => ({ files: 0, bytes: 0 }));
    if (progress.error) {
      io.record?.({ kind: 'build', seconds: (Date.now() - startedAt) / 1000, outcome: 'error' });
      throw new MagicError(`build failed ${whereText(progress)}: ${progress.error}`, progress.lastLines(FAILURE_LOG_LINES).join('\n'));
    }
    if (!progress.imageId) throw new MagicError('the build ended without an image id', progress.lastLines(FAILURE_LOG_LINES).join('\n'));
    const image = await docker.getImage(progress.imageId).inspect();
    const result: BuildResult = {
      id: image.Id,
      tags: tags.length > 0 ? tags : image.RepoTags ?? [],
      size: image.Size,
      layers: image.RootFS?.Layers?.length ?? 0,
      durationMs: Date.now() - startedAt,
      steps: progress.steps.length,
      cacheHits: progress.cacheHits,
      contextFiles: sent.files,
      contextBytes: sent.bytes,
    };
    display.succeeded(result, progress.logText(), verbose);
    io.record?.({ kind: 'build', seconds: result.durationMs / 1000, outcome: 'ok' });
    return call.bound ? result : undefined;
  } catch (e) {
    // whatever ended the build, its outcome replaces the progress line
    if (abort.signal.aborted || io.signal.aborted) display.interrupted();
    else display.failed(progress.error ?? firstLine(mask((e as Error).message)).replace(/^%build: /, ''));
    throw e;
  } finally {
    io.signal.removeEventListener('abort', onInterrupt);
    packed.stream.destroy();
  }
}

export function buildMagic(connection: DockerConnection, env: NodeJS.ProcessEnv = process.env): Magic {
  return {
    name: 'build',
    summary: 'build a Docker image from a context folder (.dockerignore honoured), with progress and a summary',
    kind: 'line',
    positional: { name: 'context', description: "the build context folder (from the notebook's folder)", required: true, rest: true },
    options: [
      { name: 'tag', short: 't', type: 'list', valueName: 'name:tag', description: 'tag the image (repeatable)' },
      { name: 'file', short: 'f', type: 'string', valueName: 'Dockerfile', description: "the Dockerfile, from the notebook's folder (default: Dockerfile in the context)" },
      { name: 'build-arg', type: 'list', valueName: 'K=V', description: 'a build argument (repeatable)' },
      { name: 'secret-build-arg', type: 'list', valueName: 'K=ENVVAR', description: 'a build argument whose value comes from environment variable ENVVAR; never shown' },
      { name: 'target', type: 'string', valueName: 'stage', description: 'build up to this stage' },
      { name: 'label', type: 'list', valueName: 'K=V', description: 'an image label (repeatable)' },
      { name: 'no-cache', type: 'boolean', description: 'do not use the build cache' },
      { name: 'pull', type: 'boolean', description: 'always try to pull newer base images' },
      { name: 'platform', type: 'string', valueName: 'os/arch', description: 'target platform' },
      { name: 'verbose', type: 'boolean', description: 'stream the build log to the cell as it comes' },
    ],
    run: (call) => runBuild(call, connection, env),
  };
}
