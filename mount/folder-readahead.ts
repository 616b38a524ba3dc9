/**
 * Readahead across a folder. tar, cp -a and rsync read a folder's files one after the
 * other in listing order, and most files are small: a single block. Fetched only when its
 * file is read, each block would make the reader wait for the backend and the decryption
 * in turn; so reading a file starts fetching the first block of the files that follow it.
 */
import type { BlockCache } from './block-cache.js';
import type { Listing } from './folder-cache.js';

export class FolderReadahead {
  /** Per listing: the first blocks of entries below this position were already asked for. */
  private readonly askedUntil = new WeakMap<Listing, number>();

  constructor(
    private readonly cache: Pick<BlockCache, 'prefetch'>,
    /** How many entries past the one being read to fetch the first block of. */
    private readonly entries: number,
  ) {}

  /** The entry at `position` of `folder` is being read. */
  reading(folder: Listing, position: number): void {
    const end = Math.min(position + 1 + this.entries, folder.entries.length);
    const asked = this.askedUntil.get(folder) ?? 0;
    // Reading on from where earlier readahead stopped asks only for the new entries;
    // after a jump (back, or far ahead) everything in reach is asked for again.
    const start = asked > position && asked <= end ? asked : position + 1;
    for (let index = start; index < end; index++) {
      const entry = folder.entries[index];
      const first = entry?.type === 'file' ? entry.chunks[0] : undefined;
      if (first) this.cache.prefetch(first);
    }
    this.askedUntil.set(folder, end);
  }
}
