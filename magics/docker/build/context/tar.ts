// Writing the build context as a tar (tar-stream) with the headers archive.TarWithOptions writes: type and mode bits,
// uid/gid 0, mtime to the second (a PAX record beyond the ustar range), link names, device numbers. Entries come from
// the walk through a bounded queue, small files already read; in-memory entries are handed to tar-stream a window
// at a time, large files are streamed with fs.createReadStream under the tar's backpressure, and the tar-stream pack
// is exposed as a Node.js Readable whose small chunks are joined.
import * as fs from 'node:fs';
import { Readable } from 'node:stream';
import type { Header, Pack } from 'tar-stream';
import { changedWhileSending, errorMessage, noop, unreadable } from './errors';
import { type PreparedEntry, SmallFileReader, openForReading, prepareEntry } from './file-reader';
import { closeFd } from './fs-calls';
import { HandoffQueue } from './handoff-queue';
import type { ContextPlan } from './plan';
import { type PackTally, countEntry } from './summary';
import type { ContextEntry, ContextEntryType } from './types';
import { produceInto } from './walk';

/** Entries prepared ahead of the tar writer (bounds memory to PREFETCH_DEPTH * SMALL_FILE_LIMIT). */
const PREFETCH_DEPTH = 32;
/** Read size for streamed files. */
const FILE_CHUNK_SIZE = 256 * 1024;
const STREAM_HIGH_WATER_MARK = 256 * 1024;
/** Small tar chunks are joined up to this size before they are pushed to the consumer. */
const COALESCE_BYTES = 64 * 1024;
/** In-memory entries handed to tar-stream before waiting for the oldest to be taken (bytes, entries). */
const IN_FLIGHT_BYTES = 1024 * 1024;
const IN_FLIGHT_ENTRIES = 64;
/** Largest mtime (seconds) tar-stream encodes correctly in the ustar field; beyond it a PAX record carries it. */
const MAX_USTAR_MTIME = 2 ** 31 - 1;

/** A header as tar-stream's pack.entry() takes it (its bundled types, which @types/tar-stream is shadowed by). */
type TarHeader = Partial<Header> & Pick<Header, 'name'> & { pax?: Record<string, string> };

/** The writable tar-stream returns for an entry's content (a streamx Writable). */
type EntrySink = ReturnType<Pack['entry']>;

const TAR_TYPES: Record<ContextEntryType, Header['type']> = {
  file: 'file',
  directory: 'directory',
  symlink: 'symlink',
  hardlink: 'link',
  fifo: 'fifo',
  'character-device': 'character-device',
  'block-device': 'block-device',
};

/** File-type bits (S_IFMT) added to the mode so a mode of 0 is not replaced by tar-stream's default; masked out on encoding. */
const TYPE_BITS: Record<ContextEntryType, number> = {
  file: 0o100000,
  directory: 0o040000,
  symlink: 0o120000,
  hardlink: 0o100000,
  fifo: 0o010000,
  'character-device': 0o020000,
  'block-device': 0o060000,
};

function toTarHeader(entry: ContextEntry): TarHeader {
  const header: TarHeader = {
    name: entry.type === 'directory' ? `${entry.path}/` : entry.path,
    mode: entry.mode | TYPE_BITS[entry.type],
    uid: 0,
    gid: 0,
    size: entry.size,
    mtime: entry.mtime,
    type: TAR_TYPES[entry.type],
  };
  if (entry.linkname !== undefined) header.linkname = entry.linkname;
  if (entry.devmajor !== undefined) Object.assign(header, { devmajor: entry.devmajor, devminor: entry.devminor });
  const seconds = Math.floor(entry.mtime.getTime() / 1000);
  if (seconds < 0 || seconds > MAX_USTAR_MTIME) {
    // tar-stream would write a broken ustar mtime; a valid clamped one plus a PAX record, as Go's writer does.
    header.mtime = new Date(Math.min(Math.max(seconds, 0), MAX_USTAR_MTIME) * 1000);
    header.pax = { mtime: String(seconds) };
  }
  return header;
}

/**
 * Opens a tar entry. Its callback reports how the entry ended; the sink itself also emits 'error' when the pack is
 * destroyed, which streamx throws when nobody listens, hence the no-op listener.
 */
function openEntry(tarPack: Pack, header: TarHeader, body: Buffer | undefined, settle: (error?: Error | null) => void): EntrySink {
  const sink = body === undefined ? tarPack.entry(header, settle) : tarPack.entry(header, body, settle);
  sink.on('error', noop);
  return sink;
}

/** Adds an entry whose content (if any) is in memory; resolves when tar-stream has taken all of it. */
function addEntry(tarPack: Pack, header: TarHeader, body: Buffer | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    openEntry(tarPack, header, body, (error) => (error ? reject(error) : resolve()));
  });
}

/** Waits until `sink` wants more data; fails if it errors or closes first. */
function drained(sink: EntrySink): Promise<void> {
  return new Promise((resolve, reject) => {
    if (sink.destroyed) {
      reject(new Error('tar entry closed before its content was written'));
      return;
    }
    const cleanup = (): void => {
      sink.off('drain', onDrain);
      sink.off('error', onError);
      sink.off('close', onClose);
    };
    const onDrain = (): void => {
      cleanup();
      resolve();
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const onClose = (): void => {
      cleanup();
      reject(new Error('tar entry closed before its content was written'));
    };
    sink.on('drain', onDrain);
    sink.on('error', onError);
    sink.on('close', onClose);
  });
}

/** Streams a large file into its tar entry with fs.createReadStream, honouring the tar stream's backpressure. */
async function streamFileEntry(tarPack: Pack, header: TarHeader, entry: ContextEntry): Promise<void> {
  const fd = await openForReading(entry.absolutePath); // before the header, so a failure leaves the tar intact
  try {
    let settle: (error?: Error | null) => void = noop;
    const written = new Promise<void>((resolve, reject) => {
      settle = (error) => (error ? reject(error) : resolve());
    });
    written.catch(noop);
    const sink = openEntry(tarPack, header, undefined, (error) => settle(error));
    await copyInto(sink, entry, fd);
    try {
      await written;
    } catch (error) {
      throw errorMessage(error) === 'Size mismatch' ? changedWhileSending(entry.absolutePath, entry.size) : error;
    }
  } finally {
    await closeFd(fd);
  }
}

async function copyInto(sink: EntrySink, entry: ContextEntry, fd: number): Promise<void> {
  const source = fs.createReadStream(entry.absolutePath, { fd, start: 0, end: entry.size - 1, autoClose: false, highWaterMark: FILE_CHUNK_SIZE });
  try {
    for await (const chunk of source) {
      if (!sink.write(chunk as Buffer)) await drained(sink);
    }
  } catch (error) {
    source.destroy();
    throw /^(error |tar entry)/.test(errorMessage(error)) ? error : unreadable(entry.absolutePath, error);
  }
  sink.end(undefined);
}

/**
 * Entries whose content is in memory are handed to tar-stream without waiting for each one (it queues them in
 * order); the writer only waits once too much is queued, so per-entry round trips do not add up.
 */
class WriteWindow {
  private readonly queued: Array<{ written: Promise<void>; bytes: number }> = [];
  private bytes = 0;

  async add(written: Promise<void>, bytes: number): Promise<void> {
    written.catch(noop); // awaited in order below
    this.queued.push({ written, bytes });
    this.bytes += bytes;
    while (this.bytes > IN_FLIGHT_BYTES || this.queued.length > IN_FLIGHT_ENTRIES) await this.takeOldest();
  }

  async flush(): Promise<void> {
    while (this.queued.length > 0) await this.takeOldest();
  }

  private async takeOldest(): Promise<void> {
    const oldest = this.queued.shift();
    if (oldest === undefined) return;
    this.bytes -= oldest.bytes;
    await oldest.written;
  }
}

async function writeEntry(tarPack: Pack, window: WriteWindow, prepared: PreparedEntry): Promise<void> {
  const header = toTarHeader(prepared.entry);
  if (prepared.entry.type !== 'file' || prepared.body !== undefined) {
    await window.add(addEntry(tarPack, header, prepared.body), prepared.body?.length ?? 0);
    return;
  }
  await window.flush(); // a streamed file waits for its turn, so its reads follow the tar's backpressure
  await streamFileEntry(tarPack, header, prepared.entry);
}

/** Prepares an entry (reads a small file) as soon as the walk finds it; the writer awaits it in order. */
function prepareAhead(entry: ContextEntry, reader: SmallFileReader): Promise<PreparedEntry> {
  const prepared = prepareEntry(entry, reader);
  prepared.catch(noop); // awaited in order by feedPack unless packing stopped earlier
  return prepared;
}

export async function feedPack(tarPack: Pack, plan: ContextPlan, tally: PackTally): Promise<void> {
  const queue = new HandoffQueue<Promise<PreparedEntry>>(PREFETCH_DEPTH);
  const reader = new SmallFileReader();
  produceInto(plan, tally, queue, (entry) => prepareAhead(entry, reader));
  const window = new WriteWindow();
  try {
    for (let next = await queue.take(); next.done !== true; next = await queue.take()) {
      const prepared = await next.value;
      await writeEntry(tarPack, window, prepared);
      countEntry(tally, prepared.entry);
    }
    await window.flush();
  } finally {
    queue.cancel();
  }
  tarPack.finalize();
}

/**
 * A Node.js Readable carrying the tar-stream pack (a streamx stream), with backpressure and a byte count. tar-stream
 * emits a chunk per header, body and padding; they are joined into chunks of up to COALESCE_BYTES so the consumer
 * (an HTTP request) is not handed tens of thousands of 512-byte writes.
 */
export function nodeReadable(tarPack: Pack, counter: { bytes: number }): Readable {
  const output = new Readable({ highWaterMark: STREAM_HIGH_WATER_MARK, read: () => void tarPack.resume() });
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let flushScheduled = false;
  const flush = (): void => {
    flushScheduled = false;
    if (pendingBytes === 0 || output.destroyed) return;
    const chunk = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    if (!output.push(chunk)) tarPack.pause();
  };
  tarPack.on('data', (chunk: unknown) => {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    counter.bytes += buffer.length;
    pending.push(buffer);
    pendingBytes += buffer.length;
    if (pendingBytes >= COALESCE_BYTES) flush();
    else if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  });
  tarPack.on('end', () => {
    flush();
    output.push(null);
  });
  tarPack.on('error', (error: Error) => output.destroy(error));
  return output;
}
