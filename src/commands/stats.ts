/**
 * stats: how much the archives hold and what they take on the backend (restic's `stats`,
 * borg's `info`). The archives' trees are walked as gc walks them and the backend is
 * listed, so every figure is what is there now: the content the archives share is counted
 * once, and, for archives named, what no other archive uses is what deleting them and
 * then running gc would free.
 */
import { type ArchiveRecord, UnknownArchiveError } from '../archive/index.js';
import { ExitStatus, PreserveError, describeError } from '../errors/index.js';
import type { Repository } from '../repository/index.js';
import { idToHex } from '../store/ids.js';
import { ARCHIVES_PREFIX, contentHexFromKey } from '../store/layout.js';
import { type ReachableObjects, reachableObjects } from './reachable.js';

export interface Tally {
  count: number;
  bytes: number;
}

export interface RepositoryStats {
  /** The archives measured (those named, else all), oldest first. */
  readonly archives: readonly string[];
  readonly allArchives: number;
  /** What restoring each of them would write, added up. */
  readonly restored: { readonly files: number; readonly bytes: number };
  /** The distinct blocks they use, by plaintext length: their content once deduplicated. */
  readonly content: Tally;
  /** Their blocks and folder trees on the backend, encrypted. */
  readonly stored: Tally;
  /** Blocks and trees they use that the backend does not hold (verify says where). */
  readonly missing: number;
  /** Of `stored`, what no other archive uses; undefined when every archive is measured. */
  readonly exclusive: Tally | undefined;
  /** Every block, tree and archive object on the backend. */
  readonly backend: Tally;
  /** Blocks and trees no archive uses: what gc would free. */
  readonly unused: Tally;
}

/** An archive object or a tree could not be read: the figures would be wrong (exit 1, run verify). */
export class StatsAbortedError extends PreserveError {
  constructor(what: string, cause: unknown) {
    super(`stats stopped: ${what} cannot be read (${describeError(cause)}); run verify to see the damage`, ExitStatus.problem);
  }
}

type Measurable = Pick<Repository, 'backend' | 'catalog' | 'readTree'>;

export async function repositoryStats(repository: Measurable, names: readonly string[]): Promise<RepositoryStats> {
  const listing = await repository.catalog.list();
  const [damaged] = listing.damaged;
  // Its blocks would pass for unused, or for another archive's alone.
  if (damaged) throw new StatsAbortedError(`archive object ${damaged.key}`, damaged.error);
  const measured = selectArchives(listing.archives, names, repository.backend.location);
  const others = listing.archives.filter((record) => !measured.has(record));
  const used = await reachable(repository, [...measured]);
  const usedByOthers = others.length > 0 ? await reachable(repository, others) : undefined;
  const objects = tallyObjects(await storedSizes(repository), used, usedByOthers);
  return {
    archives: [...measured].map((record) => record.metadata.name),
    allArchives: listing.archives.length,
    restored: {
      files: sum(measured, (record) => record.metadata.totals.files),
      bytes: sum(measured, (record) => record.metadata.totals.bytes),
    },
    content: { count: used.blocks.size, bytes: sum(used.blocks.values(), (length) => length) },
    ...objects,
    exclusive: usedByOthers ? objects.exclusive : undefined,
  };
}

interface StoredSizes {
  /** Stored size by hex id. */
  readonly blocks: Map<string, number>;
  readonly trees: Map<string, number>;
  readonly archives: Tally;
}

/** Adds up the stored objects: those the measured archives use, those only they use, those none uses, all. */
function tallyObjects(sizes: StoredSizes, used: ReachableObjects, usedByOthers: ReachableObjects | undefined) {
  const stored = { count: 0, bytes: 0 };
  const exclusive = { count: 0, bytes: 0 };
  const unused = { count: 0, bytes: 0 };
  const backend = { ...sizes.archives };
  let missing = 0;
  for (const kind of ['trees', 'blocks'] as const) {
    for (const hex of used[kind].keys()) {
      const size = sizes[kind].get(hex);
      if (size === undefined) missing++;
      else {
        add(stored, size);
        if (!usedByOthers?.[kind].has(hex)) add(exclusive, size);
      }
    }
    for (const [hex, size] of sizes[kind]) {
      add(backend, size);
      if (!used[kind].has(hex) && !usedByOthers?.[kind].has(hex)) add(unused, size);
    }
  }
  return { stored, exclusive, unused, backend, missing };
}

/** The archives named, in the catalog's order; every one of them when none is. */
function selectArchives(archives: readonly ArchiveRecord[], names: readonly string[], location: string): Set<ArchiveRecord> {
  if (names.length === 0) return new Set(archives);
  const byName = new Map(archives.map((record) => [record.metadata.name, record]));
  for (const name of names) if (!byName.has(name)) throw new UnknownArchiveError(name, location);
  const wanted = new Set(names);
  return new Set(archives.filter((record) => wanted.has(record.metadata.name)));
}

function reachable(repository: Measurable, records: readonly ArchiveRecord[]): Promise<ReachableObjects> {
  const roots = records.map((record) => ({ name: record.metadata.name, tree: record.metadata.root.tree }));
  return reachableObjects(repository, roots, (archive, tree, error) => new StatsAbortedError(`tree ${idToHex(tree)} of archive ${JSON.stringify(archive)}`, error));
}

/** Each block's and tree's stored size by hex id, and the archive objects' count and size. */
async function storedSizes(repository: Measurable): Promise<StoredSizes> {
  const sizesUnder = async (prefix: string): Promise<Map<string, number>> => {
    const sizes = new Map<string, number>();
    for await (const { key, size } of repository.backend.list(prefix)) {
      const hex = contentHexFromKey(key);
      if (hex !== undefined) sizes.set(hex, size); // else not where the layout puts an object: no reader fetches it
    }
    return sizes;
  };
  const archives = { count: 0, bytes: 0 };
  for await (const { size } of repository.backend.list(ARCHIVES_PREFIX)) add(archives, size);
  return { blocks: await sizesUnder('blocks/'), trees: await sizesUnder('trees/'), archives };
}

function add(tally: Tally, bytes: number): void {
  tally.count++;
  tally.bytes += bytes;
}

function sum<T>(items: Iterable<T>, value: (item: T) => number): number {
  let total = 0;
  for (const item of items) total += value(item);
  return total;
}
