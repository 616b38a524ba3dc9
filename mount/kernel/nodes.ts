/**
 * The kernel names nodes by number; the view finds them by path. A node is remembered
 * from the answer that made it known (LOOKUP, READDIRPLUS) until the kernel forgets as
 * many lookups as it was given, so the table holds what the kernel holds, no more.
 * Hardlinks share a number, and any one of their paths leads to the same content.
 * Each node also keeps its extended attributes, so that the kernel's questions about
 * them (`cp -a` asks for every file's) are answered at once, without finding the path.
 */
import type { ExtendedAttribute } from '../../src/archive/index.js';

export const ROOT_NODE = 1;

interface Known {
  readonly path: string;
  readonly xattrs: readonly ExtendedAttribute[];
  lookups: number;
}

export class NodeTable {
  private readonly known = new Map<number, Known>();
  /** Each known node by the path it was first seen at. */
  private readonly byPath = new Map<string, number>();

  /** The path of a node the kernel holds; undefined for one it has forgotten. */
  pathOf(node: number): string | undefined {
    return node === ROOT_NODE ? '/' : this.known.get(node)?.path;
  }

  /** The extended attributes of a node the kernel holds; undefined for the root and for one it has forgotten. */
  xattrsOf(node: number): readonly ExtendedAttribute[] | undefined {
    return this.known.get(node)?.xattrs;
  }

  /** The node the kernel holds for `path`, if it does (by the path its node was first seen at). */
  nodeAt(path: string): number | undefined {
    return path === '/' ? ROOT_NODE : this.byPath.get(path);
  }

  /** The kernel was told of `node` at `path` once more. */
  lookedUp(node: number, path: string, xattrs: readonly ExtendedAttribute[]): void {
    if (node === ROOT_NODE) return;
    const known = this.known.get(node);
    if (known) {
      known.lookups++;
      return;
    }
    this.known.set(node, { path, xattrs, lookups: 1 });
    this.byPath.set(path, node);
  }

  forget(node: number, lookups: number): void {
    const known = this.known.get(node);
    if (!known) return;
    known.lookups -= lookups;
    if (known.lookups > 0) return;
    this.known.delete(node);
    this.byPath.delete(known.path);
  }

  get size(): number {
    return this.known.size;
  }
}

/** The path of `name` inside the folder at `parent`. */
export function childPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}
