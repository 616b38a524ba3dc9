/**
 * scrub: one round of active checking. It reads and authenticates every archive object
 * (name and metadata), fetches and authenticates every block and folder object in the
 * round's slice of the id space (scrub-sweep.ts), and follows each archive from its root
 * down a random path to a file and fetches a few of its blocks. Findings go to the
 * reporter one by one, each bad object once; the round goes on past them.
 */
import { randomInt } from 'node:crypto';
import pMap from 'p-map';
import { type Entry, type Snapshot, type SnapshotDirectory, readChunk } from '../archive/index.js';
import type { Repository } from '../repository/index.js';
import { idToHex } from '../store/ids.js';
import { contentIdFromKey } from '../store/layout.js';
import type { ProblemReporter } from './reporting.js';
import { type Slice, inSlice } from './scrub-sweep.js';

export interface ScrubCounts {
  /** Objects of this kind on the backend. */
  total: number;
  /** Of them, checked in this round. */
  checked: number;
}

export interface ScrubReport {
  readonly archives: number;
  readonly blocks: ScrubCounts;
  readonly trees: ScrubCounts;
  /** Blocks fetched by the walks from archive roots, beyond the slice. */
  readonly spotChecked: number;
  readonly problems: number;
}

/** Blocks each archive's random walk fetches. */
const SPOT_BLOCKS = 2;
/** A random walk gives up below this depth (archives can nest deeper; one walk need not reach the bottom). */
const MAX_WALK_DEPTH = 256;
const PARALLEL_FETCHES = 8;

/** Where a round's findings go, and the ids already found bad in it. */
interface Findings {
  readonly reporter: ProblemReporter;
  readonly failed: Set<string>;
}

type ScrubRepository = Pick<Repository, 'backend' | 'catalog' | 'readTree' | 'readBlock' | 'snapshotOf'>;

export async function scrubRound(repository: ScrubRepository, slice: Slice, reporter: ProblemReporter, stop?: AbortSignal): Promise<ScrubReport> {
  let problems = 0;
  const counted: ProblemReporter = {
    info: (message) => reporter.info(message),
    warning: (message) => reporter.warning(message),
    problem: (path, error) => {
      problems++;
      reporter.problem(path, error);
    },
  };
  const { archives, damaged } = await repository.catalog.list();
  for (const { key, error } of damaged) counted.problem(key, error);
  // Ids the sweep found bad, so that a walk meeting one again does not report it twice.
  const failed = new Set<string>();
  const blocks = await sweep(repository, 'block', slice, { reporter: counted, failed, stop });
  const trees = await sweep(repository, 'tree', slice, { reporter: counted, failed, stop });
  let spotChecked = 0;
  for (const record of archives) spotChecked += await spotCheck(repository.snapshotOf(record), repository, { reporter: counted, failed });
  return { archives: archives.length + damaged.length, blocks, trees, spotChecked, problems };
}

/** Fetches and authenticates (trees: also decodes) every object of a kind whose id is in the slice. */
async function sweep(repository: ScrubRepository, kind: 'block' | 'tree', slice: Slice, { reporter, failed, stop }: Findings & { stop?: AbortSignal }): Promise<ScrubCounts> {
  const counts: ScrubCounts = { total: 0, checked: 0 };
  // p-map takes the next object from the listing only as a check ends: a backend's listing is never held whole.
  await pMap(
    objectsInSlice(repository, kind, slice, { reporter, counts, stop }),
    async ({ key, check }) => {
      try {
        await check();
      } catch (error) {
        failed.add(key.slice(key.lastIndexOf('/') + 1));
        reporter.problem(key, error);
      }
    },
    { concurrency: PARALLEL_FETCHES },
  );
  return counts;
}

/**
 * The objects of a kind whose ids are in the slice, as the backend lists them, with how to
 * check each; `counts` tells how many were listed and chosen. Listing ends once `stop` is aborted.
 */
async function* objectsInSlice(
  repository: ScrubRepository,
  kind: 'block' | 'tree',
  slice: Slice,
  { reporter, counts, stop }: { reporter: ProblemReporter; counts: ScrubCounts; stop?: AbortSignal },
): AsyncGenerator<{ key: string; check: () => Promise<unknown> }> {
  for await (const { key } of repository.backend.list(`${kind}s/`)) {
    if (stop?.aborted) return;
    const check = checkerFor(repository, kind, key);
    if (!check) {
      reporter.warning(`${key}: not where an object of that name belongs; left alone`);
      continue;
    }
    counts.total++;
    if (!inSlice(key.slice(key.lastIndexOf('/') + 1), slice)) continue;
    counts.checked++;
    yield { key, check };
  }
}

/** How to check the object under key, or undefined when key names no object of this kind. */
function checkerFor(repository: ScrubRepository, kind: 'block' | 'tree', key: string): (() => Promise<unknown>) | undefined {
  if (kind === 'block') {
    const id = contentIdFromKey(key, 'block');
    return id && (() => repository.readBlock(id));
  }
  const id = contentIdFromKey(key, 'tree');
  return id && (() => repository.readTree(id));
}

/**
 * Walks from the archive's root down a random path to a file and fetches up to
 * SPOT_BLOCKS of its blocks, as a restore of that file would. Returns the blocks fetched.
 */
async function spotCheck(snapshot: Snapshot, repository: ScrubRepository, { reporter, failed }: Findings): Promise<number> {
  const archive = snapshot.metadata.name;
  let directory: SnapshotDirectory = snapshot.root;
  for (let depth = 0; depth < MAX_WALK_DEPTH; depth++) {
    let entries: readonly Entry[];
    try {
      entries = await directory.entries();
    } catch (error) {
      if (!failed.has(idToHex(directory.entry.tree))) reporter.problem(`${archive}:/${directory.path}`, error);
      return 0;
    }
    const next = pick(entries.filter((entry) => entry.type === 'directory' || (entry.type === 'file' && entry.chunks.length > 0)));
    if (next === undefined) return 0;
    if (next.type === 'directory') {
      directory = directory.subdirectory(next);
      continue;
    }
    if (next.type !== 'file') return 0;
    const chunks = [...next.chunks];
    let fetched = 0;
    for (; fetched < SPOT_BLOCKS && chunks.length > 0; fetched++) {
      const [chunk] = chunks.splice(randomInt(chunks.length), 1);
      try {
        if (chunk) await readChunk(repository, chunk);
      } catch (error) {
        if (!(chunk && failed.has(idToHex(chunk.id)))) reporter.problem(`${archive}:/${directory.pathOf(next)}`, error);
      }
    }
    return fetched;
  }
  return 0;
}

function pick<T>(items: readonly T[]): T | undefined {
  return items.length === 0 ? undefined : items[randomInt(items.length)];
}
