/**
 * The files a backup has read, each with the metadata it had when read, for the re-check
 * at the end of the run (create.ts): packed as bytes, and past a bound moved to a file of
 * their own, so that memory stays the same however many files a run reads. As objects they
 * took about 340 bytes each, 340 MiB for a million files; packed, a file takes its path's
 * bytes and 52 more, in memory up to the bound and on disk beyond it.
 *
 * The file has no name: it is made in a fresh folder of the system's temporary folder
 * (TMPDIR), which is removed at once with the name, so nothing is left behind when the
 * process ends, however it ends.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmdirSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FileFingerprint } from '../cache/index.js';
import { ExitStatus, PreserveError, describeError } from '../errors/index.js';
import { nameFromBytes, nameToBytes } from '../filenames/index.js';

/** The list could not be written to or read from its file (a full or missing TMPDIR): the backup stops (exit 1). */
export class FilesReadListError extends PreserveError {
  constructor(cause: unknown) {
    super(`cannot keep the list of files read, for the re-check at the end, in ${tmpdir()} (TMPDIR): ${describeError(cause)}`, ExitStatus.problem, { cause });
  }
}

/** A file whose content the walk read, with its metadata as read. */
export interface FileRead {
  readonly path: string;
  readonly fingerprint: FileFingerprint;
}

/**
 * A record: the path's length (u32), its bytes, then size (f64), mtime and ctime (in ns, each
 * as i64 high and u64 low halves: a file system with 64-bit seconds has times beyond 64 bits
 * of nanoseconds, which archives keep, docs/FORMAT.md) and inode (u64).
 */
const FIXED_BYTES = 4 + 8 + 16 + 16 + 8;
/** Records are packed into chunks of this size (a larger one for a record that does not fit). */
const CHUNK_BYTES = 1024 * 1024;
/** Packed records kept in memory before they move to the file. */
const MEMORY_BYTES = 4 * 1024 * 1024;

export class FilesRead {
  private count = 0;
  /** Full chunks still in memory, oldest first. */
  private chunks: Buffer[] = [];
  private current = Buffer.allocUnsafe(CHUNK_BYTES);
  private used = 0;
  /** The file the chunks moved to, each written as its length (u32) and its bytes; -1 before the first. */
  private fd = -1;
  private fileBytes = 0;

  constructor(private readonly memoryBytes = MEMORY_BYTES) {}

  /** How many files have been added. */
  get length(): number {
    return this.count;
  }

  add({ path, fingerprint }: FileRead): void {
    const pathBytes = nameToBytes(path);
    const recordBytes = FIXED_BYTES + pathBytes.length;
    if (this.used + recordBytes > this.current.length) this.startChunk(recordBytes);
    let at = this.current.writeUInt32LE(pathBytes.length, this.used);
    at += pathBytes.copy(this.current, at);
    at = this.current.writeDoubleLE(fingerprint.size, at);
    at = writeWideTime(this.current, fingerprint.mtimeNs, at);
    at = writeWideTime(this.current, fingerprint.ctimeNs, at);
    this.used = this.current.writeBigUInt64LE(fingerprint.inode, at);
    this.count++;
  }

  /** The files in the order they were added, `count` at a time (the last slice may hold fewer). */
  *slices(count: number): Generator<FileRead[]> {
    let slice: FileRead[] = [];
    for (const chunk of this.allChunks()) {
      for (const file of decodeChunk(chunk)) {
        slice.push(file);
        if (slice.length === count) {
          yield slice;
          slice = [];
        }
      }
    }
    if (slice.length > 0) yield slice;
  }

  /** Gives back the file, if there is one; the list is not used afterwards. */
  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private startChunk(recordBytes: number): void {
    this.chunks.push(this.current.subarray(0, this.used));
    if (this.chunks.reduce((bytes, chunk) => bytes + chunk.length, 0) > this.memoryBytes) this.moveChunksToFile();
    this.current = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, recordBytes));
    this.used = 0;
  }

  private moveChunksToFile(): void {
    try {
      if (this.fd < 0) this.fd = openNamelessFile();
      for (const chunk of this.chunks) {
        const length = Buffer.alloc(4);
        length.writeUInt32LE(chunk.length);
        this.writeAll(length);
        this.writeAll(chunk);
      }
    } catch (error) {
      throw new FilesReadListError(error);
    }
    this.chunks = [];
  }

  private writeAll(bytes: Buffer): void {
    let written = 0;
    while (written < bytes.length) written += writeSync(this.fd, bytes, written, bytes.length - written, this.fileBytes + written);
    this.fileBytes += bytes.length;
  }

  private *allChunks(): Generator<Buffer> {
    for (let position = 0; position < this.fileBytes; ) {
      const length = this.readAll(Buffer.allocUnsafe(4), position).readUInt32LE();
      yield this.readAll(Buffer.allocUnsafe(length), position + 4);
      position += 4 + length;
    }
    yield* this.chunks;
    yield this.current.subarray(0, this.used);
  }

  private readAll(into: Buffer, position: number): Buffer {
    let filled = 0;
    while (filled < into.length) {
      let bytesRead: number;
      try {
        bytesRead = readSync(this.fd, into, filled, into.length - filled, position + filled);
      } catch (error) {
        throw new FilesReadListError(error);
      }
      if (bytesRead === 0) throw new FilesReadListError(new Error(`it ended at byte ${position + filled} of ${this.fileBytes}`));
      filled += bytesRead;
    }
    return into;
  }
}

function* decodeChunk(chunk: Buffer): Generator<FileRead> {
  for (let at = 0; at < chunk.length; ) {
    const pathEnd = at + 4 + chunk.readUInt32LE(at);
    const path = nameFromBytes(chunk.subarray(at + 4, pathEnd));
    const fingerprint = {
      size: chunk.readDoubleLE(pathEnd),
      mtimeNs: readWideTime(chunk, pathEnd + 8),
      ctimeNs: readWideTime(chunk, pathEnd + 24),
      inode: chunk.readBigUInt64LE(pathEnd + 40),
    };
    yield { path, fingerprint };
    at = pathEnd + FIXED_BYTES - 4;
  }
}

function writeWideTime(buffer: Buffer, ns: bigint, at: number): number {
  return buffer.writeBigUInt64LE(BigInt.asUintN(64, ns), buffer.writeBigInt64LE(ns >> 64n, at));
}

function readWideTime(buffer: Buffer, at: number): bigint {
  return (buffer.readBigInt64LE(at) << 64n) | buffer.readBigUInt64LE(at + 8);
}

/** A file open for reading and writing whose name is already gone. */
function openNamelessFile(): number {
  const folder = mkdtempSync(join(tmpdir(), 'preserve-files-read-'));
  const path = join(folder, 'list');
  const fd = openSync(path, 'wx+', 0o600);
  unlinkSync(path);
  rmdirSync(folder);
  return fd;
}
