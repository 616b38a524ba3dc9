/**
 * Small files of a backup, read, chunked and sealed on worker threads (one per core), in
 * batches. A small file's content costs about as much as the calls that read it, so on
 * the main thread it cost four thread-pool round trips for little work; here a batch of
 * files costs one message each way, and the cryptography of small files leaves the main
 * thread to the walk, the cache and the writes.
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { FileFingerprint } from '../cache/fingerprint.js';
import { SIV_LENGTH, type Sealed } from '../crypto/siv.js';
import type { FileOutcome, SmallFileBatch, SmallFileRequest, SmallFileSetup } from './small-file-protocol.js';

export type { SmallFileSetup } from './small-file-protocol.js';

/** Files up to this size go to the workers; larger ones are streamed by the main thread. */
export const SMALL_FILE_LIMIT = 1024 * 1024;
/** A batch is sent when it has this many files or bytes, or at the end of the current turn of the event loop. */
const BATCH_FILES = 64;
const BATCH_BYTES = 4 * 1024 * 1024;
const IDLE_MS = 5_000;

export type SmallFileOutcome =
  | { readonly kind: 'sealed'; readonly chunks: readonly Sealed[] }
  /** Not what the walk saw: the caller reads it the careful way (readConsistently). */
  | { readonly kind: 'changed' }
  | { readonly kind: 'failed'; readonly error: NodeJS.ErrnoException };

interface Waiting {
  readonly request: SmallFileRequest;
  readonly resolve: (outcome: SmallFileOutcome) => void;
  readonly reject: (error: unknown) => void;
}

export class SmallFileReader {
  private pool: Piscina<{ files: SmallFileRequest[] }, SmallFileBatch> | undefined;
  private waiting: Waiting[] = [];
  private waitingBytes = 0;
  private sendScheduled = false;

  constructor(private readonly setup: SmallFileSetup) {}

  read(path: string, fingerprint: FileFingerprint): Promise<SmallFileOutcome> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ request: { path, fingerprint }, resolve, reject });
      this.waitingBytes += fingerprint.size;
      if (this.waiting.length >= BATCH_FILES || this.waitingBytes >= BATCH_BYTES) this.send();
      else if (!this.sendScheduled) {
        this.sendScheduled = true;
        setImmediate(() => {
          this.sendScheduled = false;
          this.send();
        });
      }
    });
  }

  private send(): void {
    const batch = this.waiting;
    if (batch.length === 0) return;
    this.waiting = [];
    this.waitingBytes = 0;
    this.pool ??= new Piscina({
      filename: new URL('./small-file-worker.js', import.meta.url).href,
      workerData: this.setup,
      minThreads: 0,
      maxThreads: availableParallelism(),
      idleTimeout: IDLE_MS,
      resourceLimits: { maxYoungGenerationSizeMb: 4 },
    });
    this.pool.run({ files: batch.map((w) => w.request) }).then(
      (result) => distribute(batch, result),
      (error: unknown) => batch.forEach((w) => w.reject(error)),
    );
  }

  close(): Promise<void> {
    return this.pool?.destroy() ?? Promise.resolve();
  }
}

/** Hands each waiting caller its outcome, with its chunks cut out of the batch's buffer. */
function distribute(batch: readonly Waiting[], result: SmallFileBatch): void {
  const sealed = Buffer.from(result.sealed.buffer, result.sealed.byteOffset, result.sealed.byteLength);
  let offset = 0;
  batch.forEach((waiting, index) => {
    const outcome = result.outcomes[index] as FileOutcome;
    if ('changed' in outcome) return waiting.resolve({ kind: 'changed' });
    if ('failure' in outcome) return waiting.resolve({ kind: 'failed', error: Object.assign(new Error(outcome.failure.message), { code: outcome.failure.code }) });
    const chunks = outcome.chunkLengths.map((length) => {
      // A copy: the id lives on in the folder's tree and the cache, and a view would keep
      // the whole batch's ciphertexts in memory with it.
      const id = Buffer.from(sealed.subarray(offset, offset + SIV_LENGTH));
      const ciphertext = sealed.subarray(offset + SIV_LENGTH, offset + SIV_LENGTH + length);
      offset += SIV_LENGTH + length;
      return { id, ciphertext };
    });
    waiting.resolve({ kind: 'sealed', chunks });
  });
}
