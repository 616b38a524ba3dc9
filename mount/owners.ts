/**
 * Which uid and gid the mount shows for an archive's entries (SPEC §5 Owners): by
 * default the local id of the user or group of the same name, as recorded in the
 * archive's tables; the archive's own number with --numeric-ids or when the name is not
 * known locally; one forced id with --uid / --gid.
 */
import type { ArchiveMetadata } from '../src/archive/index.js';
import { type Accounts, idMapper } from '../src/owners/index.js';

export interface OwnerOptions {
  /** Show the numbers recorded in the archive, ignoring its name tables. */
  readonly numericIds: boolean;
  /** Show this uid for every entry. */
  readonly uid?: number;
  /** Show this gid for every entry. */
  readonly gid?: number;
}

export interface OwnerMapping {
  readonly uid: (archiveUid: number) => number;
  readonly gid: (archiveGid: number) => number;
}

const same = (id: number): number => id;

export function ownerMapping(metadata: ArchiveMetadata, accounts: Accounts, options: OwnerOptions): OwnerMapping {
  const byName = !options.numericIds;
  return {
    uid: pick(options.uid, byName ? idMapper(metadata.userNames, accounts.users) : same),
    gid: pick(options.gid, byName ? idMapper(metadata.groupNames, accounts.groups) : same),
  };
}

function pick(forced: number | undefined, mapped: (id: number) => number): (id: number) => number {
  return forced === undefined ? mapped : () => forced;
}
