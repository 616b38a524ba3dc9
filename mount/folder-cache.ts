/**
 * Folder listings (decoded trees) fetched on first visit and kept in an LRU. The kernel
 * names every file by its full path, so each lookup walks the folders above it: they
 * must stay in memory, indexed by name. Trees are content-addressed, so identical
 * folders (in one archive or across archives) share one listing.
 */
import { LRUCache } from 'lru-cache';
import type { Entry, TreeSource } from '../src/archive/index.js';
import { type TreeId, idToHex } from '../src/store/ids.js';

/**
 * Entries kept decoded (a few hundred bytes each). lru-cache does not keep a value larger
 * than the whole cache, so a folder of more entries than this is decoded again on every
 * lookup inside it: the bound is generous for that reason.
 */
const MAX_CACHED_ENTRIES = 1024 * 1024;

export interface Listing {
  /** Sorted by name, as readdir shows them; tar, cp -a and rsync read files in this order. */
  readonly entries: readonly Entry[];
  /** Where each name is in `entries`: lookups, and readahead across the folder. */
  readonly positions: ReadonlyMap<string, number>;
}

export function entryNamed(listing: Listing, name: string): Entry | undefined {
  const position = listing.positions.get(name);
  return position === undefined ? undefined : listing.entries[position];
}

export class FolderCache {
  private readonly listings: LRUCache<string, Listing, TreeId>;

  constructor(trees: TreeSource, maxEntries = MAX_CACHED_ENTRIES) {
    this.listings = new LRUCache<string, Listing, TreeId>({
      maxSize: maxEntries,
      // +1 so an empty folder still has the positive size lru-cache requires.
      sizeCalculation: (listing) => listing.entries.length + 1,
      // An in-flight fetch evicted by a full cache still completes for its readers.
      ignoreFetchAbort: true,
      fetchMethod: async (_key, _stale, { context }) => {
        const entries = await trees.readTree(context);
        return { entries, positions: new Map(entries.map((entry, position) => [entry.name, position])) };
      },
    });
  }

  async list(tree: TreeId): Promise<Listing> {
    const listing = await this.listings.fetch(idToHex(tree), { context: tree });
    // fetch gives undefined only for an aborted fetch; ignoreFetchAbort rules that out.
    if (listing === undefined) throw new Error(`folder ${idToHex(tree)} was not fetched`);
    return listing;
  }
}
