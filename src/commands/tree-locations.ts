/**
 * Where each folder object appears across archives. Trees are content-addressed, so one
 * tree can sit at many paths (an unchanged folder in every daily archive; identical
 * folders within one). A walk that visits each tree once records here every place it was
 * found, and paths are spelled out only for reports, and only up to a limit: a hostile
 * archive can nest one tree in itself twice per level, naming 2^64 paths with 64 objects.
 */

interface TreeUse {
  /** The tree it appears in, or undefined for an archive's root. */
  readonly parent: string | undefined;
  /** For a root: the archive's name; otherwise the entry's name in its parent. */
  readonly name: string;
}

export class TreeLocations {
  private readonly uses = new Map<string, TreeUse[]>();

  /** Records where a tree appears; true the first time the tree is seen (its content is yet to be walked). */
  add(tree: string, parent: string | undefined, name: string): boolean {
    const known = this.uses.get(tree);
    if (known) known.push({ parent, name });
    else this.uses.set(tree, [{ parent, name }]);
    return known === undefined;
  }

  /**
   * Up to `limit` of the `archive:/path` locations of `name` inside `tree` (the tree
   * itself when name is ''), and whether there are more.
   */
  paths(tree: string, name: string, limit: number): { paths: string[]; more: boolean } {
    const found: string[] = [];
    // Depth first with an explicit stack: nesting can be deeper than the call stack.
    const pending: { tree: string; suffix: string }[] = [{ tree, suffix: name }];
    while (pending.length > 0 && found.length <= limit) {
      const { tree: current, suffix } = pending.pop() as { tree: string; suffix: string };
      for (const use of this.uses.get(current) ?? []) {
        if (use.parent === undefined) found.push(`${use.name}:/${suffix}`);
        else pending.push({ tree: use.parent, suffix: suffix === '' ? use.name : `${use.name}/${suffix}` });
      }
    }
    return { paths: found.slice(0, limit), more: found.length > limit };
  }
}
