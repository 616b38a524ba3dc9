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

export interface ScanTask {
  readonly path: string;
  /** stat instead of lstat, falling back to lstat for a dangling link or a loop. */
  readonly dereference: boolean;
}

/** A folder's names as readdir gave them, each with its stats or the failure to get them. */
export type FolderListing =
  | { readonly names: readonly string[]; readonly stats: readonly (RawStats | { readonly failure: FailureValue })[] }
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
