// The build context's public types: one entry as the tar carries it, the options of contextEntries() and
// packContext(), and what packContext() returns (the stream, the `dockerfile` build option, the summary).
import type { Readable } from 'node:stream';


export type ContextEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'fifo' | 'character-device' | 'block-device';

/** One entry of the build context, in the order the tar carries it. */
export interface ContextEntry {
  /** Path inside the context (and the tar), '/'-separated, without a trailing slash. */
  path: string;
  /** The file on disk; '' for an entry the CLI generates (the copied outside Dockerfile). */
  absolutePath: string;
  type: ContextEntryType;
  /** Permission bits with setuid, setgid and sticky (mode & 0o7777), as the tar header carries them. */
  mode: number;
  /** Bytes of content sent: the file size for regular files, 0 for every other type (hard links too). */
  size: number;
  /** Modification time cut to whole seconds, as the CLI sends it. */
  mtime: Date;
  /** Symlink target exactly as readlink returns it, or for a hard link the path of its first occurrence. */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Content to send instead of reading absolutePath (a rewritten .dockerignore, the copied outside Dockerfile). */
  content?: Buffer;
}

export interface ContextOptions {
  /** Dockerfile path, relative to the context folder or absolute; default 'Dockerfile' (or 'dockerfile' if only that exists). */
  dockerfile?: string;
}

export interface PackContextOptions extends ContextOptions {
  /** Aborting destroys the stream; `done` rejects. */
  signal?: AbortSignal;
}

/** What was sent, for the cell output. */
export interface ContextSummary {
  /** Value for the `dockerfile` build option: the Dockerfile's path inside the context. */
  dockerfile: string;
  /** Regular files sent, hard links included. */
  files: number;
  hardlinks: number;
  directories: number;
  symlinks: number;
  /** FIFOs and device nodes. */
  special: number;
  /** Tar entries in all. */
  entries: number;
  /** Sum of the regular files' sizes. */
  contentBytes: number;
  /** Bytes of the tar stream: what the CLI reports as "Sending build context to Docker daemon". */
  bytes: number;
  /** Paths .dockerignore excluded where the walk met them (an excluded folder counts once, its content is not walked). */
  ignored: number;
}

export interface PackedContext {
  /** The uncompressed tar stream, for `docker.buildImage(stream, { dockerfile, ... })`. */
  stream: Readable;
  /** The `dockerfile` build option, known before the first byte: resolved path inside the context, or the CLI's
   * `.dockerfile.<random>` name when the Dockerfile lies outside the context. */
  dockerfile: Promise<string>;
  /** Resolves once the consumer has read the whole stream; rejects with the same Error the stream fails with. */
  done: Promise<ContextSummary>;
}
