/**
 * verify: fetches and authenticates every block (or a random sample) that archives
 * reference, after walking and authenticating all of their trees. Each block is checked
 * once however many archives share it; problems name the object and the files using it.
 */
import { randomInt } from 'node:crypto';
import pLimit from 'p-limit';
import type { BlockSource, Snapshot, SnapshotDirectory, TreeSource } from '../archive/index.js';
import { describeError } from '../errors/index.js';
import type { BlockId } from '../store/ids.js';
import { idToHex } from '../store/ids.js';
import type { ProgressListener } from './progress.js';

export interface VerifyOptions {
  /** Percentage (0 < p ≤ 100) of the referenced blocks to fetch; 100 checks them all. */
  readonly samplePercent: number;
  readonly progress?: ProgressListener;
}

export interface VerifyProblem {
  /** The object at fault: `block <hex>` or `tree of <archive>:<path>`. */
  readonly object: string;
  readonly error: string;
  /** archive:path of the entries that use it. */
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

export async function verifyArchives(
  snapshots: readonly Snapshot[],
  source: BlockSource & TreeSource,
  options: VerifyOptions,
): Promise<VerifyReport> {
  const users = new Map<string, { id: BlockId; length: number; usedBy: string[] }>();
  const problems: VerifyProblem[] = [];
  let trees = 0;

  async function walk(archive: string, directory: SnapshotDirectory): Promise<void> {
    trees++;
    let entries;
    try {
      entries = await directory.entries();
    } catch (error) {
      problems.push({ object: `tree ${idToHex(directory.entry.tree)}`, error: describeError(error), usedBy: [`${archive}:/${directory.path}`] });
      return;
    }
    for (const entry of entries) {
      if (entry.type === 'directory') await walk(archive, directory.subdirectory(entry));
      if (entry.type !== 'file') continue;
      for (const chunk of entry.chunks) {
        const hex = idToHex(chunk.id);
        const user = users.get(hex) ?? { id: chunk.id, length: chunk.length, usedBy: [] };
        user.usedBy.push(`${archive}:/${directory.pathOf(entry)}`);
        users.set(hex, user);
      }
    }
  }

  for (const snapshot of snapshots) await walk(snapshot.metadata.name, snapshot.root);
  const selected = sample([...users.values()], options.samplePercent);
  options.progress?.expect(selected.length, selected.reduce((sum, block) => sum + block.length, 0));
  const slots = pLimit(PARALLEL_FETCHES);
  await Promise.all(
    selected.map(({ id, length, usedBy }) =>
      slots(async () => {
        try {
          await source.readBlock(id);
        } catch (error) {
          problems.push({ object: `block ${idToHex(id)}`, error: describeError(error), usedBy: [...new Set(usedBy)] });
        }
        options.progress?.advance(1, length);
      }),
    ),
  );
  return { archives: snapshots.length, trees, blocksReferenced: users.size, blocksChecked: selected.length, problems };
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
