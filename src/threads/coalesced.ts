/**
 * Requests asked while others are being answered go out together, as one task for a
 * worker thread. create asks about each folder separately (its listing, its blocks); a
 * message between threads per folder cost more than the work it carried.
 */
export class Coalesced<Request, Answer> {
  private queued: { readonly request: Request; readonly resolve: (answer: Answer) => void; readonly reject: (error: unknown) => void }[] = [];
  private inFlight = 0;

  constructor(
    /** The answers to the requests, in order. */
    private readonly answerAll: (requests: readonly Request[]) => Promise<readonly Answer[]>,
    /** Tasks under way at once; a request asked while this many are waits for the next. */
    private readonly maxInFlight: number,
  ) {}

  ask(request: Request): Promise<Answer> {
    return new Promise((resolve, reject) => {
      this.queued.push({ request, resolve, reject });
      this.sendIfRoom();
    });
  }

  private sendIfRoom(): void {
    if (this.inFlight >= this.maxInFlight || this.queued.length === 0) return;
    const batch = this.queued;
    this.queued = [];
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
  }
}

/** The answer to each list of questions, cut out of the answers to all of them asked at once. */
export async function answerEach<Question, Answer>(lists: readonly (readonly Question[])[], answerAll: (questions: readonly Question[]) => Promise<readonly Answer[]>): Promise<Answer[][]> {
  const answers = await answerAll(lists.flat() as Question[]);
  let next = 0;
  return lists.map((list) => answers.slice(next, (next += list.length)));
}
