/**
 * A worker thread of the source reader (source-reader.ts), with synchronous calls, which
 * cost a fraction of the thread-pool round trips they replace. `scanFolders` lists folders,
 * lstats their children and digests the result. The default task reads each small file of a batch whole,
 * checks that its metadata is still what the walk saw, cuts it into chunks and seals them;
 * a file that changed is answered as such, and the main thread reads it the careful way.
 */
import { createHash } from 'node:crypto';
import { type BigIntStats, closeSync, fstatSync, lstatSync, openSync, readSync, statSync } from 'node:fs';
import { workerData } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { fingerprintOf, sameFingerprint } from '../cache/fingerprint.js';
import { GearBoundaries } from '../chunker/gear.js';
import { type Sealed, encrypt } from '../crypto/siv.js';
import { fsPath, nameToBytes, readFolderNames } from '../filenames/index.js';
import { concatMovable } from '../threads/movable.js';
import { childPath } from './child-path.js';
import { type FailureValue, type FileOutcome, type FolderListing, type RawStats, STAT_FIELDS, type ScanTask, type SmallFileBatch, type SmallFileRequest, type SourceSetup } from './source-protocol.js';

const setup = workerData as SourceSetup;
const blockKeys = { sivKey: Buffer.from(setup.blockKeys.sivKey), cipherKey: Buffer.from(setup.blockKeys.cipherKey) };
const boundaries = new GearBoundaries(setup.gear, setup.sizes);
const EMPTY = Buffer.alloc(0);
const NUL = Buffer.alloc(1);

/** The folders asked about meanwhile, in one task (Coalesced in source-reader.ts). */
export function scanFolders({ tasks }: { readonly tasks: readonly ScanTask[] }): FolderListing[] {
  return tasks.map(scanFolder);
}

function scanFolder({ path, dereference }: ScanTask): FolderListing {
  let names: string[];
  try {
    names = readFolderNames(path);
  } catch (error) {
    return { failure: failureValue(error) };
  }
  const stats = new BigInt64Array(names.length * STAT_FIELDS);
  const failures: { index: number; failure: FailureValue }[] = [];
  const digest = createHash('sha256');
  names.forEach((name, index) => {
    digest.update(nameToBytes(name)).update(NUL);
    try {
      const entryPath = fsPath(childPath(path, name));
      stats.set(rawStats(dereference ? statOrLink(entryPath) : lstatSync(entryPath, { bigint: true })), index * STAT_FIELDS);
    } catch (error) {
      const failure = failureValue(error);
      failures.push({ index, failure });
      digest.update(`${index} ${failure.code ?? failure.message}`).update(NUL);
    }
  });
  digest.update(new Uint8Array(stats.buffer));
  return { names, stats, failures, digest: digest.digest() };
}

/** lstat of each path, in order; null for one that cannot be (any more). */
export function lstatFiles({ paths }: { readonly paths: readonly string[] }): (RawStats | null)[] {
  return paths.map((path) => {
    const info = lstatSync(fsPath(path), { bigint: true, throwIfNoEntry: false });
    return info ? rawStats(info) : null;
  });
}

function rawStats(info: BigIntStats): RawStats {
  return [info.dev, info.ino, info.mode, info.nlink, info.uid, info.gid, info.size, info.mtimeNs, info.ctimeNs];
}

/** What a link points to; the link itself when it dangles or loops (create keeps it as a link). */
function statOrLink(path: string | Buffer): BigIntStats {
  try {
    return statSync(path, { bigint: true });
  } catch (error) {
    const { code } = error as NodeJS.ErrnoException;
    if (code === 'ENOENT' || code === 'ELOOP') return lstatSync(path, { bigint: true });
    throw error;
  }
}

function failureValue(error: unknown): FailureValue {
  const { code, message } = error as NodeJS.ErrnoException;
  return { message, ...(code === undefined ? {} : { code }) };
}

/**
 * The batch's result, its buffer moved to the main thread rather than copied: a copy cost
 * a second allocation of every byte, and the original lingered here until this thread's
 * next collection.
 */
export default function readBatch(task: { readonly files: readonly SmallFileRequest[] }): ReturnType<typeof move> {
  const sealed: Sealed[] = [];
  const outcomes = task.files.map((file) => {
    const outcome = readFile(file);
    if ('chunks' in outcome) {
      sealed.push(...outcome.chunks);
      return { chunkLengths: outcome.chunks.map((chunk) => chunk.ciphertext.length) };
    }
    return outcome;
  });
  const batch: SmallFileBatch = { outcomes, sealed: concatMovable(sealed.flatMap((s) => [s.id, s.ciphertext])) };
  return move({ [transferableSymbol]: batch.sealed.buffer, [valueSymbol]: batch });
}

function readFile({ path, fingerprint }: SmallFileRequest): { chunks: Sealed[] } | Exclude<FileOutcome, { chunkLengths: readonly number[] }> {
  try {
    const content = readIfUnchanged(path, fingerprint);
    if (!content) return { changed: true };
    return { chunks: boundaries.split(content).map((chunk) => encrypt(blockKeys, EMPTY, chunk)) };
  } catch (error) {
    return { failure: failureValue(error) };
  }
}

/**
 * One read buffer for every file this thread reads, as large as the largest so far (small
 * files only come here): a file's content lives only until its chunks are sealed, and a
 * buffer per file was an allocation, and page faults, for every byte read.
 */
let readBuffer = Buffer.allocUnsafeSlow(0);

/** The whole content (a view of readBuffer), or undefined when size or metadata after reading differ from the walk's. */
function readIfUnchanged(path: string, fingerprint: SmallFileRequest['fingerprint']): Buffer | undefined {
  const fd = openSync(fsPath(path), 'r');
  try {
    // One byte more than expected, to see a file that grew.
    const wanted = fingerprint.size + 1;
    if (readBuffer.length < wanted) readBuffer = Buffer.allocUnsafeSlow(wanted);
    let filled = 0;
    for (;;) {
      const read = readSync(fd, readBuffer, filled, wanted - filled, null);
      filled += read;
      if (read === 0 || filled === wanted) break;
    }
    const same = filled === fingerprint.size && sameFingerprint(fingerprint, fingerprintOf(fstatSync(fd, { bigint: true })));
    return same ? readBuffer.subarray(0, filled) : undefined;
  } finally {
    closeSync(fd);
  }
}
