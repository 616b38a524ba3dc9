import type { Level } from 'level';
import { type BlockId, ID_LENGTH, asId } from '../store/ids.js';
import { openDatabase } from './file-cache.js';

/**
 * For `copy` between repositories of different keys: which block of the destination each
 * copied block of the source became. Its id there is known only by sealing its content
 * with the destination's key, so without this a copy would read and seal every block
 * again each night, also those copied the night before. An entry is only a hint: the
 * caller checks the destination still has the block (gc may have removed it since).
 */
export class BlockIdMap {
  private constructor(private readonly db: Level<Buffer, Buffer>) {}

  /** Opens (creating if needed) the map in `folder`, one per pair of repositories. */
  static async open(folder: string): Promise<BlockIdMap> {
    return new BlockIdMap(await openDatabase(folder));
  }

  /** The copy of each source block, in one read of the database (a folder's blocks at once). */
  async getMany(sources: readonly BlockId[]): Promise<(BlockId | undefined)[]> {
    const copies = await this.db.getMany([...sources]);
    // Anything but an id (a damaged database) is no hint at all.
    return copies.map((copy) => (copy?.length === ID_LENGTH ? asId(copy, 'block') : undefined));
  }

  async set(source: BlockId, copy: BlockId): Promise<void> {
    await this.db.put(source, copy);
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
