/**
 * Decrypted blocks, kept in an LRU bounded in bytes (--cache-size). A block that several
 * readers (or a reader and the readahead) want at once is fetched and decrypted once.
 */
import type { BlockSource, ChunkRef } from '../src/archive/index.js';
import { type BlockId, idToHex } from '../src/store/ids.js';
import { OnDemandCache } from './on-demand-cache.js';

export class BlockCache implements BlockSource {
  private readonly blocks: OnDemandCache<Buffer>;

  constructor(
    private readonly source: BlockSource,
    readonly maxBytes: number,
  ) {
    this.blocks = new OnDemandCache<Buffer>({
      maxSize: maxBytes,
      // Chunks are never empty (docs/FORMAT.md), so every size is positive as lru-cache requires.
      sizeCalculation: (block) => block.length,
    });
  }

  readBlock(id: BlockId, length?: number): Promise<Buffer> {
    return this.blocks.get(idToHex(id), () => this.source.readBlock(id, length));
  }

  /** Starts fetching a block that will probably be read soon. */
  prefetch(chunk: ChunkRef): void {
    // A failed fetch is not cached, so the read that needs this block fetches it again and
    // reports the failure with the file's path; nothing is lost by ignoring it here.
    this.readBlock(chunk.id, chunk.length).catch(() => undefined);
  }

  /** Drops a block that will probably not be read again (the kernel keeps its pages). */
  forget(id: BlockId): void {
    this.blocks.forget(idToHex(id));
  }
}
