/**
 * repository: a backend opened with a key — the content stores for blocks and trees and
 * the catalog of archives — and the single place commands open one from their options.
 */
import { type ArchiveRecord, Catalog, type Entry, Snapshot, decodeTree } from '../archive/index.js';
import type { BlockSource, TreeSource } from '../archive/index.js';
import { type Backend, DryRunBackend, openBackends } from '../backend/index.js';
import { type Chunker, ContentDefinedChunker, GearBoundaries, gearTable } from '../chunker/index.js';
import { CryptoPool, type Keys, computeSiv, deriveKeys, inlineSealer, wipe } from '../crypto/index.js';
import { loadKeyfile } from '../keyfile/index.js';
import { SourceReader, type SourceSetup } from '../pipeline/source-reader.js';
import { ContentStore } from '../store/content-store.js';
import { type BlockId, type TreeId, idToHex } from '../store/ids.js';

export { BackendLock, BackendLockedError, STALE_AFTER_MS, describeHolder, releaseHeldLocks, removeLocks, withLock, type FoundLock, type LockKind } from './lock.js';

export class Repository implements TreeSource, BlockSource {
  readonly blocks: ContentStore<'block'>;
  readonly trees: ContentStore<'tree'>;
  readonly catalog: Catalog;
  readonly chunker: Chunker;
  /**
   * Names this key and backend location together, for the local cache: another backend,
   * or another key, gets a cache of its own.
   */
  readonly identity: string;
  /** Equal for two repositories exactly when they have the same key (copy then keeps every id). */
  readonly keyFingerprint: string;
  private readonly sourceSetup: SourceSetup;

  constructor(
    readonly backend: Backend,
    keys: Keys,
    /**
     * Decrypt blocks on worker threads (the mount: off the thread that answers FUSE).
     * create and restore do not: buffers handed between threads escaped the garbage
     * collector's accounting there and peak memory grew with the data (docs/DESIGN.md).
     */
    cryptoWorkers = false,
  ) {
    this.blocks = new ContentStore(backend, cryptoWorkers ? new CryptoPool(keys.block) : inlineSealer(keys.block), 'block');
    this.trees = new ContentStore(backend, inlineSealer(keys.tree), 'tree');
    this.catalog = new Catalog(backend, keys);
    const gear = gearTable(keys.chunker.sivKey);
    const boundaries = new GearBoundaries(gear);
    this.chunker = new ContentDefinedChunker(boundaries);
    this.sourceSetup = { blockKeys: keys.block, gear, sizes: boundaries.sizes };
    this.identity = computeSiv(keys.archiveName, Buffer.from('cache identity'), Buffer.from(backend.location)).toString('hex').slice(0, 32);
    this.keyFingerprint = computeSiv(keys.archiveName, Buffer.from('key fingerprint'), Buffer.alloc(0)).toString('hex');
  }

  /** Lists folders, and reads, chunks and seals small files for the blocks store, on worker threads; the caller closes it. */
  openSourceReader(): SourceReader {
    return new SourceReader(this.sourceSetup);
  }

  /** Returns once every block and tree put so far is on the backend: call it before writing an archive that refers to them. */
  async flush(): Promise<void> {
    await Promise.all([this.blocks.flush(), this.trees.flush()]);
  }

  /** Ciphertext bytes of the blocks and trees this repository created on the backend. */
  get storedBytes(): number {
    return this.blocks.storedBytes + this.trees.storedBytes;
  }

  async readTree(id: TreeId): Promise<readonly Entry[]> {
    return decodeTree(await this.trees.get(id), `tree ${idToHex(id)}`);
  }

  readBlock(id: BlockId, length?: number): Promise<Buffer> {
    return this.blocks.get(id, length);
  }

  snapshotOf(record: ArchiveRecord): Snapshot {
    return new Snapshot(record.metadata, this);
  }

  async snapshot(name: string): Promise<Snapshot> {
    return this.snapshotOf(await this.catalog.read(name));
  }

  /** Stops the crypto workers and releases the backend's connections (SFTP, S3); the repository is not used afterwards. */
  async close(): Promise<void> {
    await this.blocks.close();
    await this.backend.close?.();
  }
}

export interface RepositoryOptions {
  readonly keyfile: string | undefined;
  /** One backend URL, or several to write to all and read from the first good copy. */
  readonly backends: readonly string[];
  /** Only `create` makes a missing backend folder. */
  readonly createIfMissing?: boolean;
  /** Block cryptography on worker threads (see Repository). */
  readonly cryptoWorkers?: boolean;
  /** With several backends, whether the run may go on without one that fails (true unless gc). */
  readonly tolerateFailures?: boolean;
  /** Write nothing (create --dry-run): see DryRunBackend. */
  readonly dryRun?: boolean;
  readonly onWarning: (message: string) => void;
}

export async function openRepository(options: RepositoryOptions): Promise<Repository> {
  const masterKey = await loadKeyfile(options.keyfile, options.onWarning);
  const keys = deriveKeys(masterKey);
  wipe(masterKey);
  const backend = await openBackends(options.backends, {
    createIfMissing: options.createIfMissing ?? false,
    tolerateFailures: options.tolerateFailures ?? true,
    onWarning: options.onWarning,
  });
  return new Repository(options.dryRun ? new DryRunBackend(backend) : backend, keys, options.cryptoWorkers ?? false);
}
