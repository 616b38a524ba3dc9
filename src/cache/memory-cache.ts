import type { BackupCache } from './file-cache.js';
import type { FolderRecord } from './folder-record.js';

/**
 * The cache for runs that keep nothing (--no-cache, and --dry-run over the cache folder's
 * records, which it reads and never writes): it lives only for one run, so that
 * re-walking after the rescan still reads only the files that changed.
 */
export class MemoryFileCache implements BackupCache {
  private readonly folders = new Map<string, FolderRecord>();

  /** `underneath`: looked up for folders this run has not recorded, never written. */
  constructor(private readonly underneath?: Pick<BackupCache, 'lookup'>) {}

  async lookup(folder: string): Promise<FolderRecord | undefined> {
    return this.folders.get(folder) ?? this.underneath?.lookup(folder);
  }

  remember(folder: string, record: FolderRecord): void {
    this.folders.set(folder, record);
  }

  keep(): void {}

  /** Nothing outlives the run, so there is nothing to forget. */
  async forgetUnseen(): Promise<void> {}
}
