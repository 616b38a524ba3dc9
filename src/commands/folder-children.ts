/**
 * A folder's children of one kind, in tree order, each made (its paths and stats) only as
 * it is taken. Made all at once, a folder's files were held while they were stored, some
 * 400 bytes each (the stats' nine BigInts most of it): 120 MiB of a folder of 300,000.
 */
import { inTreeOrder } from '../archive/index.js';
import { relativeChildPath } from '../filenames/index.js';
import { childPath } from '../pipeline/child-path.js';
import type { EntryStats } from '../pipeline/entry-stats.js';
import type { Listing } from '../pipeline/source-reader.js';
import type { ExcludeTest } from '../selection/index.js';
import { SourceError } from './source.js';

/** The children a walk leaves out: those an --exclude pattern matches by path, and with --exclude-larger-than the larger regular files. */
export interface Exclusions {
  readonly isExcluded: ExcludeTest;
  readonly maxFileSize?: bigint;
}

export interface Child {
  readonly name: string;
  readonly path: string;
  readonly relativePath: string;
  readonly info: EntryStats;
}

export class FolderChildren implements Iterable<Child | SourceError> {
  private constructor(
    private readonly folder: { readonly path: string; readonly relativePath: string },
    private readonly listing: Listing,
    /** Positions in the listing, in tree order. */
    private readonly order: readonly number[],
  ) {}

  /**
   * The subfolders (`ofFolders`) or the other children of a folder, but those excluded. A
   * child whose stats could not be read is not known to be a folder, so it is among the others.
   */
  static of(folder: { readonly path: string; readonly relativePath: string }, listing: Listing, ofFolders: boolean, exclusions: Exclusions): FolderChildren {
    const { isExcluded, maxFileSize } = exclusions;
    const kept: { readonly name: string; readonly position: number }[] = [];
    listing.names.forEach((name, position) => {
      if (listing.isFolder(position) !== ofFolders || isExcluded(relativeChildPath(folder.relativePath, name))) return;
      if (maxFileSize !== undefined && (listing.fileSize(position) ?? 0n) > maxFileSize) return;
      kept.push({ name, position });
    });
    return new FolderChildren(folder, listing, inTreeOrder(kept).map(({ position }) => position));
  }

  /** Each child with its stats, or the error that kept them from being read. */
  *[Symbol.iterator](): Iterator<Child | SourceError> {
    for (const position of this.order) {
      const name = this.listing.names[position] as string;
      const path = childPath(this.folder.path, name);
      const info = this.listing.stats(position);
      yield info instanceof Error ? new SourceError(path, info) : { name, path, relativePath: relativeChildPath(this.folder.relativePath, name), info };
    }
  }
}
