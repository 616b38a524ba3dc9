import type { BackupCache } from './file-cache.js';
import type { FolderRecord } from './folder-record.js';

/**
 * The cache for runs without a cache folder (--no-cache): it lives only for one run, so
 * that re-walking after the rescan still reads only the files that changed.
 */
export class MemoryFileCache implements BackupCache {
  private readonly folders = new Map<string, FolderRecord>();

  async lookup(folder: string): Promise<FolderRecord | undefined> {
    return this.folders.get(folder);
  }

  remember(folder: string, record: FolderRecord): void {
    this.folders.set(folder, record);
  }

  keep(): void {}

  /** Nothing outlives the run, so there is nothing to forget. */
  async forgetUnseen(): Promise<void> {}
}
