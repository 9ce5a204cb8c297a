// Reads the Docker engine's build stream (the JSON messages of the classic builder: `stream` text with
// "Step N/M : INSTRUCTION", " ---> Using cache", `aux.ID` with the image id, and `error` / `errorDetail`) into
// a progress state: the current step of how many, cache hits, the log, the image id, and the failure if any.
// dockerode reports a failed build as a finished stream: the failure is only in `errorDetail`, read here.

export interface BuildEvent {
  stream?: string;
  status?: string;
  progress?: string;
  id?: string;
  aux?: { ID?: string };
  error?: string;
  errorDetail?: { message?: string; code?: number };
}

export interface BuildStep {
  number: number;
  instruction: string;
  cached: boolean;
  startedAt: number;
  endedAt?: number;
}

/** Log lines kept for the collapsible log (the oldest are dropped past this, with a note). */
const LOG_LINES_KEPT = 5000;

export class BuildProgress {
  readonly steps: BuildStep[] = [];
  totalSteps: number | undefined;
  imageId: string | undefined;
  error: string | undefined;
  private readonly log: string[] = [];
  private droppedLines = 0;
  private partial = '';

  constructor(private readonly now: () => number = Date.now, private readonly mask: (text: string) => string = (t) => t) {}

  get current(): BuildStep | undefined {
    return this.steps[this.steps.length - 1];
  }

  get cacheHits(): number {
    return this.steps.filter((s) => s.cached).length;
  }

  /** Feeds one message of the stream. */
  add(event: BuildEvent): void {
    if (event.aux?.ID) this.imageId = event.aux.ID;
    if (event.error || event.errorDetail) {
      this.error = this.mask(event.errorDetail?.message ?? event.error ?? 'the build failed');
      this.pushLine(`ERROR: ${this.error}`);
      return;
    }
    if (typeof event.stream === 'string') this.addText(event.stream);
    else if (typeof event.status === 'string') this.pushLine(this.mask(`${event.id ? `${event.id}: ` : ''}${event.status}${event.progress ? ` ${event.progress}` : ''}`));
  }

  private addText(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.addLine(line);
  }

  private addLine(raw: string): void {
    const line = this.mask(raw.replace(/\r$/, ''));
    const step = /^Step (\d+)\/(\d+) : (.*)$/.exec(line);
    if (step) {
      const at = this.now();
      const previous = this.current;
      if (previous && previous.endedAt === undefined) previous.endedAt = at;
      this.totalSteps = Number(step[2]);
      this.steps.push({ number: Number(step[1]), instruction: step[3], cached: false, startedAt: at });
    } else if (/^ ---> Using cache$/.test(line) && this.current) {
      this.current.cached = true;
    } else {
      const built = /^Successfully built ([0-9a-f]+)$/.exec(line);
      if (built && !this.imageId) this.imageId = built[1];
    }
    this.pushLine(line);
  }

  private pushLine(line: string): void {
    this.log.push(line);
    if (this.log.length > LOG_LINES_KEPT) {
      this.log.shift();
      this.droppedLines += 1;
    }
  }

  /** Ends the last step (the stream ended). */
  finish(): void {
    if (this.partial !== '') this.addLine(this.partial);
    this.partial = '';
    const last = this.current;
    if (last && last.endedAt === undefined) last.endedAt = this.now();
  }

  /** The whole log kept, with a note when its beginning was dropped. */
  logText(): string {
    const head = this.droppedLines > 0 ? [`[${this.droppedLines} earlier lines not kept]`] : [];
    return [...head, ...this.log].join('\n');
  }

  lastLines(n: number): string[] {
    return this.log.slice(-n);
  }

  /** "Step 3/7: RUN npm ci (cached)" for the progress line. */
  describeCurrent(): string {
    const s = this.current;
    if (!s) return 'sending the build context';
    return `Step ${s.number}/${this.totalSteps ?? '?'}: ${s.instruction}${s.cached ? ' (cached)' : ''}`;
  }
}
