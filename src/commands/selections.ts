/** Paths inside an archive, as restore and list take them on the command line. */
import type { Entry, Snapshot } from '../archive/index.js';
import { UsageError } from '../errors/index.js';

/**
 * The parts of each path ([[]], the whole archive, when none is given), once every one is
 * known to name an entry: a UsageError names the first that does not, before anything is
 * written or printed.
 */
export async function resolveSelections(snapshot: Snapshot, paths: readonly string[]): Promise<string[][]> {
  if (paths.length === 0) return [[]];
  const selections: string[][] = [];
  for (const path of paths) {
    await entryAt(snapshot, path);
    selections.push(path.split('/').filter((part) => part !== '' && part !== '.'));
  }
  return selections;
}

/** The entry at path in the archive; a UsageError naming the path when there is none. */
export async function entryAt(snapshot: Snapshot, path: string): Promise<Entry> {
  const found = await snapshot.lookup(path);
  if (!found) throw new UsageError(`archive ${JSON.stringify(snapshot.metadata.name)} has no entry "${path}"`);
  return found;
}
