/**
 * Reading the folder being backed up. A failure to read the source is a SourceError,
 * which create reports and skips; any other failure (storing, say) stops the run.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { fingerprintOf, sameFingerprint } from '../cache/index.js';
import { describeError } from '../errors/index.js';
import { fsPath } from '../filenames/index.js';
import type { EntryStats } from '../pipeline/entry-stats.js';

export class SourceError extends Error {
  constructor(
    readonly path: string,
    override readonly cause: unknown,
  ) {
    super(describeError(cause));
  }
}

export async function fromSource<T>(path: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw error instanceof SourceError ? error : new SourceError(path, error);
  }
}

/** Attempts at reading a file that keeps changing while it is read, before it is skipped. */
const READ_ATTEMPTS = 3;

/**
 * Reads a file with `consume` until one read sees the same metadata before and after it
 * (fstat on the open file), so the content matches the metadata recorded with it. The
 * walk's lstat serves as the first "before"; a file replaced since then shows a different
 * inode afterwards. Returns what consume produced and the file's metadata after that read.
 */
export async function readConsistently<T>(
  path: string,
  statInfo: EntryStats,
  consume: (file: FileHandle, size: number) => Promise<T>,
): Promise<{ result: T; info: EntryStats }> {
  let before: EntryStats = statInfo;
  for (let attempt = 1; attempt <= READ_ATTEMPTS; attempt++) {
    const handle = await fromSource(path, () => open(fsPath(path), 'r'));
    try {
      const result = await consume(handle, Number(before.size));
      const after = await fromSource(path, () => handle.stat({ bigint: true }));
      if (sameFingerprint(fingerprintOf(before), fingerprintOf(after))) return { result, info: after };
      before = after;
    } finally {
      await handle.close();
    }
  }
  throw new SourceError(path, new Error(`it changed while being read, ${READ_ATTEMPTS} times in a row`));
}
