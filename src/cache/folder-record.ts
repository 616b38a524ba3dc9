/**
 * What the cache keeps about one folder backed up, and its encoding. Two uses:
 * - When the folder's listing (names and every child's full metadata, FolderListing) is
 *   what it was, and its subfolders' trees are too, its tree is reused whole: nothing in
 *   it is looked at one by one. The record then supplies what the folder adds to the
 *   archive's totals and owner tables, the blocks that must still be on the backend, and
 *   the symlinks whose targets are checked again.
 * - Otherwise each file whose size, mtime, ctime and inode are unchanged reuses its chunk
 *   list from `files()`, decoded only then.
 */
import { ByteReader, ByteWriter } from '../archive/codec.js';
import type { ChunkRef } from '../archive/index.js';
import { FormatError } from '../errors/index.js';
import { type BlockId, ID_LENGTH, type TreeId, asId } from '../store/ids.js';
import type { FileFingerprint } from './fingerprint.js';

/** Version 1 was one entry per file; version 2 had no count of entries with extended attributes. */
const RECORD_VERSION = 3;
const MAX_NAME_BYTES = 4096;
const MAX_TARGET_BYTES = 65536;

export interface CachedFile {
  readonly fingerprint: FileFingerprint;
  readonly chunks: readonly ChunkRef[];
}

export interface FolderSummary {
  /**
   * The folder's listing digest combined with the walk's options, when the folder may be
   * reused whole next time it is the same; undefined when a child was modified moments
   * before it was read, could not be read, was reported, or has other hard links.
   */
  readonly listing: Buffer | undefined;
  readonly tree: TreeId;
  /** The subfolders' trees, in the tree's order. */
  readonly subfolderTrees: readonly TreeId[];
  readonly fileCount: number;
  readonly bytes: number;
  /** Owners of the files and symlinks (each subfolder adds its own). */
  readonly uids: readonly number[];
  readonly gids: readonly number[];
  readonly symlinks: readonly { readonly name: string; readonly target: string }[];
  /** Every block of the folder's files, once each. */
  readonly blocks: readonly BlockId[];
  /** How many of the files and symlinks have extended attributes (each subfolder counts its own). */
  readonly xattrEntries: number;
}

export class FolderRecord {
  private constructor(
    readonly summary: FolderSummary,
    private encodedFiles: Buffer | undefined,
    private decodedFiles: ReadonlyMap<string, CachedFile> | undefined,
  ) {}

  /** `files` holds the files whose chunk lists may be reused next time, by name. */
  static of(summary: FolderSummary, files: ReadonlyMap<string, CachedFile>): FolderRecord {
    return new FolderRecord(summary, undefined, files);
  }

  /** The files by name, decoded on first use; throws FormatError on a damaged record. */
  files(): ReadonlyMap<string, CachedFile> {
    this.decodedFiles ??= decodeFiles(this.encodedFiles as Buffer);
    return this.decodedFiles;
  }

  /** The record as stored. */
  encode(): Buffer {
    const { summary } = this;
    const out = new ByteWriter().u8(RECORD_VERSION).bytes(summary.listing ?? Buffer.alloc(0)).raw(summary.tree);
    ids(out, summary.subfolderTrees).varint(summary.fileCount).varint(summary.bytes);
    numbers(numbers(out, summary.uids), summary.gids).varint(summary.symlinks.length);
    for (const { name, target } of summary.symlinks) out.name(name).name(target);
    ids(out, summary.blocks).varint(summary.xattrEntries);
    return out.raw(this.encodedFiles ?? encodeFiles(this.files())).finish();
  }

  /** The record; undefined for one written by another version (the folder is then read afresh). Throws FormatError. */
  static decode(bytes: Buffer): FolderRecord | undefined {
    const input = new ByteReader(bytes, 'cache record');
    if (input.u8() !== RECORD_VERSION) return undefined;
    const listing = input.bytes(ID_LENGTH);
    const summary: FolderSummary = {
      listing: listing.length === 0 ? undefined : listing,
      tree: asId(input.raw(ID_LENGTH), 'tree'),
      subfolderTrees: readIds(input, 'tree'),
      fileCount: input.varint(),
      bytes: input.varint(),
      uids: readNumbers(input),
      gids: readNumbers(input),
      symlinks: Array.from({ length: input.varint() }, () => ({ name: input.name(MAX_NAME_BYTES), target: input.name(MAX_TARGET_BYTES) })),
      blocks: readIds(input, 'block'),
      xattrEntries: input.varint(),
    };
    // Ids and the files are views of `bytes`, which the database read gave this record alone.
    return new FolderRecord(summary, input.rest(), undefined);
  }
}

/** What decode returns, or undefined for a record this version cannot read (a FormatError). */
export function unlessUnusable<T>(decode: () => T | undefined): T | undefined {
  try {
    return decode();
  } catch (error) {
    if (error instanceof FormatError) return undefined;
    throw error;
  }
}

function encodeFiles(files: ReadonlyMap<string, CachedFile>): Buffer {
  const out = new ByteWriter().varint(files.size);
  for (const [name, { fingerprint, chunks }] of files) {
    out.name(name).varint(fingerprint.size).bigSigned(fingerprint.mtimeNs).bigSigned(fingerprint.ctimeNs).bigSigned(fingerprint.inode);
    out.varint(chunks.length);
    for (const chunk of chunks) out.raw(chunk.id).varint(chunk.length);
  }
  return out.finish();
}

function decodeFiles(bytes: Buffer): Map<string, CachedFile> {
  const input = new ByteReader(bytes, 'cache record');
  const files = new Map<string, CachedFile>();
  for (let count = input.varint(); count > 0; count--) {
    const name = input.name(MAX_NAME_BYTES);
    const fingerprint = { size: input.varint(), mtimeNs: input.bigSigned(), ctimeNs: input.bigSigned(), inode: input.bigSigned() };
    const chunks = Array.from({ length: input.varint() }, () => ({ id: asId(input.raw(ID_LENGTH), 'block'), length: input.varint() }));
    files.set(name, { fingerprint, chunks });
  }
  input.end();
  return files;
}

function ids(out: ByteWriter, list: readonly Buffer[]): ByteWriter {
  out.varint(list.length);
  for (const id of list) out.raw(id);
  return out;
}

function readIds<K extends 'block' | 'tree'>(input: ByteReader, kind: K) {
  return Array.from({ length: input.varint() }, () => asId(input.raw(ID_LENGTH), kind));
}

function numbers(out: ByteWriter, list: readonly number[]): ByteWriter {
  out.varint(list.length);
  for (const value of list) out.varint(value);
  return out;
}

function readNumbers(input: ByteReader): number[] {
  return Array.from({ length: input.varint() }, () => input.varint());
}
