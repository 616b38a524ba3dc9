/** The tasks and results passed between the source reader and its worker threads. */
import type { FileFingerprint } from '../cache/fingerprint.js';
import type { ChunkSizes } from '../chunker/gear.js';
import type { KeySet } from '../crypto/keys.js';

/** What every worker is started with: how to cut and seal blocks. */
export interface SourceSetup {
  readonly blockKeys: KeySet;
  readonly gear: Int32Array;
  readonly sizes: ChunkSizes;
}

/** A failure is a value: an Error crossing threads loses its class and code. */
export interface FailureValue {
  readonly code?: string;
  readonly message: string;
}

/** dev, ino, mode, nlink, uid, gid, size, mtimeNs, ctimeNs: what create keeps of an lstat. */
export type RawStats = readonly [bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint];
/** RawStats's length, and the stride of a listing's packed stats. */
export const STAT_FIELDS = 9;
/** Where the mode and the size are in RawStats. */
export const MODE_FIELD = 2;
export const SIZE_FIELD = 6;

export interface ScanTask {
  readonly path: string;
  /** stat instead of lstat, falling back to lstat for a dangling link or a loop. */
  readonly dereference: boolean;
}

/**
 * A folder's names as readdir gave them, with their stats packed STAT_FIELDS to a name (one
 * copy between threads, where an array of tuples cost a structured clone of every value),
 * the failures to stat some of them, and a digest of it all: equal digests mean that no
 * name and no metadata changed (create's cache reuses such a folder's tree whole).
 */
export type FolderListing =
  | {
      readonly names: readonly string[];
      readonly stats: BigInt64Array;
      readonly failures: readonly { readonly index: number; readonly failure: FailureValue }[];
      readonly digest: Uint8Array;
    }
  | { readonly failure: FailureValue };

export interface SmallFileRequest {
  readonly path: string;
  /** The walk's lstat of the file: what was read must still match it. */
  readonly fingerprint: FileFingerprint;
}

/**
 * Per file, in request order: the lengths of its chunks (their ids and ciphertexts are in
 * the batch's buffer, in order); `changed` when the file is not what the walk saw; or the
 * failure to read it.
 */
export type FileOutcome = { readonly chunkLengths: readonly number[] } | { readonly changed: true } | { readonly failure: FailureValue };

export interface SmallFileBatch {
  readonly outcomes: readonly FileOutcome[];
  /** For every chunk of every file, in order: its id (SIV_LENGTH bytes), then its ciphertext. */
  readonly sealed: Uint8Array;
}
