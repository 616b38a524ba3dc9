/**
 * The mtime cache. An entry is keyed by the file's absolute path and holds the metadata
 * that must all be unchanged for the file to count as unchanged (size, mtime, ctime and
 * inode, to the nanosecond), its chunk list, and the run that last saw it; entries a run
 * did not see under the folder it backed up are deleted at the end of that run.
 */
import { Level } from 'level';
import { ByteReader, ByteWriter } from '../archive/codec.js';
import type { ChunkRef } from '../archive/index.js';
import { FormatError } from '../errors/index.js';
import { ID_LENGTH, asId } from '../store/ids.js';
import { type FileFingerprint, sameFingerprint } from './fingerprint.js';

const ENTRY_VERSION = 1;

export interface CachedFile {
  readonly fingerprint: FileFingerprint;
  readonly chunks: readonly ChunkRef[];
}

/** A file as the walk found it, to look up in the cache. */
export interface CacheQuery {
  readonly path: string;
  readonly fingerprint: FileFingerprint;
}

/** What create needs of a cache: the narrow interface both caches implement. */
export interface ChunkListCache {
  /** For each file, its chunk list if it is cached with exactly this fingerprint (one read for a whole folder). */
  lookup(files: readonly CacheQuery[]): Promise<(readonly ChunkRef[] | undefined)[]>;
  /** Stores the entry, marking it seen by this run. Written in batches; failures surface in forgetUnseen. */
  remember(path: string, file: CachedFile): void;
  /** Writes what is remembered, then deletes entries under `folder` (absolute) that this run did not remember. */
  forgetUnseen(folder: string): Promise<void>;
}

function encodeEntry(file: CachedFile, runId: bigint): Buffer {
  const { size, mtimeNs, ctimeNs, inode } = file.fingerprint;
  const out = new ByteWriter().u8(ENTRY_VERSION).bigSigned(runId).varint(size).bigSigned(mtimeNs).bigSigned(ctimeNs).bigSigned(inode);
  out.varint(file.chunks.length);
  for (const chunk of file.chunks) out.raw(chunk.id).varint(chunk.length);
  return out.finish();
}

/** The entry, or undefined for one this version cannot use: the file is then simply read again. */
function decodeEntry(bytes: Buffer): { file: CachedFile; runId: bigint } | undefined {
  return unlessUnusable(() => decodeEntryStrictly(bytes));
}

/** The run that last saw an entry, read without decoding the rest. */
function lastSeenBy(bytes: Buffer): bigint | undefined {
  return unlessUnusable(() => {
    const input = new ByteReader(bytes, 'cache entry');
    return input.u8() === ENTRY_VERSION ? input.bigSigned() : undefined;
  });
}

/** What decode returns, or undefined for an entry this version cannot read (a FormatError). */
function unlessUnusable<T>(decode: () => T | undefined): T | undefined {
  try {
    return decode();
  } catch (error) {
    if (error instanceof FormatError) return undefined;
    throw error;
  }
}

function decodeEntryStrictly(bytes: Buffer): { file: CachedFile; runId: bigint } | undefined {
  const input = new ByteReader(bytes, 'cache entry');
  if (input.u8() !== ENTRY_VERSION) return undefined;
  const runId = input.bigSigned();
  const fingerprint = { size: input.varint(), mtimeNs: input.bigSigned(), ctimeNs: input.bigSigned(), inode: input.bigSigned() };
  const chunks: ChunkRef[] = [];
  const count = input.varint();
  for (let i = 0; i < count; i++) chunks.push({ id: asId(Buffer.from(input.raw(ID_LENGTH)), 'block'), length: input.varint() });
  input.end();
  return { file: { fingerprint, chunks }, runId };
}

/** Entries written to the database at once. */
const WRITE_BATCH = 1024;

export class FileCache implements ChunkListCache {
  /** Remembered entries not yet known to be in the database (queued or being written). */
  private readonly unwritten = new Map<string, Buffer>();
  private queued: [string, Buffer][] = [];
  private writes: Promise<void> = Promise.resolve();
  private failure: { readonly error: unknown } | undefined;

  private constructor(
    private readonly db: Level<string, Buffer>,
    /** Identifies this run; entries carry the id of the last run that saw them. */
    private readonly runId: bigint,
  ) {}

  /** Opens (creating if needed) the cache database in `folder`. */
  static async open(folder: string): Promise<FileCache> {
    const db = new Level<string, Buffer>(folder, { valueEncoding: 'buffer' });
    await db.open();
    return new FileCache(db, process.hrtime.bigint() ^ (BigInt(Date.now()) << 20n));
  }

  async lookup(files: readonly CacheQuery[]): Promise<(readonly ChunkRef[] | undefined)[]> {
    const stored = files.length === 0 ? [] : await this.db.getMany(files.map((file) => file.path));
    return files.map(({ path, fingerprint }, i) => {
      const bytes = this.unwritten.get(path) ?? stored[i];
      const entry = bytes === undefined ? undefined : decodeEntry(bytes);
      return entry && sameFingerprint(entry.file.fingerprint, fingerprint) ? entry.file.chunks : undefined;
    });
  }

  remember(path: string, file: CachedFile): void {
    const bytes = encodeEntry(file, this.runId);
    this.unwritten.set(path, bytes);
    this.queued.push([path, bytes]);
    if (this.queued.length >= WRITE_BATCH) this.writeQueued();
  }

  /** One batch write per WRITE_BATCH entries, one after the other; a failure is kept for forgetUnseen. */
  private writeQueued(): void {
    const batch = this.queued;
    this.queued = [];
    this.writes = this.writes
      .then(() => this.db.batch(batch.map(([key, value]) => ({ type: 'put' as const, key, value }))))
      .then(
        () => {
          for (const [path, bytes] of batch) if (this.unwritten.get(path) === bytes) this.unwritten.delete(path);
        },
        (error: unknown) => {
          this.failure ??= { error };
        },
      );
  }

  private async flushWrites(): Promise<void> {
    if (this.queued.length > 0) this.writeQueued();
    await this.writes;
    if (this.failure) throw this.failure.error;
  }

  async forgetUnseen(folder: string): Promise<void> {
    await this.flushWrites();
    const prefix = folder.endsWith('/') ? folder : `${folder}/`;
    const stale: string[] = [];
    for await (const [path, value] of this.db.iterator({ gte: prefix, lt: `${prefix}\u{10ffff}` })) {
      if (lastSeenBy(value) !== this.runId) stale.push(path);
    }
    await this.db.batch(stale.map((key) => ({ type: 'del' as const, key })));
  }

  /** Writes what is still queued (a run that failed keeps what it learnt), then closes. */
  async close(): Promise<void> {
    try {
      await this.flushWrites();
    } finally {
      await this.db.close();
    }
  }
}
