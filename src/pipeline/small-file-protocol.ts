/** The tasks and results passed between the small-file reader and its worker threads. */
import type { FileFingerprint } from '../cache/fingerprint.js';
import type { ChunkSizes } from '../chunker/gear.js';
import type { KeySet } from '../crypto/keys.js';

/** What every worker is started with. */
export interface SmallFileSetup {
  readonly blockKeys: KeySet;
  readonly gear: Int32Array;
  readonly sizes: ChunkSizes;
}

export interface SmallFileRequest {
  readonly path: string;
  /** The walk's lstat of the file: what was read must still match it. */
  readonly fingerprint: FileFingerprint;
}

/**
 * Per file, in request order: the lengths of its chunks (their ids and ciphertexts are in
 * the batch's buffer, in order); `changed` when the file is not what the walk saw; or the
 * failure to read it. A failure is a value: an Error crossing threads loses its code.
 */
export type FileOutcome =
  | { readonly chunkLengths: readonly number[] }
  | { readonly changed: true }
  | { readonly failure: { readonly code?: string; readonly message: string } };

export interface SmallFileBatch {
  readonly outcomes: readonly FileOutcome[];
  /** For every chunk of every file, in order: its id (SIV_LENGTH bytes), then its ciphertext. */
  readonly sealed: Uint8Array;
}
