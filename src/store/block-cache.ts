/**
 * Decrypted blocks, kept in an LRU bounded in bytes: the mount's (--cache-size), and the
 * few small ones restore and dump keep (withRecentBlocks). A block that several readers (or a
 * reader and the readahead) want at once is fetched and decrypted once.
 */
import type { BlockSource, ChunkRef } from '../archive/index.js';
import { type BlockId, idToHex } from './ids.js';
import { OnDemandCache } from './on-demand-cache.js';

export class BlockCache implements BlockSource {
  private readonly blocks: OnDemandCache<Buffer>;

  /** `maxBlockBytes`: a larger block is handed to those who asked for it, not kept. */
  constructor(
    private readonly source: BlockSource,
    readonly maxBytes: number,
    maxBlockBytes = maxBytes,
  ) {
    this.blocks = new OnDemandCache<Buffer>({
      maxSize: maxBytes,
      maxEntrySize: maxBlockBytes,
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

/** What restore and dump keep of the blocks they used last, and the largest block they keep. */
const RECENT_BLOCKS_BYTES = 8 * 1024 * 1024;
const RECENT_BLOCK_MAX_BYTES = 128 * 1024;

/**
 * The source's blocks, the small ones among those used last kept: files with the same
 * content share their blocks, and a restore or a dump fetched and authenticated such a
 * block again for each file (a million files of one block: a million fetches).
 */
export function withRecentBlocks(source: BlockSource): BlockCache {
  return new BlockCache(source, RECENT_BLOCKS_BYTES, RECENT_BLOCK_MAX_BYTES);
}
