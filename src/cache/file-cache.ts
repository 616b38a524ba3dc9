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

/** What create needs of a cache: the narrow interface both caches implement. */
export interface ChunkListCache {
  /** The chunk list of `path` if it is cached with exactly this fingerprint. */
  lookup(path: string, fingerprint: FileFingerprint): Promise<readonly ChunkRef[] | undefined>;
  /** Stores the entry, marking it seen by this run. */
  remember(path: string, file: CachedFile): Promise<void>;
  /** Deletes entries under `folder` (absolute) that this run did not remember. */
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
  try {
    return decodeEntryStrictly(bytes);
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

export class FileCache implements ChunkListCache {
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

  async lookup(path: string, fingerprint: FileFingerprint): Promise<readonly ChunkRef[] | undefined> {
    const stored = await this.db.get(path);
    const entry = stored === undefined ? undefined : decodeEntry(stored);
    if (!entry || !sameFingerprint(entry.file.fingerprint, fingerprint)) return undefined;
    return entry.file.chunks;
  }

  remember(path: string, file: CachedFile): Promise<void> {
    return this.db.put(path, encodeEntry(file, this.runId));
  }

  async forgetUnseen(folder: string): Promise<void> {
    const prefix = folder.endsWith('/') ? folder : `${folder}/`;
    const stale: string[] = [];
    for await (const [path, value] of this.db.iterator({ gte: prefix, lt: `${prefix}\u{10ffff}` })) {
      if (decodeEntry(value)?.runId !== this.runId) stale.push(path);
    }
    await this.db.batch(stale.map((key) => ({ type: 'del' as const, key })));
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
