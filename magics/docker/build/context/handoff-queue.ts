// The queue between the context walk and whoever reads its entries (contextEntries() or the tar writer).

/** Thrown into a producer whose consumer went away. */
class QueueCancelled extends Error {}

/**
 * A bounded FIFO between the walk (producer) and a consumer, so walking, reading and tar writing overlap. An error of
 * the producer reaches the consumer after the items queued before it.
 */
export class HandoffQueue<T> {
  private readonly items: T[] = [];
  private ended = false;
  private failure: { error: unknown } | null = null;
  private cancelled = false;
  private wakeConsumer: (() => void) | null = null;
  private wakeProducer: (() => void) | null = null;

  constructor(private readonly capacity: number) {}

  async put(item: T): Promise<void> {
    if (this.cancelled) throw new QueueCancelled();
    this.items.push(item);
    this.notifyConsumer();
    while (this.items.length >= this.capacity && !this.cancelled) await new Promise<void>((resolve) => (this.wakeProducer = resolve));
    if (this.cancelled) throw new QueueCancelled();
  }

  end(): void {
    this.ended = true;
    this.notifyConsumer();
  }

  fail(error: unknown): void {
    if (!(error instanceof QueueCancelled)) this.failure = { error };
    this.end();
  }

  /** Stops the producer at its next put(). */
  cancel(): void {
    this.cancelled = true;
    this.notifyProducer();
  }

  async take(): Promise<IteratorResult<T, undefined>> {
    while (this.items.length === 0) {
      if (this.failure !== null) throw this.failure.error;
      if (this.ended) return { done: true, value: undefined };
      await new Promise<void>((resolve) => (this.wakeConsumer = resolve));
    }
    const item = this.items.shift() as T;
    this.notifyProducer();
    return { done: false, value: item };
  }

  private notifyConsumer(): void {
    const wake = this.wakeConsumer;
    this.wakeConsumer = null;
    wake?.();
  }

  private notifyProducer(): void {
    const wake = this.wakeProducer;
    this.wakeProducer = null;
    wake?.();
  }
}
