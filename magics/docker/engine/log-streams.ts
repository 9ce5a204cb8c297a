// Docker's log bytes as text: the engine's multiplexed frame format (8-byte header: stream type, 3 zero bytes,
// payload size big-endian) split into stdout and stderr, whole lines only (a line the engine split across frames or
// chunks stays one line, so secret values can be masked in it), for %logs and for a failed deploy's last log lines.

export type LogStreamName = 'stdout' | 'stderr';

const FRAME_HEADER_BYTES = 8;

const NEWLINE = 0x0a;

/** Frame stream types: 0 stdin (written to stdout, as the docker CLI does), 1 stdout, 2 stderr, 3 the engine's own errors. */
const FRAME_STREAMS: ReadonlyMap<number, LogStreamName> = new Map([[0, 'stdout'], [1, 'stdout'], [2, 'stderr'], [3, 'stderr']]);

/**
 * Splits the engine's multiplexed log stream into payloads per stream; frames may be split across chunks and
 * chunks may hold many frames. A header that is not a frame header (a TTY log taken for multiplexed) switches to
 * passing everything through as stdout, like docker-modem's demuxStream.
 */
export class FrameDemuxer {
  private pending: Buffer = Buffer.alloc(0);
  private raw = false;

  constructor(private readonly onPayload: (stream: LogStreamName, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    if (this.raw) return this.onPayload('stdout', chunk);
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= FRAME_HEADER_BYTES) {
      const stream = FRAME_STREAMS.get(this.pending[0]);
      if (stream === undefined || this.pending[1] !== 0 || this.pending[2] !== 0 || this.pending[3] !== 0) return this.passThrough();
      const end = FRAME_HEADER_BYTES + this.pending.readUInt32BE(4);
      if (this.pending.length < end) return;
      const payload = this.pending.subarray(FRAME_HEADER_BYTES, end);
      this.pending = this.pending.subarray(end);
      if (payload.length > 0) this.onPayload(stream, payload);
    }
  }

  /** Bytes of a frame that has not come whole (non-zero at the end of a log means it was cut short). */
  get incompleteBytes(): number {
    return this.pending.length;
  }

  private passThrough(): void {
    this.raw = true;
    const rest = this.pending;
    this.pending = Buffer.alloc(0);
    this.onPayload('stdout', rest);
  }
}

/** Collects bytes and hands on whole lines only (decoded as UTF-8 once whole); `flush` hands on the rest. */
export class LineBuffer {
  private held: Buffer[] = [];

  constructor(private readonly emit: (text: string) => void) {}

  push(bytes: Buffer): void {
    const lastNewline = bytes.lastIndexOf(NEWLINE);
    if (lastNewline < 0) {
      this.held.push(bytes);
      return;
    }
    const lines = Buffer.concat([...this.held, bytes.subarray(0, lastNewline + 1)]);
    this.held = lastNewline + 1 < bytes.length ? [bytes.subarray(lastNewline + 1)] : [];
    this.emit(lines.toString('utf8'));
  }

  /** True while part of a line waits for its newline. */
  get holding(): boolean {
    return this.held.length > 0;
  }

  flush(): void {
    if (!this.holding) return;
    const rest = Buffer.concat(this.held);
    this.held = [];
    this.emit(rest.toString('utf8'));
  }
}

/** The log bytes of one container → masked whole lines on the right stream. */
export class LogSink {
  private readonly lines: Record<LogStreamName, LineBuffer>;
  private readonly demuxer: FrameDemuxer | undefined;

  constructor(write: (stream: LogStreamName, text: string) => void, mask: (text: string) => string, tty: boolean) {
    this.lines = {
      stdout: new LineBuffer((text) => write('stdout', mask(text))),
      stderr: new LineBuffer((text) => write('stderr', mask(text))),
    };
    this.demuxer = tty ? undefined : new FrameDemuxer((stream, payload) => this.lines[stream].push(payload));
  }

  push(chunk: Buffer): void {
    if (this.demuxer) this.demuxer.push(chunk);
    else this.lines.stdout.push(chunk);
  }

  get holding(): boolean {
    return this.lines.stdout.holding || this.lines.stderr.holding;
  }

  flush(): void {
    this.lines.stdout.flush();
    this.lines.stderr.flush();
  }
}

/**
 * Docker's multiplexed log bytes as lines, stderr ones prefixed by `err| `. A line the
 * engine split over two frames stays one line (one LineBuffer per stream).
 */
export function demuxLines(buffer: Buffer): string[] {
  const lines: string[] = [];
  const collect = (prefix: string) => (text: string) => {
    for (const line of text.split('\n')) if (line !== '') lines.push(`${prefix}${line}`);
  };
  const streams = { stdout: new LineBuffer(collect('')), stderr: new LineBuffer(collect('err| ')) };
  new FrameDemuxer((stream, payload) => streams[stream].push(payload)).push(buffer);
  streams.stdout.flush();
  streams.stderr.flush();
  return lines;
}
