/**
 * Reading the folder being backed up on worker threads (piscina, one per core), with
 * synchronous calls: a folder's listing and lstats in one task, and small files read,
 * chunked and sealed in batches. On the main thread each lstat, and each small file's open,
 * read, fstat and close, was a thread-pool round trip costing more than the work itself;
 * here a folder or a batch of files costs one message each way, and the cryptography of
 * small files leaves the main thread to the walk, the cache and the writes.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Piscina } from 'piscina';
import type { FileFingerprint } from '../cache/fingerprint.js';
import { SIV_LENGTH, type Sealed } from '../crypto/siv.js';
import { Coalesced } from '../threads/coalesced.js';
import { threadPool } from '../threads/pool.js';
import { inWalkOrder } from './child-path.js';
import { type EntryStats, FILE_TYPE, ScannedStats } from './entry-stats.js';
import { type FailureValue, type FileOutcome, type FolderListing, MODE_FIELD, type RawStats, SIZE_FIELD, STAT_FIELDS, type ScanTask, type SmallFileBatch, type SmallFileRequest, type SourceSetup } from './source-protocol.js';

export type { SourceSetup } from './source-protocol.js';

/** Files up to this size go to the workers; larger ones are streamed by the main thread. */
export const SMALL_FILE_LIMIT = 1024 * 1024;
/** A batch is sent when it has this many files or bytes, or at the end of the current turn of the event loop. */
const BATCH_FILES = 64;
const BATCH_BYTES = 4 * 1024 * 1024;
/**
 * Folders per scan task at most: a task's listings come back together, when its last
 * folder is scanned, and the walk may be waiting for its first.
 */
const SCAN_BATCH = 8;
/**
 * Tasks sent to each thread at once: the next waits at the thread while one runs, so the
 * thread goes on without waiting for the main thread to hear back and send another.
 */
const TASKS_PER_THREAD = 2;
/** Paths per lstatMany task. */
const LSTAT_BATCH = 4096;

export type SmallFileOutcome =
  | { readonly kind: 'sealed'; readonly chunks: readonly Sealed[] }
  /** Not what the walk saw: the caller reads it the careful way (readConsistently). */
  | { readonly kind: 'changed' }
  | { readonly kind: 'failed'; readonly error: NodeJS.ErrnoException };

/**
 * A folder's children in readdir's order, each with its stats or the error that kept them
 * from being read, and the digest of it all (FolderListing). Stats are unpacked only for
 * the children asked about: create asks about every child only of a folder that changed.
 */
export class Listing {
  /** A folder not looked into (on another filesystem, with --one-file-system). */
  static readonly EMPTY = new Listing([], new BigInt64Array(0), new Map(), createHash('sha256').digest());

  constructor(
    readonly names: readonly string[],
    private readonly packed: BigInt64Array,
    private readonly failures: ReadonlyMap<number, NodeJS.ErrnoException>,
    readonly digest: Buffer,
  ) {}

  stats(index: number): EntryStats | NodeJS.ErrnoException {
    return this.failures.get(index) ?? new ScannedStats(this.packed, index * STAT_FIELDS);
  }

  isFolder(index: number): boolean {
    return this.typeOf(index) === FOLDER_TYPE;
  }

  /** A regular file's size, without making its stats; undefined for anything else. */
  fileSize(index: number): bigint | undefined {
    return this.typeOf(index) === REGULAR_FILE_TYPE ? (this.packed[index * STAT_FIELDS + SIZE_FIELD] as bigint) : undefined;
  }

  private typeOf(index: number): bigint | undefined {
    return this.failures.has(index) ? undefined : (this.packed[index * STAT_FIELDS + MODE_FIELD] as bigint) & FILE_TYPE;
  }
}

const FOLDER_TYPE = BigInt(constants.S_IFDIR);
const REGULAR_FILE_TYPE = BigInt(constants.S_IFREG);

interface Waiting {
  readonly request: SmallFileRequest;
  readonly resolve: (outcome: SmallFileOutcome) => void;
  readonly reject: (error: unknown) => void;
}

export class SourceReader {
  private readonly pool: Piscina;
  private waiting: Waiting[] = [];
  private waitingBytes = 0;
  private sendScheduled = false;
  /**
   * Folders asked for while every thread has its tasks wait and go together, the next ones
   * in the walk's order first: create asks for folders well ahead of its walk, and one
   * asked for later may be the one it waits for.
   */
  private readonly scans = new Coalesced<ScanTask, FolderListing>((tasks) => this.pool.run({ tasks }, { name: 'scanFolders' }), {
    maxInFlight: availableParallelism() * TASKS_PER_THREAD,
    maxWeight: SCAN_BATCH,
    order: (a, b) => inWalkOrder(a.path, b.path),
  });

  /** The threads start at once, in parallel (about 250 ms until one is ready, node's start and the modules): the walk needs them from its first folder. */
  constructor(setup: SourceSetup) {
    this.pool = threadPool({
      filename: new URL('./source-worker.js', import.meta.url).href,
      workerData: setup,
      minThreads: availableParallelism(),
      maxThreads: availableParallelism(),
      concurrentTasksPerWorker: TASKS_PER_THREAD,
      resourceLimits: { maxYoungGenerationSizeMb: 4 },
    });
  }

  /** Lists a folder and stats its children (stat with `dereference`); throws the error when the folder cannot be listed. `large`: see scanAlone. */
  async scan(path: string, dereference: boolean, large = false): Promise<Listing> {
    const listing = large ? await this.scanAlone({ path, dereference }) : await this.scans.ask({ path, dereference });
    if ('failure' in listing) throw errnoError(listing.failure);
    const failures = new Map(listing.failures.map(({ index, failure }) => [index, errnoError(failure)]));
    return new Listing(listing.names, listing.stats, failures, Buffer.from(listing.digest));
  }

  /**
   * A large folder's scan takes long: as a task of its own, the folders asked for
   * meanwhile go to the other thread rather than wait for it in the same batch.
   */
  private async scanAlone(task: ScanTask): Promise<FolderListing> {
    const [listing]: FolderListing[] = await this.pool.run({ tasks: [task] }, { name: 'scanFolders' });
    return listing as FolderListing;
  }

  /** lstat of many files, in order; undefined for one that is gone or cannot be read. */
  async lstatMany(paths: readonly string[]): Promise<(EntryStats | undefined)[]> {
    const tasks = [];
    for (let start = 0; start < paths.length; start += LSTAT_BATCH) {
      tasks.push(this.pool.run({ paths: paths.slice(start, start + LSTAT_BATCH) }, { name: 'lstatFiles' }) as Promise<(RawStats | null)[]>);
    }
    return (await Promise.all(tasks)).flat().map((raw) => (raw ? new ScannedStats(raw) : undefined));
  }

  /** Reads, chunks and seals a small file, batched with others asked for in the same turn. */
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
    this.pool
      .run({ files: batch.map((w) => w.request) })
      .then(
        (result: SmallFileBatch) => distribute(batch, result),
        (error: unknown) => batch.forEach((w) => w.reject(error)),
      );
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}

function errnoError(failure: FailureValue): NodeJS.ErrnoException {
  return Object.assign(new Error(failure.message), failure.code === undefined ? {} : { code: failure.code });
}

/** Hands each waiting caller its outcome, with its chunks cut out of the batch's buffer. */
function distribute(batch: readonly Waiting[], result: SmallFileBatch): void {
  const sealed = Buffer.from(result.sealed.buffer, result.sealed.byteOffset, result.sealed.byteLength);
  let offset = 0;
  batch.forEach((waiting, index) => {
    const outcome = result.outcomes[index] as FileOutcome;
    if ('changed' in outcome) return waiting.resolve({ kind: 'changed' });
    if ('failure' in outcome) return waiting.resolve({ kind: 'failed', error: errnoError(outcome.failure) });
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
