/**
 * What a set of archives uses on the backend: every tree and block reachable from their
 * roots. gc keeps exactly this; stats measures it. Each distinct tree is read once, however
 * many archives or folders share it, and trees are read level by level, many at a time.
 */
import pLimit from 'p-limit';
import type { Entry } from '../archive/index.js';
import type { Repository } from '../repository/index.js';
import { type TreeId, idToHex } from '../store/ids.js';

export interface ArchiveRoot {
  /** The archive's name, for the error when one of its trees cannot be read. */
  readonly name: string;
  readonly tree: TreeId;
}

export interface ReachableObjects {
  /** Hex ids of the trees. */
  readonly trees: Set<string>;
  /** Hex ids of the blocks, each with its plaintext length. */
  readonly blocks: Map<string, number>;
}

/** Says which tree of which archive could not be read; the walk throws what it returns. */
export type UnreadableTree = (archive: string, tree: TreeId, error: unknown) => Error;

const PARALLEL_READS = 16;

export async function reachableObjects(repository: Pick<Repository, 'readTree'>, roots: readonly ArchiveRoot[], unreadable: UnreadableTree): Promise<ReachableObjects> {
  const trees = new Set<string>();
  const blocks = new Map<string, number>();
  /** Queues a tree the first time it is seen: shared folders are read once. */
  const visit = (root: ArchiveRoot, queue: ArchiveRoot[]): void => {
    if (trees.has(idToHex(root.tree))) return;
    trees.add(idToHex(root.tree));
    queue.push(root);
  };
  let frontier: ArchiveRoot[] = [];
  for (const root of roots) visit(root, frontier);
  while (frontier.length > 0) {
    const next: ArchiveRoot[] = [];
    const slots = pLimit(PARALLEL_READS);
    await Promise.all(
      frontier.map(({ name, tree }) =>
        slots(async () => {
          let entries: readonly Entry[];
          try {
            entries = await repository.readTree(tree);
          } catch (error) {
            throw unreadable(name, tree, error);
          }
          for (const entry of entries) {
            if (entry.type === 'directory') visit({ name, tree: entry.tree }, next);
            if (entry.type === 'file') for (const chunk of entry.chunks) blocks.set(idToHex(chunk.id), chunk.length);
          }
        }),
      ),
    );
    frontier = next;
  }
  return { trees, blocks };
}
