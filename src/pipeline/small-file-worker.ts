/**
 * A worker thread of the small-file reader (small-files.ts): reads each file of a batch
 * whole with synchronous calls, checks that its metadata is still what the walk saw, cuts
 * it into chunks and seals them. Anything unusual (a file that changed) is answered as
 * such, and the main thread reads that file the careful way.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { workerData } from 'node:worker_threads';
import { fingerprintOf, sameFingerprint } from '../cache/fingerprint.js';
import { GearBoundaries } from '../chunker/gear.js';
import { type Sealed, encrypt } from '../crypto/siv.js';
import type { FileOutcome, SmallFileBatch, SmallFileRequest, SmallFileSetup } from './small-file-protocol.js';

const setup = workerData as SmallFileSetup;
const blockKeys = { sivKey: Buffer.from(setup.blockKeys.sivKey), cipherKey: Buffer.from(setup.blockKeys.cipherKey) };
const boundaries = new GearBoundaries(setup.gear, setup.sizes);
const EMPTY = Buffer.alloc(0);

export default function readBatch(task: { readonly files: readonly SmallFileRequest[] }): SmallFileBatch {
  const sealed: Sealed[] = [];
  const outcomes = task.files.map((file) => {
    const outcome = readFile(file);
    if ('chunks' in outcome) {
      sealed.push(...outcome.chunks);
      return { chunkLengths: outcome.chunks.map((chunk) => chunk.ciphertext.length) };
    }
    return outcome;
  });
  return { outcomes, sealed: Buffer.concat(sealed.flatMap((s) => [s.id, s.ciphertext])) };
}

function readFile({ path, fingerprint }: SmallFileRequest): { chunks: Sealed[] } | Exclude<FileOutcome, { chunkLengths: readonly number[] }> {
  try {
    const content = readIfUnchanged(path, fingerprint);
    if (!content) return { changed: true };
    return { chunks: boundaries.split(content).map((chunk) => encrypt(blockKeys, EMPTY, chunk)) };
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    return { failure: { message, ...(code === undefined ? {} : { code }) } };
  }
}

/** The whole content, or undefined when size or metadata after reading differ from the walk's. */
function readIfUnchanged(path: string, fingerprint: SmallFileRequest['fingerprint']): Buffer | undefined {
  const fd = openSync(path, 'r');
  try {
    // One byte more than expected, to see a file that grew.
    const buffer = Buffer.allocUnsafe(fingerprint.size + 1);
    let filled = 0;
    for (;;) {
      const read = readSync(fd, buffer, filled, buffer.length - filled, null);
      filled += read;
      if (read === 0 || filled === buffer.length) break;
    }
    const same = filled === fingerprint.size && sameFingerprint(fingerprint, fingerprintOf(fstatSync(fd, { bigint: true })));
    return same ? buffer.subarray(0, filled) : undefined;
  } finally {
    closeSync(fd);
  }
}
