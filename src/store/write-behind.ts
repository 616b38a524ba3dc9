/**
 * Objects stored in the background, in batches, while the caller goes on reading and
 * encrypting: add() returns as soon as the object is queued (it waits only while too many
 * bytes are queued, which bounds memory), and flush() returns once everything added is on
 * the backend, or throws the first failure. Nothing may refer to an added object from an
 * archive before flush() has returned.
 */
import { type Backend, type NewObject, putObjects } from '../backend/index.js';

export interface WriteBehindLimits {
  /** A batch is sent when it holds this many objects… */
  readonly batchObjects: number;
  /** …or this many bytes. */
  readonly batchBytes: number;
  /** Batches on their way to the backend at once. */
  readonly parallelBatches: number;
}

/** At most 24 MiB queued: one batch filling while two are written. */
export const DEFAULT_LIMITS: WriteBehindLimits = { batchObjects: 1024, batchBytes: 8 * 1024 * 1024, parallelBatches: 2 };

export class WriteBehind {
  private batch: NewObject[] = [];
  private batchBytes = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private failure: { readonly error: unknown } | undefined;
  /** Bytes of the objects this queue created on the backend (not those it already had). */
  storedBytes = 0;

  constructor(
    private readonly backend: Pick<Backend, 'has' | 'put' | 'putMany'>,
    private readonly limits: WriteBehindLimits = DEFAULT_LIMITS,
  ) {}

  /** `data` belongs to the queue from now on: the caller must not read or change it again. */
  async add(key: string, data: Uint8Array): Promise<void> {
    this.throwIfFailed();
    this.batch.push({ key, data });
    this.batchBytes += data.length;
    if (!this.batchFull()) return;
    while (this.inFlight.size >= this.limits.parallelBatches) await Promise.race(this.inFlight);
    this.throwIfFailed();
    // Another caller waiting here may have sent the batch already.
    if (this.batchFull()) this.send();
  }

  private batchFull(): boolean {
    return this.batch.length >= this.limits.batchObjects || this.batchBytes >= this.limits.batchBytes;
  }

  async flush(): Promise<void> {
    if (this.batch.length > 0) this.send();
    while (this.inFlight.size > 0) await Promise.race(this.inFlight);
    this.throwIfFailed();
  }

  private send(): void {
    const objects = this.batch;
    const lengths = objects.map(({ data }) => data.length);
    this.batch = [];
    this.batchBytes = 0;
    // Added objects belong to the queue (add's contract), so the backend may take their
    // memory: a large file's ciphertexts then go to the file backend's writer thread as
    // they are instead of being copied into a batch on the walk's thread.
    // The failure is kept for add() and flush() to throw, so it is never left unhandled.
    const sent: Promise<void> = putObjects(this.backend, objects, { handOver: true })
      .then((created) => created.forEach((made, i) => (this.storedBytes += made ? (lengths[i] as number) : 0)))
      .catch((error: unknown) => {
        this.failure ??= { error };
      })
      .finally(() => this.inFlight.delete(sent));
    this.inFlight.add(sent);
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }
}
