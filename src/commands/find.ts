/**
 * find: the entries of every archive whose name or path matches a pattern, as create's
 * --exclude patterns match them (src/selection), in the order `find` gives.
 *
 * Archives made one after another share most of their folders. A folder that held no match
 * is not walked again at the same path in a later archive: its tree id and path name
 * everything under it (patterns with '/' match paths, so the path is part of the key).
 */
import type { Snapshot, SnapshotDirectory } from '../archive/index.js';
import type { ExcludeTest } from '../selection/index.js';
import { idToHex } from '../store/ids.js';
import { type ListedEntry, MAX_RUN } from './list-entries.js';
import type { ProblemReporter } from './reporting.js';

export class EntryFinder {
  /** `tree:path` of the folders searched whole without a match. */
  private readonly fruitless = new Set<string>();
  private problems = 0;

  constructor(
    private readonly matches: ExcludeTest,
    private readonly reporter: ProblemReporter,
  ) {}

  /** Folders that could not be read, in every search so far (each reported as archive:/path). */
  get unreadableFolders(): number {
    return this.problems;
  }

  /** Hands the snapshot's matching entries to `onFound`, a run at a time in find order; answers how many there were. */
  search(snapshot: Snapshot, onFound: (found: readonly ListedEntry[]) => void): Promise<number> {
    return this.walk(snapshot.metadata.name, snapshot.root, onFound);
  }

  private async walk(archive: string, directory: SnapshotDirectory, onFound: (found: readonly ListedEntry[]) => void): Promise<number> {
    const key = `${idToHex(directory.entry.tree)}:${directory.path}`;
    if (this.fruitless.has(key)) return 0;
    let entries;
    try {
      entries = await directory.entries();
    } catch (error) {
      this.problems++;
      this.reporter.problem(`${archive}:/${directory.path}`, error);
      return 0;
    }
    const problemsBefore = this.problems;
    let found = 0;
    let run: ListedEntry[] = [];
    for (const entry of entries) {
      const path = directory.pathOf(entry);
      if (this.matches(path)) run.push({ path, entry });
      if (entry.type !== 'directory' && run.length < MAX_RUN) continue;
      found += run.length;
      if (run.length > 0) onFound(run);
      run = [];
      if (entry.type === 'directory') found += await this.walk(archive, directory.subdirectory(entry), onFound);
    }
    found += run.length;
    if (run.length > 0) onFound(run);
    // A folder below that could not be read may hold matches: it is tried again next time.
    if (found === 0 && this.problems === problemsBefore) this.fruitless.add(key);
    return found;
  }
}
