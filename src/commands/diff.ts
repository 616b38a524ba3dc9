/**
 * diff: the entries added, removed and changed between two archives. Trees are content
 * addressed, so a folder whose tree id is the same in both is identical and skipped
 * without being fetched.
 */
import { type Entry, type ExtendedAttribute, type SnapshotDirectory, type Snapshot, compareNames } from '../archive/index.js';
import { constantTimeEqual } from '../crypto/index.js';

export type ChangeKind = 'added' | 'removed' | 'changed';
export type ChangedAspect = 'type' | 'content' | 'mode' | 'owner' | 'mtime' | 'target' | 'xattrs';

export interface Change {
  readonly kind: ChangeKind;
  /** Path inside the archives, without a leading '/'. */
  readonly path: string;
  readonly type: Entry['type'];
  /** For 'changed': what differs. */
  readonly aspects: readonly ChangedAspect[];
}

export async function diffArchives(before: Snapshot, after: Snapshot): Promise<Change[]> {
  const changes: Change[] = [];
  await diffDirectories(before.root, after.root, changes);
  return changes;
}

async function diffDirectories(before: SnapshotDirectory, after: SnapshotDirectory, changes: Change[]): Promise<void> {
  // Ids are public (they name objects on the backend), so this need not be constant-time;
  // it goes through the one comparison function anyway, so that every id comparison does.
  if (constantTimeEqual(before.entry.tree, after.entry.tree)) return;
  const [old, current] = await Promise.all([before.entries(), after.entries()]);
  let i = 0;
  let j = 0;
  while (i < old.length || j < current.length) {
    const a = old[i];
    const b = current[j];
    const order = a === undefined ? 1 : b === undefined ? -1 : compareNames(a.name, b.name);
    if (order < 0 && a) {
      await listAll('removed', before, a, changes);
      i++;
    } else if (order > 0 && b) {
      await listAll('added', after, b, changes);
      j++;
    } else if (a && b) {
      await diffEntries(before, a, after, b, changes);
      i++;
      j++;
    }
  }
}

async function diffEntries(
  beforeParent: SnapshotDirectory,
  a: Entry,
  afterParent: SnapshotDirectory,
  b: Entry,
  changes: Change[],
): Promise<void> {
  if (a.type !== b.type) {
    await listAll('removed', beforeParent, a, changes);
    await listAll('added', afterParent, b, changes);
    return;
  }
  const aspects = changedAspects(a, b);
  if (aspects.length > 0) changes.push({ kind: 'changed', path: afterParent.pathOf(b), type: b.type, aspects });
  if (a.type === 'directory' && b.type === 'directory') {
    await diffDirectories(beforeParent.subdirectory(a), afterParent.subdirectory(b), changes);
  }
}

/**
 * What differs between two entries of the same type. A folder's mtime is left out: it
 * changes whenever its content does, which the entries inside already report.
 */
function changedAspects(a: Entry, b: Entry): ChangedAspect[] {
  const aspects: ChangedAspect[] = [];
  if (a.type === 'file' && b.type === 'file' && !sameContent(a, b)) aspects.push('content');
  if (a.type === 'symlink' && b.type === 'symlink' && a.target !== b.target) aspects.push('target');
  if (a.mode !== b.mode) aspects.push('mode');
  if (a.uid !== b.uid || a.gid !== b.gid) aspects.push('owner');
  if (a.type !== 'directory' && a.mtimeNs !== b.mtimeNs) aspects.push('mtime');
  if (!sameXattrs(a.xattrs, b.xattrs)) aspects.push('xattrs');
  return aspects;
}

/** Both lists are in the one order of their names (docs/FORMAT.md), so equal lists are equal item by item. */
function sameXattrs(a: readonly ExtendedAttribute[], b: readonly ExtendedAttribute[]): boolean {
  return a.length === b.length && a.every((xattr, i) => xattr.name === b[i]?.name && xattr.value.equals(b[i].value));
}

function sameContent(a: Entry & { type: 'file' }, b: Entry & { type: 'file' }): boolean {
  return a.size === b.size && a.chunks.length === b.chunks.length && a.chunks.every((chunk, i) => constantTimeEqual(chunk.id, b.chunks[i]?.id ?? Buffer.alloc(0)));
}

/** The entry and, for a folder, everything below it. */
async function listAll(kind: ChangeKind, parent: SnapshotDirectory, entry: Entry, changes: Change[]): Promise<void> {
  changes.push({ kind, path: parent.pathOf(entry), type: entry.type, aspects: [] });
  if (entry.type !== 'directory') return;
  const directory = parent.subdirectory(entry);
  for (const child of await directory.entries()) await listAll(kind, directory, child, changes);
}
