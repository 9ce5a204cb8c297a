// Reading the files of a build context for the tar: files up to SMALL_FILE_LIMIT are read whole ahead of the tar
// writer, larger ones are left for the writer to stream. There are two small-file readers on purpose: blocking reads,
// used while they are fast (page cache, local disk), because with thousands of small files the thread-pool round
// trip of each async read costs more than the read; and thread-pool reads, switched to for good as soon as a
// blocking read is slow (network filesystem, cold disk), so a slow disk cannot stall the kernel's event loop.
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { changedWhileSending, unreadable } from './errors';
import { closeFd, openForRead, readAt } from './fs-calls';
import type { ContextEntry } from './types';

/** Regular files up to this size are read whole, ahead of the tar writer; larger ones are streamed. */
const SMALL_FILE_LIMIT = 64 * 1024;
/** Longest stretch of blocking small-file reads before the event loop gets a turn. */
const SYNC_SLICE_MS = 8;
/** A blocking read slower than this switches the pack to thread-pool reads. */
const SLOW_SYNC_READ_MS = 10;

/** Opens a file of the context for reading, failing with the CLI's message when it cannot be read. */
export async function openForReading(absolute: string): Promise<number> {
  try {
    return await openForRead(absolute);
  } catch (error) {
    throw unreadable(absolute, error);
  }
}

/** Whole content of a small file through the thread pool: exactly `size` bytes, as its header announces. */
async function readSmallFileAsync(entry: ContextEntry): Promise<Buffer> {
  const fd = await openForReading(entry.absolutePath);
  try {
    const buffer = Buffer.allocUnsafe(entry.size);
    for (let offset = 0; offset < entry.size; ) {
      let bytesRead: number;
      try {
        bytesRead = await readAt(fd, buffer, offset, offset);
      } catch (error) {
        throw unreadable(entry.absolutePath, error);
      }
      if (bytesRead === 0) throw changedWhileSending(entry.absolutePath, entry.size);
      offset += bytesRead;
    }
    return buffer;
  } finally {
    await closeFd(fd);
  }
}

/**
 * The same with blocking calls: no thread-pool round trips, which dominate with thousands of small files. The loop is
 * written twice rather than shared, since sharing it would bring back a promise per read, which is what this avoids.
 */
function readSmallFileSync(entry: ContextEntry): Buffer {
  let fd: number;
  try {
    fd = fs.openSync(entry.absolutePath, 'r');
  } catch (error) {
    throw unreadable(entry.absolutePath, error);
  }
  try {
    const buffer = Buffer.allocUnsafe(entry.size);
    for (let offset = 0; offset < entry.size; ) {
      let bytesRead: number;
      try {
        bytesRead = fs.readSync(fd, buffer, offset, entry.size - offset, offset);
      } catch (error) {
        throw unreadable(entry.absolutePath, error);
      }
      if (bytesRead === 0) throw changedWhileSending(entry.absolutePath, entry.size);
      offset += bytesRead;
    }
    return buffer;
  } finally {
    fs.closeSync(fd);
  }
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Reads small files with blocking calls while they are fast (page cache, local disk): the event loop is given a
 * turn at least every SYNC_SLICE_MS, and the first read slower than SLOW_SYNC_READ_MS (network filesystem, cold
 * disk) switches this pack to thread-pool reads for good, so a slow filesystem cannot stall the kernel for long.
 */
export class SmallFileReader {
  private synchronous = true;
  private sliceStart = performance.now();

  read(entry: ContextEntry): Promise<Buffer> {
    return this.synchronous ? this.readBlocking(entry) : readSmallFileAsync(entry);
  }

  private async readBlocking(entry: ContextEntry): Promise<Buffer> {
    if (performance.now() - this.sliceStart > SYNC_SLICE_MS) {
      await nextTurn();
      this.sliceStart = performance.now();
    }
    if (!this.synchronous) return readSmallFileAsync(entry);
    const started = performance.now();
    try {
      return readSmallFileSync(entry);
    } finally {
      if (performance.now() - started > SLOW_SYNC_READ_MS) this.synchronous = false;
    }
  }
}

export interface PreparedEntry {
  entry: ContextEntry;
  /** Content already in memory (small files, generated content). */
  body?: Buffer;
}

export async function prepareEntry(entry: ContextEntry, reader: SmallFileReader): Promise<PreparedEntry> {
  if (entry.content !== undefined) return { entry, body: entry.content };
  if (entry.type === 'file' && entry.size === 0) return { entry, body: Buffer.alloc(0) };
  if (entry.type === 'file' && entry.size <= SMALL_FILE_LIMIT) return { entry, body: await reader.read(entry) };
  return { entry };
}
