/**
 * Reads of one file of the mount: ranged reads through the block cache (FileContent
 * finds the covering blocks by binary search), and readahead while the reader moves
 * forward.
 */
import { type ChunkRef, FileContent, type FileEntry } from '../src/archive/index.js';
import type { BlockCache } from '../src/store/block-cache.js';

export class FileReader {
  private readonly content: FileContent;
  /** The last block the reader asked for, -1 before the first read. */
  private lastBlock = -1;
  /** Blocks below this index have already been asked for by the readahead. */
  private aheadUntil = 0;
  /** Blocks below this index have been dropped from the cache behind a forward reader. */
  private behindUntil = 0;

  constructor(
    /** Path inside the mount, for reports. */
    readonly path: string,
    private readonly entry: FileEntry,
    private readonly cache: BlockCache,
    /** How many blocks past the current one to fetch while reading forward. */
    private readonly readahead: number,
  ) {
    this.content = new FileContent(entry, cache);
  }

  /** The bytes at offset, as views into blocks (FileContent.read). */
  read(offset: number, length: number): Promise<Buffer[]> {
    if (length > 0 && offset < this.entry.size) this.readAhead(offset, length);
    return this.content.read(offset, length);
  }

  /**
   * The kernel sends 128 KiB requests, several at once and not always in order, so a
   * read counts as moving forward when it starts in or next to the last block read.
   */
  private readAhead(offset: number, length: number): void {
    const first = this.content.chunkIndexAt(offset);
    const last = this.content.chunkIndexAt(Math.min(offset + length, this.entry.size) - 1);
    const forward = first >= this.lastBlock - 1 && first <= this.lastBlock + 1;
    if (!forward) {
      this.lastBlock = last;
      this.aheadUntil = last + 1;
      return;
    }
    this.lastBlock = Math.max(this.lastBlock, last);
    // Blocks more than one behind this read were served by the reads before it, and the
    // kernel keeps those pages: dropped, their memory is used again for the blocks ahead.
    for (let index = this.behindUntil; index < first - 1; index++) this.cache.forget((this.entry.chunks[index] as ChunkRef).id);
    this.behindUntil = Math.max(this.behindUntil, first - 1);
    const end = Math.min(this.lastBlock + 1 + this.readahead, this.entry.chunks.length);
    for (let index = Math.max(this.lastBlock + 1, this.aheadUntil); index < end; index++) {
      this.cache.prefetch(this.entry.chunks[index] as ChunkRef);
    }
    this.aheadUntil = Math.max(this.aheadUntil, end);
  }
}
