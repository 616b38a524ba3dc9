/**
 * Decrypted blocks, kept in an LRU bounded in bytes (--cache-size). lru-cache's fetch
 * de-duplicates in-flight work: a block that several readers (or a reader and the
 * readahead) want at once is fetched and decrypted once.
 */
import { LRUCache } from 'lru-cache';
import type { BlockSource } from '../src/archive/index.js';
import { type BlockId, idToHex } from '../src/store/ids.js';

export class BlockCache implements BlockSource {
  private readonly blocks: LRUCache<string, Buffer, BlockId>;

  constructor(source: BlockSource, maxBytes: number) {
    this.blocks = new LRUCache<string, Buffer, BlockId>({
      maxSize: maxBytes,
      // Chunks are never empty (docs/FORMAT.md), so every size is positive as lru-cache requires.
      sizeCalculation: (block) => block.length,
      // Without this, a fetch still in flight when the cache fills up is evicted and
      // fails with "evicted"; with it, the fetch completes and its readers get the block.
      ignoreFetchAbort: true,
      fetchMethod: (_key, _stale, { context }) => source.readBlock(context),
    });
  }

  async readBlock(id: BlockId): Promise<Buffer> {
    const block = await this.blocks.fetch(idToHex(id), { context: id });
    // fetch gives undefined only for an aborted fetch; ignoreFetchAbort rules that out.
    if (block === undefined) throw new Error(`block ${idToHex(id)} was not fetched`);
    return block;
  }

  /** Starts fetching a block that will probably be read soon. */
  prefetch(id: BlockId): void {
    // A failed fetch is not cached, so the read that needs this block fetches it again and
    // reports the failure with the file's path; nothing is lost by ignoring it here.
    this.readBlock(id).catch(() => undefined);
  }
}
