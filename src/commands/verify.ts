/**
 * verify: fetches and authenticates every block (or a random sample) that archives
 * reference, after walking and authenticating all of their trees. Each tree is walked and
 * each block checked once however many archives and folders share it; problems name the
 * object and the paths using it.
 */
import { randomInt } from 'node:crypto';
import pLimit from 'p-limit';
import { type BlockSource, type Snapshot, type SnapshotDirectory, type TreeSource, readChunk } from '../archive/index.js';
import { describeError } from '../errors/index.js';
import type { BlockId } from '../store/ids.js';
import { idToHex } from '../store/ids.js';
import type { ProgressListener } from './progress.js';
import { TreeLocations } from './tree-locations.js';

export interface VerifyOptions {
  /** Percentage (0 < p ≤ 100) of the referenced blocks to fetch; 100 checks them all. */
  readonly samplePercent: number;
  readonly progress?: ProgressListener;
}

export interface VerifyProblem {
  /** The object at fault: `block <hex>` or `tree <hex>`. */
  readonly object: string;
  readonly error: string;
  /** archive:/path of the entries that use it (at most 20, then '… and more'). */
  readonly usedBy: readonly string[];
}

export interface VerifyReport {
  readonly archives: number;
  readonly trees: number;
  readonly blocksReferenced: number;
  readonly blocksChecked: number;
  readonly problems: readonly VerifyProblem[];
}

const PARALLEL_FETCHES = 8;

/** Paths listed for one damaged object; an object used in more places says so. */
const MAX_PATHS = 20;

interface BlockUses {
  readonly id: BlockId;
  /** The lengths its entries record: one, unless a tree lies. */
  readonly lengths: Set<number>;
  /** (tree, entry name) pairs that use it. */
  readonly usedIn: { tree: string; name: string }[];
}

export async function verifyArchives(
  snapshots: readonly Snapshot[],
  source: BlockSource & TreeSource,
  options: VerifyOptions,
): Promise<VerifyReport> {
  const blocks = new Map<string, BlockUses>();
  const locations = new TreeLocations();
  const damaged: { object: string; error: unknown; tree: string; name: string }[] = [];
  let trees = 0;

  /** Walks each distinct tree once, however many archives and folders share it. */
  async function walk(directory: SnapshotDirectory, parent: string | undefined, name: string): Promise<void> {
    const tree = idToHex(directory.entry.tree);
    if (!locations.add(tree, parent, name)) return;
    trees++;
    let entries;
    try {
      entries = await directory.entries();
    } catch (error) {
      damaged.push({ object: `tree ${tree}`, error, tree, name: '' });
      return;
    }
    for (const entry of entries) {
      if (entry.type === 'directory') await walk(directory.subdirectory(entry), tree, entry.name);
      if (entry.type !== 'file') continue;
      for (const chunk of entry.chunks) {
        const hex = idToHex(chunk.id);
        const uses = blocks.get(hex) ?? { id: chunk.id, lengths: new Set<number>(), usedIn: [] };
        uses.lengths.add(chunk.length);
        uses.usedIn.push({ tree, name: entry.name });
        blocks.set(hex, uses);
      }
    }
  }

  for (const snapshot of snapshots) await walk(snapshot.root, undefined, snapshot.metadata.name);
  const selected = sample([...blocks.values()], options.samplePercent);
  const lengthOf = (uses: BlockUses) => Math.max(...uses.lengths);
  options.progress?.expect(selected.length, selected.reduce((sum, uses) => sum + lengthOf(uses), 0));
  const slots = pLimit(PARALLEL_FETCHES);
  await Promise.all(
    selected.map((uses) =>
      slots(async () => {
        try {
          for (const length of uses.lengths) await readChunk(source, { id: uses.id, length });
        } catch (error) {
          for (const { tree, name } of uses.usedIn) damaged.push({ object: `block ${idToHex(uses.id)}`, error, tree, name });
        }
        options.progress?.advance(1, lengthOf(uses));
      }),
    ),
  );
  return { archives: snapshots.length, trees, blocksReferenced: blocks.size, blocksChecked: selected.length, problems: describeProblems(damaged, locations) };
}

/** One problem per damaged object, with the paths that use it (up to MAX_PATHS). */
function describeProblems(damaged: readonly { object: string; error: unknown; tree: string; name: string }[], locations: TreeLocations): VerifyProblem[] {
  const byObject = new Map<string, { error: string; usedBy: string[]; more: boolean }>();
  for (const { object, error, tree, name } of damaged) {
    const problem = byObject.get(object) ?? { error: describeError(error), usedBy: [], more: false };
    const { paths, more } = locations.paths(tree, name, MAX_PATHS - problem.usedBy.length);
    problem.usedBy.push(...paths.filter((path) => !problem.usedBy.includes(path)));
    problem.more ||= more;
    byObject.set(object, problem);
  }
  return [...byObject].map(([object, { error, usedBy, more }]) => ({ object, error, usedBy: more ? [...usedBy, '… and more'] : usedBy }));
}

/** A uniformly random subset holding percent% of items (at least one when there are any). */
function sample<T>(items: T[], percent: number): T[] {
  if (percent >= 100) return items;
  const count = Math.min(items.length, Math.max(1, Math.ceil((items.length * percent) / 100)));
  for (let i = 0; i < count; i++) {
    const j = randomInt(i, items.length);
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items.slice(0, count);
}
