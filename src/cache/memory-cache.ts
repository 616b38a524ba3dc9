import type { ChunkRef } from '../archive/index.js';
import type { CachedFile, ChunkListCache } from './file-cache.js';
import { type FileFingerprint, sameFingerprint } from './fingerprint.js';

/**
 * The cache for runs without a cache folder (--no-cache): it lives only for one run, so
 * that re-walking after the rescan still reads only the files that changed.
 */
export class MemoryFileCache implements ChunkListCache {
  private readonly files = new Map<string, CachedFile>();

  async lookup(path: string, fingerprint: FileFingerprint): Promise<readonly ChunkRef[] | undefined> {
    const file = this.files.get(path);
    return file && sameFingerprint(file.fingerprint, fingerprint) ? file.chunks : undefined;
  }

  async remember(path: string, file: CachedFile): Promise<void> {
    this.files.set(path, file);
  }

  /** Nothing outlives the run, so there is nothing to forget. */
  async forgetUnseen(): Promise<void> {}
}
