/**
 * Counts work queued ahead of where it is done (files to store, blocks to look for), so that
 * whoever queues it waits (room()) rather than run ahead by more than a bound.
 */
export class Backlog {
  private count = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  get isEmpty(): boolean {
    return this.count === 0;
  }

  async room(): Promise<void> {
    while (this.count >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  /** Counts `units` until the work settles; the work must not wait for room() itself. */
  track<T>(work: Promise<T>, units = 1): Promise<T> {
    this.count += units;
    return work.finally(() => {
      this.count -= units;
      while (this.count < this.limit && this.waiting.length > 0) this.waiting.shift()?.();
    });
  }
}
