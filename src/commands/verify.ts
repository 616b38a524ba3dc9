/**
 * verify: fetches and authenticates every block (or a random sample) that archives
 * reference, after walking and authenticating all of their trees, and looks for the
 * blocks left out of the sample on the backend, so that a missing one is found whatever
 * the sample. Each tree is walked and each block checked once however many archives and
 * folders share it; problems name the object and the paths using it.
 *
 * While checking, only each block's recorded length is held, so memory grows with the
 * number of distinct blocks, not with how many files use each: the paths that use a
 * damaged block are found by walking the trees again, which happens only when a block is
 * damaged.
 */
import { randomInt } from 'node:crypto';
import pMap from 'p-map';
import { type BlockSource, type FileEntry, type Snapshot, type SnapshotDirectory, type TreeSource, readChunk } from '../archive/index.js';
import { AuthenticationError, ObjectNotFoundError, describeError } from '../errors/index.js';
import { type Repository, withLock } from '../repository/index.js';
import { asId, idToHex } from '../store/ids.js';
import { contentKeyFromHex } from '../store/layout.js';
import type { ProgressListener } from './progress.js';
import { TreeLocations } from './tree-locations.js';

export interface VerifyOptions {
  /** Percentage (0 ≤ p ≤ 100) of the referenced blocks to fetch; 100 fetches them all, 0 none (each is still looked for). */
  readonly samplePercent: number;
  readonly progress?: ProgressListener;
}

export interface VerifyProblem {
  /** The object at fault: `block <hex>` or `tree <hex>`. */
  readonly object: string;
  readonly error: string;
  /**
   * A block or tree that is there but fails authentication: what `verify --repair`
   * removes. Undefined for one that is missing, and for one that authenticates but
   * disagrees with a tree (the tree is at fault, or the writer was).
   */
  readonly corrupt: CorruptObject | undefined;
  /** archive:/path of the entries that use it (at most 20, then '… and more'). */
  readonly usedBy: readonly string[];
}

export interface CorruptObject {
  readonly kind: 'block' | 'tree';
  readonly hex: string;
}

export interface VerifyReport {
  readonly archives: number;
  readonly trees: number;
  readonly blocksReferenced: number;
  /** Blocks fetched and authenticated; the others were only looked for. */
  readonly blocksChecked: number;
  readonly problems: readonly VerifyProblem[];
}

const PARALLEL_FETCHES = 8;
/** Blocks looked for in one question to the backend. */
const PRESENCE_BATCH = 4096;

/** Paths listed for one damaged object; an object used in more places says so. */
const MAX_PATHS = 20;

/**
 * The length each referenced block's entries record, by hex id: one number, or the set of
 * them for a block whose entries disagree (which only a lying tree makes).
 */
type RecordedLengths = Map<string, number | Set<number>>;

interface DamagedBlock {
  readonly error: unknown;
  /** How many of the entries using it the second walk has added to the damage. */
  usesNoted: number;
}

/** An object that failed, and one entry (`name` in `tree`; '' for the tree itself) that uses it. */
interface Damage {
  readonly kind: 'block' | 'tree';
  readonly hex: string;
  readonly error: unknown;
  readonly tree: string;
  readonly name: string;
}

export async function verifyArchives(
  snapshots: readonly Snapshot[],
  source: BlockSource & TreeSource & Pick<Repository, 'blocks'>,
  options: VerifyOptions,
): Promise<VerifyReport> {
  const locations = new TreeLocations();
  const damaged: Damage[] = [];
  const lengths: RecordedLengths = new Map();
  const trees = await walkTrees(snapshots, (tree, parent, name) => locations.add(tree, parent, name), damaged, (_tree, file) => {
    for (const chunk of file.chunks) record(lengths, idToHex(chunk.id), chunk.length);
  });

  const selected = sample(lengths, options.samplePercent);
  const damagedBlocks = await checkBlocks(selected, lengths, source, options.progress);
  if (selected.length < lengths.size) await findMissingBlocks(lengths, new Set(selected), source.blocks, damagedBlocks);
  if (damagedBlocks.size > 0) await noteUsesOfDamagedBlocks(snapshots, damagedBlocks, damaged);
  return { archives: snapshots.length, trees, blocksReferenced: lengths.size, blocksChecked: selected.length, problems: describeProblems(damaged, locations) };
}

/** Fetches and authenticates each selected block at every length recorded for it; answers those that failed. */
async function checkBlocks(selected: readonly string[], lengths: RecordedLengths, source: BlockSource, progress?: ProgressListener): Promise<Map<string, DamagedBlock>> {
  progress?.expect(selected.length, selected.reduce((sum, hex) => sum + longest(lengths.get(hex)), 0));
  const damagedBlocks = new Map<string, DamagedBlock>();
  // p-map takes the next id only as a fetch ends, where a promise per block made up front would hold them all.
  await pMap(
    selected,
    async (hex) => {
      const recorded = lengths.get(hex) as number | Set<number>;
      try {
        for (const length of typeof recorded === 'number' ? [recorded] : recorded) await readChunk(source, { id: asId(Buffer.from(hex, 'hex'), 'block'), length });
      } catch (error) {
        damagedBlocks.set(hex, { error, usesNoted: 0 });
      }
      progress?.advance(1, longest(recorded));
    },
    { concurrency: PARALLEL_FETCHES },
  );
  return damagedBlocks;
}

/** Looks for each block not in the sample on the backend, adding those missing to `damagedBlocks`. */
async function findMissingBlocks(lengths: RecordedLengths, fetched: ReadonlySet<string>, blocks: Pick<Repository['blocks'], 'hasMany' | 'locate'>, damagedBlocks: Map<string, DamagedBlock>): Promise<void> {
  const unfetched = [...lengths.keys()].filter((hex) => !fetched.has(hex));
  for (let start = 0; start < unfetched.length; start += PRESENCE_BATCH) {
    const ids = unfetched.slice(start, start + PRESENCE_BATCH).map((hex) => asId(Buffer.from(hex, 'hex'), 'block'));
    const present = await blocks.hasMany(ids);
    ids.forEach((id, k) => {
      if (!present[k]) damagedBlocks.set(idToHex(id), { error: new ObjectNotFoundError(blocks.locate(id)), usesNoted: 0 });
    });
  }
}

/** Walks the trees again to add to `damaged` the entries that use each damaged block, enough of them for its report. */
async function noteUsesOfDamagedBlocks(snapshots: readonly Snapshot[], damagedBlocks: Map<string, DamagedBlock>, damaged: Damage[]): Promise<void> {
  const walkedAgain = new Set<string>();
  const firstTimeAgain = (tree: string): boolean => {
    if (walkedAgain.has(tree)) return false;
    walkedAgain.add(tree);
    return true;
  };
  await walkTrees(snapshots, firstTimeAgain, damaged, (tree, file) => {
    for (const chunk of file.chunks) {
      const hex = idToHex(chunk.id);
      const block = damagedBlocks.get(hex);
      // Each use names at least one path: one past MAX_PATHS fills the list and tells that there are more.
      if (block && block.usesNoted++ <= MAX_PATHS) damaged.push({ kind: 'block', hex, error: block.error, tree, name: file.name });
    }
  });
}

/**
 * Walks, depth first, each tree under the snapshots for which `firstVisit` answers true
 * (it is told where the tree was found), handing each file entry to `onFile`; a tree that
 * cannot be read is added to `damaged`. Answers how many trees were walked.
 */
async function walkTrees(
  snapshots: readonly Snapshot[],
  firstVisit: (tree: string, parent: string | undefined, name: string) => boolean,
  damaged: Damage[],
  onFile: (tree: string, file: FileEntry) => void,
): Promise<number> {
  let walked = 0;
  async function walk(directory: SnapshotDirectory, parent: string | undefined, name: string): Promise<void> {
    const tree = idToHex(directory.entry.tree);
    if (!firstVisit(tree, parent, name)) return;
    walked++;
    let entries;
    try {
      entries = await directory.entries();
    } catch (error) {
      damaged.push({ kind: 'tree', hex: tree, error, tree, name: '' });
      return;
    }
    for (const entry of entries) {
      if (entry.type === 'directory') await walk(directory.subdirectory(entry), tree, entry.name);
      if (entry.type === 'file') onFile(tree, entry);
    }
  }
  for (const snapshot of snapshots) await walk(snapshot.root, undefined, snapshot.metadata.name);
  return walked;
}

function record(lengths: RecordedLengths, hex: string, length: number): void {
  const known = lengths.get(hex);
  if (known === undefined) lengths.set(hex, length);
  else if (typeof known === 'number') {
    if (known !== length) lengths.set(hex, new Set([known, length]));
  } else known.add(length);
}

function longest(recorded: number | Set<number> | undefined): number {
  return typeof recorded === 'number' ? recorded : Math.max(0, ...(recorded ?? []));
}

/** One problem per damaged object, with the paths that use it (up to MAX_PATHS). */
function describeProblems(damaged: readonly Damage[], locations: TreeLocations): VerifyProblem[] {
  const byObject = new Map<string, { error: string; corrupt: CorruptObject | undefined; usedBy: string[]; more: boolean }>();
  for (const { kind, hex, error, tree, name } of damaged) {
    const object = `${kind} ${hex}`;
    const corrupt = error instanceof AuthenticationError ? { kind, hex } : undefined;
    const problem = byObject.get(object) ?? { error: describeError(error), corrupt, usedBy: [], more: false };
    const { paths, more } = locations.paths(tree, name, MAX_PATHS - problem.usedBy.length);
    problem.usedBy.push(...paths.filter((path) => !problem.usedBy.includes(path)));
    problem.more ||= more;
    byObject.set(object, problem);
  }
  return [...byObject].map(([object, { error, corrupt, usedBy, more }]) => ({ object, error, corrupt, usedBy: more ? [...usedBy, '… and more'] : usedBy }));
}

/** The hex ids of a uniformly random percent% of the blocks (at least one when there are any, unless percent is 0). */
function sample(lengths: RecordedLengths, percent: number): string[] {
  const ids = [...lengths.keys()];
  if (percent >= 100) return ids;
  if (percent === 0) return [];
  const count = Math.min(ids.length, Math.max(1, Math.ceil((ids.length * percent) / 100)));
  for (let i = 0; i < count; i++) {
    const j = randomInt(i, ids.length);
    [ids[i], ids[j]] = [ids[j] as string, ids[i] as string];
  }
  return ids.slice(0, count);
}

/**
 * verify --repair: removes the objects verify found there but failing authentication,
 * under gc's exclusive lock, since a create running beside it could be reusing one; each
 * is read again under the lock and removed only if it still fails (it was checked before
 * the lock was taken). They cannot be mended in place; once gone, the next create of a
 * folder that holds their content stores them again (create stores every block and tree
 * it needs that the backend lacks), and every archive that uses them is whole again: ids
 * are the content's. Answers the keys removed.
 */
export async function removeCorruptObjects(
  repository: Pick<Repository, 'backend' | 'blocks' | 'trees'>,
  problems: readonly VerifyProblem[],
  onWarning: (message: string) => void,
): Promise<string[]> {
  const corrupt = problems.flatMap((problem) => (problem.corrupt === undefined ? [] : [problem.corrupt]));
  if (corrupt.length === 0) return [];
  return withLock(repository.backend, 'exclusive', 'verify --repair', onWarning, async (lock) => {
    await lock.assertHeld();
    const removed: string[] = [];
    for (const { kind, hex } of corrupt) {
      if (!(await stillFailsAuthentication(repository, kind, hex))) continue;
      const key = contentKeyFromHex(kind, hex);
      await repository.backend.delete(key);
      removed.push(key);
    }
    return removed;
  });
}

async function stillFailsAuthentication(repository: Pick<Repository, 'blocks' | 'trees'>, kind: CorruptObject['kind'], hex: string): Promise<boolean> {
  const id = Buffer.from(hex, 'hex');
  try {
    await (kind === 'block' ? repository.blocks.get(asId(id, 'block')) : repository.trees.get(asId(id, 'tree')));
    return false;
  } catch (error) {
    if (error instanceof AuthenticationError) return true;
    if (error instanceof ObjectNotFoundError) return false; // removed meanwhile: nothing left to remove
    throw error;
  }
}
