/**
 * restore: writes an archive, or chosen paths of it, into a target folder. Names come
 * from trees the decoder has already checked (no '..', no '/'), every file is created
 * with O_EXCL and every folder with mkdir, so nothing is written through a symlink and
 * nothing lands outside the target. A file whose blocks are missing or fail
 * authentication is removed again, reported, and the rest goes on.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pLimit from 'p-limit';
import {
  type BlockSource,
  type DirectoryEntry,
  type Entry,
  type ExtendedAttribute,
  type FileEntry,
  NO_XATTRS,
  type ResolvedEntry,
  type Snapshot,
  type SymlinkEntry,
  SnapshotDirectory,
  readChunksAhead,
} from '../archive/index.js';
import { UsageError, describeError, isErrnoException } from '../errors/index.js';
import { fsPath, readFolderNames, relativeChildPath } from '../filenames/index.js';
import { type Accounts, idMapper, readSystemAccounts } from '../owners/index.js';
import { type ExcludeTest, compileExcludes, excludedAlongPath } from '../selection/index.js';
import { withRecentBlocks } from '../store/block-cache.js';
import type { ProgressListener } from './progress.js';
import type { ProblemReporter } from './reporting.js';
import {
  type OwnerMapping,
  closeFile,
  checkFolder,
  createFile,
  createFolder,
  createLink,
  createSymlink,
  existingAt,
  removeEntry,
  removeFile,
  setFileAttributes,
  setLength,
  setPathAttributes,
  writeAll,
  writeSparse,
} from './restore-target.js';
import { type OverwritePolicy, keepsExisting } from './restore-policy.js';
import { resolveSelections } from './selections.js';

export interface RestoreOptions {
  readonly target: string;
  /** Paths inside the archive to restore (with their parents); empty means everything. */
  readonly paths: readonly string[];
  /** Patterns as create's (src/selection), matched against paths in the archive: what matches is not restored, nor anything under it. */
  readonly excludes: readonly string[];
  /** Patterns likewise; when there are any, only what matches is restored, with all under it and the folders on the way to it. */
  readonly includes: readonly string[];
  /** Restore owners by their archived numbers, ignoring the user and group name tables. */
  readonly numericOwner: boolean;
  /** Restore what symlinks point to (when it is in the archive) instead of the links. */
  readonly dereference: boolean;
  /** Restore every hardlink as a file of its own. */
  readonly hardDereference: boolean;
  /** Leave runs of zeros as holes (restic's and borg's --sparse): disk images and the like take only their data's room. */
  readonly sparse: boolean;
  /** What to do with a file or symlink already in the target (restore-policy.ts). */
  readonly overwrite: OverwritePolicy;
  /** Remove what a restored folder holds in the target that the archive's does not (restic's --delete); what --exclude matches is left alone. */
  readonly deleteUnarchived: boolean;
  /** Look at the archive and the target and count what would be written, kept and deleted; write, fetch and delete nothing. */
  readonly dryRun: boolean;
  /** Restore no extended attributes (borg's --noxattrs), for a target file system without them. */
  readonly noXattrs: boolean;
  readonly progress?: ProgressListener;
}

export interface RestoreSummary {
  files: number;
  directories: number;
  symlinks: number;
  bytes: number;
  /** Files and symlinks already in the target that --overwrite left as they were. */
  kept: number;
  /** Entries of the target that --delete removed (a folder counts once, with all it held). */
  deleted: number;
  /** Extended attributes not restored because only root may set them (trusted.*, security.*). */
  xattrsWithheld: number;
  problems: number;
}

/** Files restored at once, across the whole restore: overlaps fetching, decrypting and writing. */
const PARALLEL_FILES = 16;
/**
 * Entries the walk may queue ahead of those being restored. The walk goes on into the
 * next folders while files are written, so folders of a few files each still keep all
 * slots busy; the bound keeps memory independent of the size of a folder or of the tree.
 */
const QUEUED_ENTRIES = 256;
/** Blocks fetched ahead of the one being written, so fetching overlaps writing. */
const FETCH_AHEAD = 4;

export async function restoreArchive(
  snapshot: Snapshot,
  blocks: BlockSource,
  options: RestoreOptions,
  reporter: ProblemReporter,
): Promise<RestoreSummary> {
  const selections = await resolveSelections(snapshot, options.paths);
  const totals = snapshot.metadata.totals;
  if (options.paths.length === 0 && options.excludes.length === 0 && options.includes.length === 0) options.progress?.expect(totals.files, totals.bytes);
  const target = resolve(options.target);
  if (options.dryRun) checkTarget(target);
  else await prepareTarget(target);
  const runAsRoot = process.getuid?.() === 0;
  const restorer = new Restorer(snapshot, withRecentBlocks(blocks), reporter, options, runAsRoot ? await ownerMapping(snapshot, options.numericOwner) : undefined);
  await restorer.restoreSelections(snapshot.root, target, selections);
  const { files, directories, symlinks, kept } = restorer.summary;
  if (options.includes.length > 0 && files + directories + symlinks + kept === 0) reporter.warning('nothing in the archive matched --include');
  const { xattrsWithheld } = restorer.summary;
  if (xattrsWithheld > 0) reporter.warning(`extended attributes outside user.* and ACLs were not restored (${xattrsWithheld}, such as security.capability): only root may set them`);
  return restorer.summary;
}

async function prepareTarget(target: string): Promise<void> {
  try {
    await mkdir(fsPath(target), { recursive: true });
  } catch (error) {
    throw new UsageError(`cannot use restore target ${target}: ${describeError(error)}`, { cause: error });
  }
  checkTarget(target);
}

/** The restore target must be a folder of its own, not a symlink to one; a dry run also accepts nothing there. */
function checkTarget(target: string): void {
  try {
    checkFolder(target);
  } catch (error) {
    throw new UsageError(`restore target ${target} is not a folder`, { cause: error });
  }
}

async function ownerMapping(snapshot: Snapshot, numeric: boolean): Promise<OwnerMapping> {
  if (numeric) return { uid: (id) => id, gid: (id) => id };
  const accounts: Accounts = await readSystemAccounts();
  return {
    uid: idMapper(snapshot.metadata.userNames, accounts.users),
    gid: idMapper(snapshot.metadata.groupNames, accounts.groups),
  };
}

class Restorer {
  readonly summary: RestoreSummary = { files: 0, directories: 0, symlinks: 0, bytes: 0, kept: 0, deleted: 0, xattrsWithheld: 0, problems: 0 };
  /**
   * Hardlink group → the first member's restore, resolving to its path (undefined if it
   * failed); later members link to it. A promise, because members restore concurrently.
   */
  private readonly linkedPaths = new Map<number, Promise<string | undefined>>();
  /** Folder attributes are applied after their content, or a read-only folder could not be filled. */
  private readonly pendingFolders: { path: string; entry: DirectoryEntry }[] = [];
  /**
   * The folders above the walk that hold no chosen entry of their own: the parents of a
   * path given, and with --include the folders searched for a match. Each is made only
   * once something inside it is restored, so a search that finds nothing leaves no folder.
   */
  private readonly foldersOnTheWay: { path: string; entry: DirectoryEntry; state: 'unmade' | 'made' | 'failed' }[] = [];

  private readonly fileSlots = pLimit(PARALLEL_FILES);
  /** Restores of files and symlinks, queued or in flight, oldest first. */
  private readonly queued: Promise<void>[] = [];
  /** Trees of the folders the walk is inside: a dereferenced link into one would loop. */
  private readonly openFolders = new Set<string>();
  private readonly excluded: ExcludeTest;
  /** Undefined without --include: everything not excluded is restored. */
  private readonly included: ExcludeTest | undefined;

  constructor(
    private readonly snapshot: Snapshot,
    private readonly blocks: BlockSource,
    private readonly reporter: ProblemReporter,
    private readonly options: Pick<RestoreOptions, 'excludes' | 'includes' | 'dereference' | 'hardDereference' | 'sparse' | 'overwrite' | 'deleteUnarchived' | 'dryRun' | 'noXattrs' | 'progress'>,
    /** Set only when running as root, the only case where chown can succeed. */
    private readonly owners: OwnerMapping | undefined,
  ) {
    this.excluded = compileExcludes(options.excludes);
    this.included = options.includes.length > 0 ? compileExcludes(options.includes) : undefined;
  }

  /**
   * The entry's extended attributes to set: all of them as root; otherwise those a file's
   * owner may set (user.*, and ACLs), as owners are restored only as root too. The others
   * are counted, for one warning at the end.
   */
  private xattrsToSet(entry: Entry): readonly ExtendedAttribute[] {
    if (this.options.noXattrs || entry.xattrs.length === 0) return NO_XATTRS;
    if (this.owners) return entry.xattrs;
    const settable = entry.xattrs.filter(({ name }) => name.startsWith('user.') || name.startsWith('system.posix_acl_'));
    this.summary.xattrsWithheld += entry.xattrs.length - settable.length;
    return settable;
  }

  private report(path: string, error: unknown): void {
    this.summary.problems++;
    this.reporter.problem(path, error);
  }

  async restoreSelections(root: SnapshotDirectory, target: string, selections: string[][]): Promise<void> {
    try {
      for (const selection of selections) {
        if (excludedAlongPath(this.excluded, selection)) this.reporter.warning(`${selection.join('/')}: excluded by --exclude, nothing restored from it`);
        else await this.restoreSelection(root, target, selection);
      }
    } finally {
      // Also when the walk failed: nothing is left writing once restore returns.
      await Promise.all(this.queued);
    }
    // Deepest first, so setting a parent's mtime is not undone by work in its children.
    for (const folder of this.pendingFolders.reverse()) {
      await this.attempt(folder.path, async () => setPathAttributes(folder.path, folder.entry, this.owners, this.xattrsToSet(folder.entry)));
    }
  }

  /** Restores the selected entry, its parent folders on the way to it. */
  private async restoreSelection(root: SnapshotDirectory, target: string, parts: readonly string[]): Promise<void> {
    let directory = root;
    let path = target;
    try {
      for (const [index, part] of parts.entries()) {
        const entry = await directory.child(part);
        if (!entry) throw new UsageError(`no entry ${JSON.stringify(parts.join('/'))} in the archive`);
        const entryPath = join(path, part);
        if (index === parts.length - 1 || entry.type !== 'directory') {
          const searching = this.included !== undefined && !excludedAlongPath(this.included, parts.slice(0, index + 1));
          await this.restoreChild(directory, entry, entryPath, searching);
          return;
        }
        this.foldersOnTheWay.push({ path: entryPath, entry, state: 'unmade' });
        directory = directory.subdirectory(entry);
        path = entryPath;
      }
      await this.restoreFolderContent(root, target, this.included !== undefined);
    } finally {
      this.foldersOnTheWay.length = 0;
    }
  }

  /**
   * Restores an entry of a folder being restored, after the folders on the way to it;
   * while `searching` for what --include matches, an entry that does not match is left
   * out, and a folder searched in turn.
   */
  private async restoreChild(parent: SnapshotDirectory, entry: Entry, path: string, searching: boolean): Promise<void> {
    if (!searching || this.included?.(parent.pathOf(entry))) {
      if (await this.makeFoldersOnTheWay()) await this.restoreEntry(parent, entry, path);
    } else if (entry.type === 'directory') {
      this.foldersOnTheWay.push({ path, entry, state: 'unmade' });
      try {
        await this.restoreFolderContent(parent.subdirectory(entry), path, true);
      } finally {
        this.foldersOnTheWay.pop();
      }
    }
  }

  /** Makes the folders on the way not made yet; false when one cannot be (reported once). */
  private async makeFoldersOnTheWay(): Promise<boolean> {
    for (const folder of this.foldersOnTheWay) {
      if (folder.state === 'failed') return false;
      if (folder.state === 'made') continue;
      const made = await this.attempt(folder.path, () => this.makeFolder(folder.path, folder.entry));
      folder.state = made ? 'made' : 'failed';
      if (!made) return false;
    }
    return true;
  }

  /**
   * Walks into a folder at once; queues a file or symlink for the restore-wide slots. A
   * link to dereference is resolved here in the walk, so that the folders it is inside
   * are known (openFolders) and restoring its target never waits for a slot inside one.
   */
  private async restoreEntry(parent: SnapshotDirectory, entry: Entry, path: string): Promise<void> {
    switch (entry.type) {
      case 'directory':
        if (await this.attempt(path, () => this.makeFolder(path, entry))) {
          this.summary.directories++;
          await this.restoreFolderContent(parent.subdirectory(entry), path, false);
        }
        return;
      case 'file':
        return this.queue(async () => {
          await this.attempt(path, () => this.restoreFile(entry, path));
        });
      case 'symlink': {
        const target = this.options.dereference ? await this.dereference(parent, entry, path) : undefined;
        // The target keeps its own name: links inside a folder resolve from where it really is.
        if (target?.parent) return this.restoreEntry(target.parent, target.entry, path);
        return this.queue(async () => {
          await this.attempt(path, () => this.restoreSymlink(entry, path));
        });
      }
    }
  }

  /**
   * Queues work for a slot, first waiting for the oldest queued work while QUEUED_ENTRIES
   * are queued. A failure is seen where the work is awaited (here or at the end of the
   * restore), never as an unhandled rejection.
   */
  private async queue(work: () => Promise<void>): Promise<void> {
    while (this.queued.length >= QUEUED_ENTRIES) await this.queued.shift();
    const restoring = this.fileSlots(work);
    restoring.catch(() => undefined);
    this.queued.push(restoring);
  }

  /**
   * With --dereference, the entry a symlink leads to inside the archive, restored at the
   * link's path; undefined keeps the link.
   */
  private async dereference(parent: SnapshotDirectory, link: SymlinkEntry, path: string): Promise<ResolvedEntry | undefined> {
    let resolved: ResolvedEntry | undefined;
    try {
      resolved = await this.snapshot.resolveLink(parent.path, link.target);
    } catch (error) {
      this.report(path, error); // a damaged tree on the way: the link itself is still restored
      return undefined;
    }
    const why = this.whyKeepLink(resolved);
    if (why === undefined) return resolved;
    this.reporter.warning(`${path} -> ${link.target}: kept as a symlink, ${why}`);
    return undefined;
  }

  private whyKeepLink(resolved: ResolvedEntry | undefined): string | undefined {
    if (resolved === undefined) return 'its target is not in the archive';
    if (resolved.parent === undefined) return 'it points to the root of the archive';
    const entry = resolved.entry;
    if (entry.type === 'directory' && this.openFolders.has(entry.tree.toString('hex'))) return 'it points to a folder that contains it';
    if (excludedAlongPath(this.excluded, resolved.parent.pathOf(entry).split('/'))) return 'its target is excluded';
    return undefined;
  }

  /** Restores what a folder holds; while `searching` (restoreChild), only what --include matches. */
  private async restoreFolderContent(directory: SnapshotDirectory, path: string, searching: boolean): Promise<void> {
    let entries: readonly Entry[];
    try {
      entries = await directory.entries();
    } catch (error) {
      this.report(path, error);
      return;
    }
    if (this.options.deleteUnarchived && !searching) this.deleteUnarchived(directory, entries, path);
    const tree = directory.entry.tree.toString('hex');
    this.openFolders.add(tree);
    try {
      for (const entry of entries) {
        if (!this.excluded(directory.pathOf(entry))) await this.restoreChild(directory, entry, join(path, entry.name), searching);
      }
    } finally {
      this.openFolders.delete(tree);
    }
  }

  /**
   * Removes what the target folder holds that the archive's folder does not, before its
   * entries are restored, so their room is free first. A name --exclude matches is left
   * alone: the restore was told not to touch it.
   */
  private deleteUnarchived(directory: SnapshotDirectory, entries: readonly Entry[], path: string): void {
    const archived = new Set(entries.map((entry) => entry.name));
    let names: string[];
    try {
      names = readFolderNames(path);
    } catch (error) {
      // A dry run does not make the folders it would restore.
      if (!(this.options.dryRun && isErrnoException(error) && error.code === 'ENOENT')) this.report(path, error);
      return;
    }
    for (const name of names) {
      if (archived.has(name) || this.excluded(relativeChildPath(directory.path, name))) continue;
      const unarchived = join(path, name);
      try {
        if (!this.options.dryRun) removeEntry(unarchived);
        this.summary.deleted++;
        this.reporter.info(`${this.options.dryRun ? 'would delete' : 'deleted'} ${unarchived}`);
      } catch (error) {
        this.report(unarchived, error);
      }
    }
  }

  /** With --overwrite other than always, whether the entry's path already holds what the policy keeps; `xattrs`: those the restore sets. */
  private keptAsItIs(entry: FileEntry | SymlinkEntry, path: string, xattrs: readonly ExtendedAttribute[]): boolean {
    const { overwrite } = this.options;
    if (overwrite === 'always') return false; // spares a look at every path
    const owner = this.owners && { uid: this.owners.uid(entry.uid), gid: this.owners.gid(entry.gid) };
    const existing = existingAt(path, overwrite === 'if-changed' && xattrs.length > 0);
    if (!keepsExisting(overwrite, entry, existing, { owner, xattrs })) return false;
    this.summary.kept++;
    return true;
  }

  /** Runs one item's work; a failure is reported against its path and the restore goes on. */
  private async attempt(path: string, work: () => Promise<void>): Promise<boolean> {
    try {
      await work();
      return true;
    } catch (error) {
      if (error instanceof UsageError) throw error;
      this.report(path, error);
      return false;
    }
  }

  private async makeFolder(path: string, entry: DirectoryEntry): Promise<void> {
    if (this.options.dryRun) return checkFolder(path);
    createFolder(path);
    this.pendingFolders.push({ path, entry });
  }

  /** The group lookup happens before any await, so concurrent members cannot both claim it. */
  private restoreFile(entry: FileEntry, path: string): Promise<void> {
    const linked = entry.linkGroup !== 0 && !this.options.hardDereference;
    const first = linked ? this.linkedPaths.get(entry.linkGroup) : undefined;
    if (first) return first.then((firstPath) => (firstPath === undefined ? this.writeFile(entry, path) : this.linkTo(firstPath, path, entry)));
    const writing = this.writeFile(entry, path);
    if (linked) this.linkedPaths.set(entry.linkGroup, writing.then(() => path, () => undefined));
    return writing;
  }

  /**
   * A later member of a hardlink group. With if-changed it is linked anew even when a
   * matching file is there: that may be a copy of its own rather than a link, and a link
   * costs nothing to fetch.
   */
  private async linkTo(existing: string, path: string, entry: FileEntry): Promise<void> {
    // The link shares the first member's inode, and with it the extended attributes set there.
    if (this.options.overwrite === 'if-changed' || !this.keptAsItIs(entry, path, NO_XATTRS)) {
      if (!this.options.dryRun) await createLink(existing, path);
      this.summary.files++;
    }
    this.options.progress?.advance(1, 0); // its bytes were counted with the first link
  }

  /** Content, then attributes through the still open file; a file whose content failed is removed. */
  private async writeFile(entry: FileEntry, path: string): Promise<void> {
    const xattrs = this.xattrsToSet(entry);
    if (this.keptAsItIs(entry, path, xattrs)) {
      this.options.progress?.advance(1, entry.size);
      return;
    }
    if (!this.options.dryRun) {
      const fd = await createFile(path);
      try {
        await this.writeContent(entry, fd, path);
        setFileAttributes(fd, entry, this.owners, xattrs);
      } finally {
        closeFile(fd);
      }
    }
    this.summary.files++;
    this.summary.bytes += entry.size;
    this.options.progress?.advance(1, entry.size);
  }

  /** Writes every chunk after authenticating it; on any failure the partial file is removed. */
  private async writeContent(entry: FileEntry, fd: number, path: string): Promise<void> {
    try {
      let position = 0;
      for await (const bytes of readChunksAhead(this.blocks, entry.chunks, FETCH_AHEAD)) {
        if (this.options.sparse) await writeSparse(fd, bytes, position);
        else await writeAll(fd, bytes);
        position += bytes.length;
      }
      if (this.options.sparse) setLength(fd, entry.size);
    } catch (error) {
      removeFile(path);
      throw error;
    }
  }

  private async restoreSymlink(entry: SymlinkEntry, path: string): Promise<void> {
    if (this.keptAsItIs(entry, path, NO_XATTRS)) return;
    if (!this.options.dryRun) {
      await createSymlink(path, entry.target);
      setPathAttributes(path, entry, this.owners, NO_XATTRS);
    }
    this.summary.symlinks++;
  }
}
