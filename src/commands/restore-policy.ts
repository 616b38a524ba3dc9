/**
 * restore --overwrite: what a restore does with a file or symlink already at an entry's
 * path in the target. restic's four policies (0.17), so that an interrupted restore can
 * be run again without fetching what it already wrote, and a restore into a folder
 * holding newer work can leave that work alone. Pure: the caller looks at the target.
 */
import { type ExtendedAttribute, type FileEntry, NO_XATTRS, type SymlinkEntry } from '../archive/index.js';

export const OVERWRITE_POLICIES = ['always', 'if-changed', 'if-newer', 'never'] as const;
export type OverwritePolicy = (typeof OVERWRITE_POLICIES)[number];

/** What lstat (and readlink, for a symlink) found at an entry's path. */
export interface ExistingEntry {
  readonly kind: 'file' | 'symlink' | 'other';
  readonly size: number;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtimeNs: bigint;
  /** A symlink's target, byte for byte as src/filenames holds names. */
  readonly linkTarget?: string;
  /** A file's extended attributes, when the caller read them (only if-changed looks at them, and only when some are to be set). */
  readonly xattrs?: readonly ExtendedAttribute[];
}

/** What a restore sets beyond the archive's mode and time. */
export interface Expected {
  /** The owner it gives the entry; undefined when it does not set owners (not root). */
  readonly owner?: { readonly uid: number; readonly gid: number };
  /** The extended attributes it sets on a file. */
  readonly xattrs: readonly ExtendedAttribute[];
}

/**
 * Whether restore leaves `existing` as it is rather than writing `entry` in its place.
 * - always: never kept (the entry is written anew).
 * - never: anything there is kept.
 * - if-newer: kept unless the archive's copy is newer.
 * - if-changed: kept when it already is what the restore would write: a file of the same
 *   size, time, mode (and owner, when restore sets owners) that has each extended
 *   attribute the restore sets, or a symlink to the same target. Attributes the file has
 *   beyond those do not count: a new file may get some of its own (a folder's default
 *   ACL, an SELinux label), which writing it again would not take away. Content is judged
 *   by size and time, as create's cache judges it; a file whose attributes alone differ is
 *   written anew, never changed in place (a file found in the target may be a hardlink to
 *   one outside it).
 * Times are compared to the microsecond, all a restore sets (restore-target.ts).
 */
export function keepsExisting(policy: OverwritePolicy, entry: FileEntry | SymlinkEntry, existing: ExistingEntry | undefined, expected: Expected): boolean {
  if (existing === undefined || policy === 'always') return false;
  if (policy === 'never') return true;
  if (policy === 'if-newer') return microsecondOf(entry.mtimeNs) <= microsecondOf(existing.mtimeNs);
  const { owner } = expected;
  if (owner !== undefined && (existing.uid !== owner.uid || existing.gid !== owner.gid)) return false;
  if (entry.type === 'symlink') return existing.kind === 'symlink' && existing.linkTarget === entry.target;
  return (
    existing.kind === 'file' &&
    existing.size === entry.size &&
    existing.mode === entry.mode &&
    microsecondOf(existing.mtimeNs) === microsecondOf(entry.mtimeNs) &&
    hasEach(existing.xattrs ?? NO_XATTRS, expected.xattrs)
  );
}

function hasEach(found: readonly ExtendedAttribute[], wanted: readonly ExtendedAttribute[]): boolean {
  return wanted.every(({ name, value }) => found.some((xattr) => xattr.name === name && xattr.value.equals(value)));
}

/** The microsecond a time lies in: floor division, times before 1970 being negative. */
export function microsecondOf(ns: bigint): bigint {
  const whole = ns / 1000n;
  return ns < 0n && whole * 1000n !== ns ? whole - 1n : whole;
}
