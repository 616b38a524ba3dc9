/**
 * What every kind of create does around the content it stores: first the archive's name
 * is checked and the key proven, last the archive object, the commit point, is written
 * once every block and tree it refers to is on the backend.
 */
import { hostname } from 'node:os';
import { type ArchiveMetadata, type ArchiveTotals, type CatalogListing, type DirectoryEntry, unsafeNameReason } from '../archive/index.js';
import { UsageError } from '../errors/index.js';
import { namesFor, readSystemAccounts } from '../owners/index.js';
import type { BackendLock, Repository } from '../repository/index.js';
import type { ArchiveId } from '../store/ids.js';

/** The archives on the backend, once NAME is known to be a name an archive may take and none has. */
export async function claimArchiveName(catalog: Repository['catalog'], name: string): Promise<CatalogListing['archives']> {
  const badName = unsafeNameReason(name);
  if (badName) throw new UsageError(`archive name ${JSON.stringify(name)} is not allowed: it is ${badName}`);
  // Listing checks the key too: a KeyError when no archive name decrypts.
  const { archives } = await catalog.list();
  await catalog.assertNameFree(name);
  return archives;
}

export interface ArchiveContent {
  readonly name: string;
  readonly sourcePath: string;
  readonly root: DirectoryEntry;
  readonly totals: Omit<ArchiveTotals, 'storedBytes'>;
  /** The owners of the entries, whose names the archive records. */
  readonly uids: Iterable<number>;
  readonly gids: Iterable<number>;
  readonly linkGroupSizes: ReadonlyMap<number, number>;
}

/** Writes the archive of `content`, whose blocks and trees may still be queued, under `lock`. */
export async function commitArchive(
  repository: Pick<Repository, 'catalog' | 'flush' | 'storedBytes'>,
  lock: BackendLock,
  content: ArchiveContent,
): Promise<{ id: ArchiveId; metadata: ArchiveMetadata }> {
  // Blocks and trees are written behind the walk; the archive may refer only to stored ones.
  await repository.flush();
  const accounts = await readSystemAccounts();
  const metadata: ArchiveMetadata = {
    name: content.name,
    sourcePath: content.sourcePath,
    hostname: hostname(),
    createdAtNs: BigInt(Date.now()) * 1_000_000n,
    root: { ...content.root, name: '' },
    totals: { ...content.totals, storedBytes: repository.storedBytes },
    userNames: namesFor(content.uids, accounts.users),
    groupNames: namesFor(content.gids, accounts.groups),
    linkGroupSizes: content.linkGroupSizes,
  };
  // The archive may only reference blocks that gc could not have taken meanwhile.
  await lock.assertHeld();
  return { id: await repository.catalog.write(metadata), metadata };
}
