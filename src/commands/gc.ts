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
import type { Entry } from '../archive/index.js';
import type { ObjectInfo } from '../backend/index.js';
import { ExitStatus, PreserveError, describeError, isDamagedObject } from '../errors/index.js';
import { type BackendLock, type Repository, STALE_AFTER_MS, withLock } from '../repository/index.js';
import { type TreeId, idToHex } from '../store/ids.js';
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

const PARALLEL_READS = 16;
const PARALLEL_DELETES = 16;
/** Deletions between two checks that the lock is still this run's. */
const DELETES_PER_LOCK_CHECK = 512;
const CONTENT_KEY = /^(?:blocks|trees)\/([0-9a-f]{2})\/([0-9a-f]{2})\/(\1\2[0-9a-f]{60})$/;
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
  const live = await markLive(repository, records.map((r) => ({ name: r.metadata.name, tree: r.metadata.root.tree })));
  const garbage = { trees: [] as string[], blocks: [] as string[] };
  const counts = { trees: { kept: 0, freed: 0, freedBytes: 0 }, blocks: { kept: 0, freed: 0, freedBytes: 0 } };
  for (const kind of ['trees', 'blocks'] as const) {
    for await (const { key, size } of repository.backend.list(`${kind}/`)) {
      const hex = CONTENT_KEY.exec(key)?.[3];
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

/** Hex ids of every tree and block reachable from the given roots. */
async function markLive(repository: Gcable, roots: readonly { name: string; tree: TreeId }[]): Promise<{ trees: Set<string>; blocks: Set<string> }> {
  const trees = new Set<string>();
  const blocks = new Set<string>();
  /** Queues a tree the first time it is seen: shared folders are read once. */
  const visit = (name: string, tree: TreeId, queue: { name: string; tree: TreeId }[]): void => {
    if (trees.has(idToHex(tree))) return;
    trees.add(idToHex(tree));
    queue.push({ name, tree });
  };
  let frontier: { name: string; tree: TreeId }[] = [];
  for (const root of roots) visit(root.name, root.tree, frontier);
  while (frontier.length > 0) {
    const next: { name: string; tree: TreeId }[] = [];
    const slots = pLimit(PARALLEL_READS);
    await Promise.all(
      frontier.map(({ name, tree }) =>
        slots(async () => {
          let entries: readonly Entry[];
          try {
            entries = await repository.readTree(tree);
          } catch (error) {
            throw new GcAbortedError(`tree ${idToHex(tree)} of archive ${JSON.stringify(name)}`, error);
          }
          for (const entry of entries) {
            if (entry.type === 'directory') visit(name, entry.tree, next);
            if (entry.type === 'file') for (const chunk of entry.chunks) blocks.add(idToHex(chunk.id));
          }
        }),
      ),
    );
    frontier = next;
  }
  return { trees, blocks };
}

async function sweep(repository: Gcable, keys: readonly string[], lock: BackendLock): Promise<void> {
  for (let start = 0; start < keys.length; start += DELETES_PER_LOCK_CHECK) {
    await lock.assertHeld();
    const slots = pLimit(PARALLEL_DELETES);
    await Promise.all(keys.slice(start, start + DELETES_PER_LOCK_CHECK).map((key) => slots(() => repository.backend.delete(key))));
  }
}
