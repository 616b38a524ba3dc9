/**
 * Folder listings (decoded trees) fetched on first visit and kept in an LRU. The kernel
 * names every file by its full path, so each lookup walks the folders above it: they
 * must stay in memory, indexed by name. Trees are content-addressed, so identical
 * folders (in one archive or across archives) share one listing.
 */
import type { Entry, TreeSource } from '../src/archive/index.js';
import { shownName } from '../src/filenames/index.js';
import { type TreeId, idToHex } from '../src/store/ids.js';
import { OnDemandCache } from '../src/store/on-demand-cache.js';

/**
 * Entries kept decoded (a few hundred bytes each). lru-cache does not keep a value larger
 * than the whole cache, so a folder of more entries than this is decoded again on every
 * lookup inside it: the bound is generous for that reason.
 */
const MAX_CACHED_ENTRIES = 1024 * 1024;

export interface Listing {
  /** Sorted by name, as readdir shows them; tar, cp -a and rsync read files in this order. */
  readonly entries: readonly Entry[];
  /**
   * Where each name is in `entries`, by the name as the kernel sees it (shownName:
   * fuse-native passes names as UTF-8 text, so a name that is not UTF-8 is shown, and
   * asked for, with its odd bytes as Latin-1 characters): lookups, and readahead across
   * the folder.
   */
  readonly positions: ReadonlyMap<string, number>;
}

export function entryNamed(listing: Listing, name: string): Entry | undefined {
  const position = listing.positions.get(name);
  return position === undefined ? undefined : listing.entries[position];
}

export class FolderCache {
  private readonly listings: OnDemandCache<Listing>;

  constructor(
    private readonly trees: TreeSource,
    maxEntries = MAX_CACHED_ENTRIES,
  ) {
    this.listings = new OnDemandCache<Listing>({
      maxSize: maxEntries,
      // +1 so an empty folder still has the positive size lru-cache requires.
      sizeCalculation: (listing) => listing.entries.length + 1,
    });
  }

  /** Starts fetching a listing that will probably be asked for soon. */
  prefetch(tree: TreeId): void {
    // A failure is not cached: the listing that needs it fetches it again and reports it.
    this.list(tree).catch(() => undefined);
  }

  list(tree: TreeId): Promise<Listing> {
    return this.listings.get(idToHex(tree), async () => {
      const entries = await this.trees.readTree(tree);
      return { entries, positions: new Map(entries.map((entry, position) => [shownName(entry.name), position])) };
    });
  }
}
