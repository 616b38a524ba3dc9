import type { ChunkRef } from '../archive/index.js';
import type { CacheQuery, CachedFile, ChunkListCache } from './file-cache.js';
import { sameFingerprint } from './fingerprint.js';

/**
 * The cache for runs without a cache folder (--no-cache): it lives only for one run, so
 * that re-walking after the rescan still reads only the files that changed.
 */
export class MemoryFileCache implements ChunkListCache {
  private readonly files = new Map<string, CachedFile>();

  async lookup(files: readonly CacheQuery[]): Promise<(readonly ChunkRef[] | undefined)[]> {
    return files.map(({ path, fingerprint }) => {
      const file = this.files.get(path);
      return file && sameFingerprint(file.fingerprint, fingerprint) ? file.chunks : undefined;
    });
  }

  remember(path: string, file: CachedFile): void {
    this.files.set(path, file);
  }

  /** Nothing outlives the run, so there is nothing to forget. */
  async forgetUnseen(): Promise<void> {}
}
