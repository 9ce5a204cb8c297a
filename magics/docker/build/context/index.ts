// Build context for %build: turns a context folder into the tar stream the docker CLI sends with the legacy builder
// (`DOCKER_BUILDKIT=0 docker build`), following the CLI step by step. This is the entry point: packContext() (the
// stream for dockerode), contextEntries() (what would be sent), and the pieces the tests check on their own. The
// steps live beside it: plan.ts resolves the context and Dockerfile and compiles .dockerignore (dockerignore.ts reads
// it, ignore-matcher.ts matches like moby/patternmatcher); walk.ts walks the tree in byte order like
// filepath.WalkDir; tar.ts writes each entry with the header archive.TarWithOptions writes, reading small files
// ahead (file-reader.ts) and streaming those over 64 KiB without holding them in memory, lazily and with
// backpressure through a bounded queue.
import { finished } from 'node:stream/promises';
import { pack as createTarPack } from 'tar-stream';
import { noop } from './errors';
import { HandoffQueue } from './handoff-queue';
import { planContext } from './plan';
import { newPackTally, summarize } from './summary';
import { feedPack, nodeReadable } from './tar';
import type { ContextEntry, ContextOptions, PackContextOptions, PackedContext } from './types';
import { produceInto } from './walk';

export { parseDockerignore, readDockerignore } from './dockerignore';
export { IgnoreMatcher, type MatchResult, type ParentMatches } from './ignore-matcher';
export { contextSummaryLine, formatContextSize } from './summary';
export type { ContextEntry, ContextEntryType, ContextOptions, ContextSummary, PackContextOptions, PackedContext } from './types';

/** Entries the context walk keeps queued ahead of a contextEntries() reader. */
const ENTRY_QUEUE_CAPACITY = 256;

/**
 * The entries `docker build` would send for this context, in tar order: files (mode, size, mtime), directories
 * (empty ones too), symlinks (target as is), hard links, FIFOs and devices. Excluded paths are skipped as the CLI
 * does, which walks an excluded folder only when an exception pattern starts with that folder's path (and then sends
 * what is re-included below it, but not the folder entry itself). The Dockerfile and .dockerignore are always in it.
 */
export async function* contextEntries(contextDir: string, options: ContextOptions = {}): AsyncGenerator<ContextEntry> {
  const plan = await planContext(contextDir, options);
  const queue = new HandoffQueue<ContextEntry>(ENTRY_QUEUE_CAPACITY);
  produceInto(plan, { ignored: 0 }, queue, (entry) => entry);
  try {
    for (let next = await queue.take(); next.done !== true; next = await queue.take()) yield next.value;
  } finally {
    queue.cancel();
  }
}

/**
 * Packs the context into the tar stream `docker build` would send, lazily: the walk advances only as fast as the
 * stream is read. Resolution errors (context or Dockerfile missing, bad .dockerignore pattern) come before the first
 * byte; read errors come before the header of the file concerned. Every failure destroys the stream with an Error
 * naming the path and rejects `dockerfile`/`done` with it. The stream has a no-op 'error' listener so an unobserved
 * failure cannot crash the kernel: watch `done`.
 */
export function packContext(contextDir: string, options: PackContextOptions = {}): PackedContext {
  const tarPack = createTarPack();
  const counter = { bytes: 0 };
  const stream = nodeReadable(tarPack, counter);
  stream.on('error', noop);
  let closeReason: Error | null = null;
  const stop = (reason: Error): void => {
    closeReason ??= reason;
    if (!stream.destroyed) stream.destroy(reason);
    tarPack.destroy(reason);
  };
  stream.once('close', () => {
    if (stream.readableEnded) return;
    const cause = stream.errored === null ? '' : `: ${stream.errored.message}`;
    stop(new Error(`build context stream was closed before the whole context was sent${cause}`));
  });
  const onAbort = (): void => stop(new Error('sending the build context was aborted'));
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted === true) onAbort();

  const planned = planContext(contextDir, options);
  const tally = newPackTally();
  const fed = planned.then((plan) => feedPack(tarPack, plan, tally));
  const done = fed
    .then(() => finished(stream))
    .then(async () => summarize(await planned, tally, counter.bytes))
    .catch((error: unknown) => {
      const reason = closeReason ?? (error instanceof Error ? error : new Error(String(error)));
      stop(reason);
      throw reason;
    })
    .finally(() => options.signal?.removeEventListener('abort', onAbort));
  done.catch(noop);
  const dockerfile = planned.then((plan) => plan.dockerfile);
  dockerfile.catch(noop);
  return { stream, dockerfile, done };
}
