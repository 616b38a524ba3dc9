/**
 * Existence checks asked while others are being answered go out together. create asks
 * about each folder's blocks separately, a few keys at a time; a task per folder cost the
 * file backend more in messages between threads than the lookups themselves.
 */
export class CoalescedLookups {
  private queued: { readonly keys: readonly string[]; readonly resolve: (found: boolean[]) => void; readonly reject: (error: unknown) => void }[] = [];
  private inFlight = 0;

  constructor(
    /** Which of the keys exist, in order. */
    private readonly lookup: (keys: readonly string[]) => Promise<boolean[]>,
    private readonly maxInFlight: number,
  ) {}

  /** Which of the keys exist, in order, answered with the other keys asked about meanwhile. */
  has(keys: readonly string[]): Promise<boolean[]> {
    return new Promise((resolve, reject) => {
      this.queued.push({ keys, resolve, reject });
      this.sendIfRoom();
    });
  }

  private sendIfRoom(): void {
    if (this.inFlight >= this.maxInFlight || this.queued.length === 0) return;
    const batch = this.queued;
    this.queued = [];
    this.inFlight++;
    this.lookup(batch.flatMap((asked) => asked.keys))
      .then(
        (found) => {
          let next = 0;
          for (const asked of batch) {
            asked.resolve(found.slice(next, next + asked.keys.length));
            next += asked.keys.length;
          }
        },
        (error: unknown) => batch.forEach((asked) => asked.reject(error)),
      )
      .finally(() => {
        this.inFlight--;
        this.sendIfRoom();
      });
  }
}
