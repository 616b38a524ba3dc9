/**
 * list NAME: the entries of an archive, or of chosen paths in it, in the order `find`
 * gives (a folder, then what it holds, names in byte order). Entries come in runs that end
 * at each folder and after MAX_RUN entries, so that the caller prints many lines at once
 * while only the folders being listed, one per level, are in memory: a listing of a
 * million entries streams.
 */
import type { DirectoryEntry, Entry, Snapshot, SnapshotDirectory } from '../archive/index.js';
import { resolveSelections } from './selections.js';

/** Entries in a run at most: a folder of 300,000 files was one run, held with all its paths and printed lines at once. */
export const MAX_RUN = 4096;

export interface ListedEntry {
  /** Path inside the archive, without a leading '/'. */
  readonly path: string;
  readonly entry: Entry;
}

/** The entries at and under each of `paths` (the whole archive when there are none); a UsageError, before anything is listed, for a path the archive lacks. */
export async function* archiveEntries(snapshot: Snapshot, paths: readonly string[]): AsyncGenerator<readonly ListedEntry[]> {
  for (const parts of await resolveSelections(snapshot, paths)) yield* selected(snapshot.root, parts);
}

async function* selected(root: SnapshotDirectory, parts: readonly string[]): AsyncGenerator<readonly ListedEntry[]> {
  let directory = root;
  for (const [index, part] of parts.entries()) {
    // resolveSelections found every part, and every part but the last is a folder.
    const entry = (await directory.child(part)) as Entry;
    if (index < parts.length - 1) {
      directory = directory.subdirectory(entry as DirectoryEntry);
      continue;
    }
    yield [{ path: directory.pathOf(entry), entry }];
    if (entry.type !== 'directory') return;
    directory = directory.subdirectory(entry);
  }
  yield* folderContent(directory);
}

async function* folderContent(directory: SnapshotDirectory): AsyncGenerator<readonly ListedEntry[]> {
  let run: ListedEntry[] = [];
  for (const entry of await directory.entries()) {
    run.push({ path: directory.pathOf(entry), entry });
    if (entry.type !== 'directory' && run.length < MAX_RUN) continue;
    yield run;
    run = [];
    if (entry.type === 'directory') yield* folderContent(directory.subdirectory(entry));
  }
  if (run.length > 0) yield run;
}
