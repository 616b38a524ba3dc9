/**
 * gc: removes the blocks and folder trees that no archive on the backend references.
 * Mark and sweep under an exclusive backend lock (src/repository/lock.ts): every archive
 * is read and its trees walked (each distinct tree once, however many archives share it)
 * to find what is live; then everything under blocks/ and trees/ that is not live goes.
 * References are found from the trees themselves, not from stored reference lists, so
 * there is no second record that could disagree with them (docs/FORMAT.md §Reference lists).
 *
 * Safety: any archive or tree that cannot be read stops gc before it deletes anything, as
 * the blocks behind it would look unreferenced. Resumable: an interrupted run leaves only
 * garbage, which the next run finds again. It also removes what writers that crashed left
 * under temporary names (Backend.temporaries).
 */
import pLimit from 'p-limit';
import type { ObjectInfo } from '../backend/index.js';
import { ExitStatus, PreserveError, describeError, isDamagedObject } from '../errors/index.js';
import { type BackendLock, type Repository, STALE_AFTER_MS, withLock } from '../repository/index.js';
import { idToHex } from '../store/ids.js';
import { contentHexFromKey } from '../store/layout.js';
import { reachableObjects } from './reachable.js';
import type { ProblemReporter } from './reporting.js';

export interface GcOptions {
  /** Report what would be freed, delete nothing. */
  readonly dryRun: boolean;
}

export interface KindCounts {
  readonly kept: number;
  readonly freed: number;
  readonly freedBytes: number;
}

export interface GcReport {
  readonly archives: number;
  readonly trees: KindCounts;
  readonly blocks: KindCounts;
  /** Temporaries left by writers that crashed. */
  readonly temporaries: Omit<KindCounts, 'kept'>;
}

/** gc found damage and stopped before deleting anything (exit 1: run verify). */
export class GcAbortedError extends PreserveError {
  constructor(what: string, cause: unknown) {
    super(`gc stopped before deleting anything: ${what} cannot be read (${describeError(cause)}); run verify to see the damage`, ExitStatus.problem);
  }
}

const PARALLEL_DELETES = 16;
/** Deletions between two checks that the lock is still this run's. */
const DELETES_PER_LOCK_CHECK = 512;
/**
 * A temporary not written to for as long as a lock takes to go stale belongs to a writer
 * that crashed. Under gc's lock no create writes, but a lock or a key backup, which take
 * no lock, may be in the middle of their put (milliseconds): the age spares them, as it
 * does a backend whose clock runs somewhat ahead.
 */
const TEMPORARY_AGE_MS = STALE_AFTER_MS;

type Gcable = Pick<Repository, 'backend' | 'catalog' | 'readTree'>;

export function collectGarbage(repository: Gcable, options: GcOptions, reporter: ProblemReporter): Promise<GcReport> {
  return withLock(repository.backend, 'exclusive', 'gc', (message) => reporter.warning(message), (lock) => markAndSweep(repository, options, lock));
}

async function markAndSweep(repository: Gcable, options: GcOptions, lock: BackendLock): Promise<GcReport> {
  const listing = await repository.catalog.list().catch((error: unknown) => {
    if (isDamagedObject(error)) throw new GcAbortedError('an archive', error);
    throw error;
  });
  // An archive that cannot be read may still use objects: nothing is freed until it is mended or deleted.
  const [damaged] = listing.damaged;
  if (damaged) throw new GcAbortedError(`archive object ${damaged.key}`, damaged.error);
  const records = listing.archives;
  const roots = records.map((r) => ({ name: r.metadata.name, tree: r.metadata.root.tree }));
  const live = await reachableObjects(repository, roots, (archive, tree, error) => new GcAbortedError(`tree ${idToHex(tree)} of archive ${JSON.stringify(archive)}`, error));
  const garbage = { trees: [] as string[], blocks: [] as string[] };
  const counts = { trees: { kept: 0, freed: 0, freedBytes: 0 }, blocks: { kept: 0, freed: 0, freedBytes: 0 } };
  for (const kind of ['trees', 'blocks'] as const) {
    for await (const { key, size } of repository.backend.list(`${kind}/`)) {
      const hex = contentHexFromKey(key);
      // Anything that is not where the layout puts an object is not gc's to judge.
      if (hex === undefined) continue;
      if (live[kind].has(hex)) {
        counts[kind].kept++;
        continue;
      }
      garbage[kind].push(key);
      counts[kind].freed++;
      counts[kind].freedBytes += size;
    }
  }
  const leftovers = await leftoverTemporaries(repository.backend);
  const temporaries = { freed: leftovers.length, freedBytes: leftovers.reduce((sum, { size }) => sum + size, 0) };
  if (!options.dryRun) await sweep(repository, [...garbage.trees, ...garbage.blocks, ...leftovers.map(({ key }) => key)], lock);
  return { archives: records.length, ...counts, temporaries };
}

async function leftoverTemporaries(backend: Gcable['backend']): Promise<ObjectInfo[]> {
  const leftovers: ObjectInfo[] = [];
  const before = Date.now() - TEMPORARY_AGE_MS;
  for await (const temporary of backend.temporaries?.() ?? []) if (temporary.modifiedMs < before) leftovers.push(temporary);
  return leftovers;
}

async function sweep(repository: Gcable, keys: readonly string[], lock: BackendLock): Promise<void> {
  for (let start = 0; start < keys.length; start += DELETES_PER_LOCK_CHECK) {
    await lock.assertHeld();
    const slots = pLimit(PARALLEL_DELETES);
    await Promise.all(keys.slice(start, start + DELETES_PER_LOCK_CHECK).map((key) => slots(() => repository.backend.delete(key))));
  }
}
