export interface CoalescedOptions<Request> {
  /** Tasks under way at once; a request asked while this many are waits for the next. */
  readonly maxInFlight: number;
  /**
   * How much one task carries at most, by `weigh` (at least one request, however heavy):
   * the requests of a task are answered together, when its last is, so a task of
   * thousands keeps the first waiting for all of them.
   */
  readonly maxWeight?: number;
  readonly weigh?: (request: Request) => number;
  /** Which waiting requests go first (negative: `a` before `b`); in the order asked without it. */
  readonly order?: (a: Request, b: Request) => number;
}

interface Queued<Request, Answer> {
  readonly request: Request;
  readonly resolve: (answer: Answer) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Requests asked while others are being answered go out together, as one task for a
 * worker thread. create asks about each folder separately (its listing, its blocks); a
 * message between threads per folder cost more than the work it carried.
 */
export class Coalesced<Request, Answer> {
  private readonly queued: Queued<Request, Answer>[] = [];
  private inFlight = 0;

  constructor(
    /** The answers to the requests, in order. */
    private readonly answerAll: (requests: readonly Request[]) => Promise<readonly Answer[]>,
    private readonly options: CoalescedOptions<Request>,
  ) {}

  ask(request: Request): Promise<Answer> {
    return new Promise((resolve, reject) => {
      this.queued.splice(this.placeFor(request), 0, { request, resolve, reject });
      this.sendIfRoom();
    });
  }

  /** Where a new request goes in the queue: after every request that goes before it or ties with it. */
  private placeFor(request: Request): number {
    const { order } = this.options;
    if (!order) return this.queued.length;
    let low = 0;
    let high = this.queued.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (order((this.queued[middle] as Queued<Request, Answer>).request, request) <= 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  private sendIfRoom(): void {
    if (this.inFlight >= this.options.maxInFlight || this.queued.length === 0) return;
    const batch = this.queued.splice(0, this.countForTask());
    this.inFlight++;
    // Called inside an async function, so that one that throws rather than rejecting fails
    // the whole batch, not only the request that happened to send it, and frees its slot.
    (async () => this.answerAll(batch.map(({ request }) => request)))()
      .then(
        (answers) => batch.forEach((asked, index) => asked.resolve(answers[index] as Answer)),
        (error: unknown) => batch.forEach((asked) => asked.reject(error)),
      )
      .finally(() => {
        this.inFlight--;
        this.sendIfRoom();
      });
    // A slot may still be free for the requests beyond this task's weight.
    this.sendIfRoom();
  }

  /** How many of the queued requests, from the first, the next task takes. */
  private countForTask(): number {
    const { maxWeight = Infinity, weigh = () => 1 } = this.options;
    let weight = 0;
    let count = 0;
    for (const { request } of this.queued) {
      weight += weigh(request);
      if (count > 0 && weight > maxWeight) break;
      count++;
    }
    return count;
  }
}

/** The answer to each list of questions, cut out of the answers to all of them asked at once. */
export async function answerEach<Question, Answer>(lists: readonly (readonly Question[])[], answerAll: (questions: readonly Question[]) => Promise<readonly Answer[]>): Promise<Answer[][]> {
  const answers = await answerAll(lists.flat() as Question[]);
  let next = 0;
  return lists.map((list) => answers.slice(next, (next += list.length)));
}
