/**
 * The mtime cache, in LevelDB: one record per folder backed up (folder-record.ts), keyed by
 * the bytes of the folder's absolute path (src/filenames: a path that is not UTF-8 keeps
 * its own key, where as text it would share U+FFFD with others). Records of folders a run
 * did not see under the folder it backed up are deleted at the end of that run; the
 * folders seen are kept in memory (one path per folder), so that a record still valid is
 * not written again.
 */
import { Level } from 'level';
import { nameFromBytes, nameToBytes } from '../filenames/index.js';
import { FolderRecord, unlessUnusable } from './folder-record.js';

/** What create needs of a cache: the narrow interface both caches implement. */
export interface BackupCache {
  /** The folder's record, if the cache has one this version can read. */
  lookup(folder: string): Promise<FolderRecord | undefined>;
  /** Stores the folder's new record, and notes the folder as seen. Written in batches; failures surface in forgetUnseen. */
  remember(folder: string, record: FolderRecord): void;
  /** Notes the folder as seen, its record being still valid. */
  keep(folder: string): void;
  /** Writes what is remembered, then deletes the records of `root` (absolute) and of folders under it that this run did not see. */
  forgetUnseen(root: string): Promise<void>;
}

/**
 * Keys of the backends' notes (Backend.readNotes) start with this, then the backend's
 * location. Folder records are keyed by absolute paths, which start with '/', so neither
 * kind of key can be taken for the other, and forgetUnseen never sees the notes.
 */
const NOTES_PREFIX = Buffer.from('backend-notes ');

/**
 * Records written to the database at once: this many, or fewer that take this many bytes
 * (a folder of 17,000 files makes a record of about 1 MiB).
 */
const WRITE_BATCH = 256;
const WRITE_BATCH_BYTES = 1024 * 1024;

export class FileCache implements BackupCache {
  /**
   * Remembered records not yet known to be in the database (queued or being written),
   * encoded: as objects, a record holds every file's fingerprint and chunk list, about
   * 400 bytes a file against 60 encoded, and 256 records of wide folders held hundreds of
   * MiB until their batch was written.
   */
  private readonly unwritten = new Map<string, Buffer>();
  private queued: [string, Buffer][] = [];
  private queuedBytes = 0;
  private writes: Promise<void> = Promise.resolve();
  private failure: { readonly error: unknown } | undefined;
  private readonly seen = new Set<string>();

  private constructor(private readonly db: Level<Buffer, Buffer>) {}

  /** Opens (creating if needed) the cache database in `folder`. */
  static async open(folder: string): Promise<FileCache> {
    return new FileCache(await openDatabase(folder));
  }

  async lookup(folder: string): Promise<FolderRecord | undefined> {
    const pending = this.unwritten.get(folder);
    if (pending) return FolderRecord.decode(pending);
    // Synchronously: a record is a few kilobytes, mostly in the page cache, and an awaited
    // get waits for a trip through libuv's pool (the benchmark's 1,785 folders: 115-145 ms
    // one after the other against 10-14 ms, cold), on the thread that walks the tree.
    const bytes = this.db.getSync(nameToBytes(folder));
    return bytes === undefined ? undefined : unlessUnusable(() => FolderRecord.decode(bytes));
  }

  keep(folder: string): void {
    this.seen.add(folder);
  }

  remember(folder: string, record: FolderRecord): void {
    this.seen.add(folder);
    const encoded = record.encode();
    this.unwritten.set(folder, encoded);
    this.queued.push([folder, encoded]);
    this.queuedBytes += encoded.length;
    if (this.queued.length >= WRITE_BATCH || this.queuedBytes >= WRITE_BATCH_BYTES) this.writeQueued();
  }

  /** One batch write per WRITE_BATCH records or WRITE_BATCH_BYTES, one after the other; a failure is kept for forgetUnseen. */
  private writeQueued(): void {
    const batch = this.queued;
    this.queued = [];
    this.queuedBytes = 0;
    this.writes = this.writes
      .then(() => this.db.batch(batch.map(([folder, encoded]) => ({ type: 'put' as const, key: nameToBytes(folder), value: encoded }))))
      .then(
        () => {
          for (const [folder, encoded] of batch) if (this.unwritten.get(folder) === encoded) this.unwritten.delete(folder);
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

  async forgetUnseen(root: string): Promise<void> {
    await this.flushWrites();
    const stale: Buffer[] = [];
    const rootKey = nameToBytes(root);
    if (!this.seen.has(root) && (await this.db.get(rootKey)) !== undefined) stale.push(rootKey);
    // Only what is below root: a range starting at root itself would take in "root-other".
    const prefix = nameToBytes(root.endsWith('/') ? root : `${root}/`);
    for await (const key of this.db.keys(startingWith(prefix))) {
      if (!this.seen.has(nameFromBytes(key))) stale.push(key);
    }
    await this.db.batch(stale.map((key) => ({ type: 'del' as const, key })));
  }

  /** What the backends noted about themselves in earlier runs, by location. */
  async readBackendNotes(): Promise<Map<string, Uint8Array>> {
    const notes = new Map<string, Uint8Array>();
    for await (const [key, value] of this.db.iterator(startingWith(NOTES_PREFIX))) {
      notes.set(key.subarray(NOTES_PREFIX.length).toString(), value);
    }
    return notes;
  }

  async writeBackendNotes(notes: ReadonlyMap<string, Uint8Array>): Promise<void> {
    await this.db.batch([...notes].map(([location, value]) => ({ type: 'put' as const, key: Buffer.concat([NOTES_PREFIX, Buffer.from(location)]), value: Buffer.from(value.buffer, value.byteOffset, value.byteLength) })));
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

/** A LevelDB of bytes to bytes in `folder`, made if missing: the cache's databases. */
export async function openDatabase(folder: string): Promise<Level<Buffer, Buffer>> {
  const db = new Level<Buffer, Buffer>(folder, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  return db;
}

/** The range of keys that start with `prefix`: its last byte ('/' or ' ' here, never 0xFF) one higher is the first key past them. */
function startingWith(prefix: Buffer): { gte: Buffer; lt: Buffer } {
  const past = Buffer.from(prefix);
  past[past.length - 1] = (past.at(-1) as number) + 1;
  return { gte: prefix, lt: past };
}
