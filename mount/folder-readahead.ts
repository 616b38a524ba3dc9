/**
 * Readahead across a folder. tar, cp -a and rsync read a folder's files one after the
 * other in listing order, and most files are small: a single block. Fetched only when its
 * file is read, each block would make the reader wait for the backend and the decryption
 * in turn; so reading a file starts fetching the first block of the files that follow it.
 * Listing a folder likewise fetches the listings of the subfolders that follow it
 * (ReachWindow, used by view.ts with a reach of its own).
 */
import { type FileEntry, readChunk } from '../src/archive/index.js';
import type { BlockCache } from '../src/store/block-cache.js';
import type { Listing } from './folder-cache.js';

/** Called with the content of a file of one block, once fetched. */
export type WholeFileListener = (file: FileEntry, content: Buffer) => void;

/**
 * How far into each listing a reader has had entries asked for. A reader at a position
 * reaches the entries that follow it; reading on asks only for those that came into
 * reach, and after a jump (back, or far ahead) everything in reach is asked for again.
 */
export class ReachWindow {
  private readonly askedUntil = new WeakMap<Listing, number>();

  constructor(
    /** How many entries past a reader's position are in its reach. */
    private readonly entries: number,
    /**
     * How many bytes of first blocks the entries in reach may hold: the entry that reaches
     * this is the last in reach. As the reader moves on the reach never moves back.
     */
    private readonly bytes = Number.POSITIVE_INFINITY,
  ) {}

  /** The positions [start, end) of `folder` to ask for now that a reader is at `position` (-1: before the first). */
  newlyInReach(folder: Listing, position: number): [start: number, end: number] {
    const end = this.reachEnd(folder, position);
    const asked = this.askedUntil.get(folder) ?? 0;
    this.askedUntil.set(folder, end);
    return [asked > position && asked <= end ? asked : position + 1, end];
  }

  private reachEnd(folder: Listing, position: number): number {
    const end = Math.min(position + 1 + this.entries, folder.entries.length);
    let bytes = 0;
    for (let index = position + 1; index < end; index++) {
      if (bytes >= this.bytes) return index;
      const entry = folder.entries[index];
      if (entry?.type === 'file') bytes += entry.chunks[0]?.length ?? 0;
    }
    return end;
  }
}

export class FolderReadahead {
  private readonly window: ReachWindow;

  constructor(
    private readonly cache: Pick<BlockCache, 'prefetch' | 'readBlock'>,
    /** How many entries past the one being read to fetch the first block of. */
    entries: number,
    /** How many bytes those first blocks may hold at most (ReachWindow). */
    bytes: number,
  ) {
    this.window = new ReachWindow(entries, bytes);
  }

  /** The entry at `position` of `folder` is being read; `onWholeFile` hears of the files that follow it and are one block. */
  reading(folder: Listing, position: number, onWholeFile?: WholeFileListener): void {
    const [start, end] = this.window.newlyInReach(folder, position);
    for (let index = start; index < end; index++) {
      const entry = folder.entries[index];
      if (entry?.type !== 'file') continue;
      const first = entry.chunks[0];
      if (!first) continue;
      // A whole file is one block as long as the entry's size: content handed on past a
      // file's size would make it grow (readChunk checks the block's length against the
      // chunk's). A failure is reported by the read that needs the block, as after a prefetch.
      if (onWholeFile && entry.chunks.length === 1 && first.length === entry.size) {
        readChunk(this.cache, first).then((content) => onWholeFile(entry, content), () => undefined);
      } else {
        this.cache.prefetch(first);
      }
    }
  }
}
