/**
 * What the mount shows, by path: either one archive at the root, or (no NAME given) a
 * root folder holding one folder per archive and a `latest` symlink to the newest.
 * Paths are resolved one folder at a time through the folder cache, so only folders on
 * the way to a visited path are fetched, and those a listing brings into reach
 * (fetchListingsAhead).
 */
import { constants } from 'node:fs';
import { LRUCache } from 'lru-cache';
import { type ArchiveMetadata, type DirectoryEntry, type Entry, type ExtendedAttribute, type FileEntry, NO_XATTRS } from '../src/archive/index.js';
import { relativeChildPath, shownName } from '../src/filenames/index.js';
import { type ArchiveId, idToHex } from '../src/store/ids.js';
import type { Attributes, FsStatistics } from './attributes.js';
import { type FolderCache, type Listing, entryNamed } from './folder-cache.js';
import { ReachWindow } from './folder-readahead.js';
import { type InodeTable, ROOT_INODE } from './inodes.js';
import type { OwnerMapping } from './owners.js';
import { FsError } from './reply.js';

export const LATEST = 'latest';
const STATFS_BLOCK = 4096;
const MAX_NAME_BYTES = 255;
/**
 * What cp sizes its reads by (st_blksize): the largest read fuse-native's libfuse 2 asks
 * for. Our own connection's 1 MiB requests come from the kernel's readahead whatever
 * size the reader asks for.
 */
const PREFERRED_IO_SIZE = 128 * 1024;
/** Folder paths remembered (a folder entry each): enough for several readers in several folders at once. */
const RECENT_FOLDERS = 256;

export interface MountedArchive {
  readonly id: ArchiveId;
  readonly metadata: ArchiveMetadata;
  readonly owners: OwnerMapping;
}

export type Node =
  | { readonly kind: 'catalog-root' }
  | { readonly kind: 'latest'; readonly target: string }
  /** An entry of an archive; `path` is inside the archive, '' for its root folder. */
  | { readonly kind: 'entry'; readonly archive: MountedArchive; readonly entry: Entry; readonly path: string };

export interface ViewLayout {
  /** Oldest first, as Catalog.list returns them. */
  readonly archives: readonly MountedArchive[];
  /** true: the one archive is the root; false: one folder per archive. */
  readonly single: boolean;
  /** Owner of the catalog root and of `latest`: whoever mounted. */
  readonly uid: number;
  readonly gid: number;
  /** Show extended attributes (mount --no-xattrs: none). */
  readonly xattrs: boolean;
}

export class MountView {
  private readonly byName: ReadonlyMap<string, MountedArchive>;
  /** Target of `latest`; undefined without archives or when an archive is itself named so. */
  private readonly latest: string | undefined;
  private readonly newestNs: bigint;
  /**
   * Whether extended attributes are shown: only if some archive shown has any, and not
   * with --no-xattrs. Otherwise the kernel is told the file system has none (ENOSYS) and
   * asks no more; when they are shown, `cp -a` asks twice for every file (its list, and
   * its ACL), and each answer is a round trip of about 0.1 ms here: 8.1 → 17.3 s for
   * 37,000 files (docs/MOUNT.md).
   */
  readonly hasXattrs: boolean;
  private readonly namespaces: ReadonlyMap<MountedArchive, string>;
  /** Folders resolved lately, by archive and path (folderAt). */
  private readonly recentFolders = new LRUCache<string, DirectoryEntry>({ max: RECENT_FOLDERS });

  /** Subfolders whose listings are fetched ahead of the reader (fetchListingsAhead). */
  private readonly subfoldersInReach: ReachWindow;

  constructor(
    private readonly layout: ViewLayout,
    private readonly folders: FolderCache,
    private readonly inodes: InodeTable,
    /** How many entries past a folder being listed to fetch the subfolders' listings of (0: none). */
    listingsAhead = 0,
  ) {
    this.subfoldersInReach = new ReachWindow(listingsAhead);
    this.byName = new Map(layout.archives.map((archive) => [archive.metadata.name, archive]));
    this.namespaces = new Map(layout.archives.map((archive) => [archive, idToHex(archive.id)]));
    const newest = layout.archives.at(-1);
    this.newestNs = newest?.metadata.createdAtNs ?? 0n;
    this.hasXattrs = layout.xattrs && layout.archives.some((archive) => archive.metadata.totals.xattrEntries > 0);
    this.latest = newest && !this.byName.has(LATEST) ? newest.metadata.name : undefined;
  }

  /** The node at a FUSE path ('/', '/a/b'); the kernel resolves symlinks before asking. */
  async resolve(path: string): Promise<Node> {
    const parts = path.split('/').filter((part) => part !== '');
    if (this.layout.single) return this.walk(this.layout.archives[0] as MountedArchive, parts, path);
    const [first, ...rest] = parts;
    if (first === undefined) return { kind: 'catalog-root' };
    if (first === LATEST && this.latest !== undefined && rest.length === 0) return { kind: 'latest', target: this.latest };
    const archive = this.byName.get(first);
    if (!archive) throw new FsError('ENOENT', `no archive named ${JSON.stringify(first)}`);
    return this.walk(archive, rest, path);
  }

  private async walk(archive: MountedArchive, parts: readonly string[], path: string): Promise<Node> {
    const name = parts.at(-1);
    if (name === undefined) return this.archiveRoot(archive);
    const folder = await this.folderAt(archive, parts.slice(0, -1), path);
    const entry = entryNamed(await this.folders.list(folder.tree), name);
    if (!entry) throw new FsError('ENOENT', `${path} does not exist`);
    return { kind: 'entry', archive, entry, path: parts.join('/') };
  }

  /**
   * The folder at `parts` inside the archive, on the way to `path`. Every request names its
   * file by the full path, and tar, cp and rsync ask about one folder's files in a row, so
   * the folders resolved lately are remembered instead of walked down to from the root for
   * each request (an archive never changes, so neither does what a path leads to).
   */
  private async folderAt(archive: MountedArchive, parts: readonly string[], path: string): Promise<DirectoryEntry> {
    const key = `${this.namespaceOf(archive)}/${parts.join('/')}`;
    const known = this.recentFolders.get(key);
    if (known) return known;
    let entry: Entry = archive.metadata.root;
    for (const part of parts) {
      if (entry.type !== 'directory') break;
      const next = entryNamed(await this.folders.list(entry.tree), part);
      if (!next) throw new FsError('ENOENT', `${path} does not exist`);
      entry = next;
    }
    if (entry.type !== 'directory') throw new FsError('ENOTDIR', `${path}: a part of it is not a folder`);
    this.recentFolders.set(key, entry);
    return entry;
  }

  /** The listing of the folder at a path, if it is a folder of an archive. */
  async listing(path: string): Promise<Listing | undefined> {
    const node = await this.resolve(path);
    return node.kind === 'entry' && node.entry.type === 'directory' ? this.folders.list(node.entry.tree) : undefined;
  }

  /** The file at a path, and the listing of the folder that holds it. */
  async file(path: string): Promise<{ file: FileEntry; folder: Listing; position: number }> {
    const cut = path.lastIndexOf('/');
    const folder = await this.listing(path.slice(0, cut));
    if (!folder) throw new FsError('EISDIR', `${path} is not a file`);
    const position = folder.positions.get(path.slice(cut + 1)) ?? -1;
    const file = folder.entries[position];
    if (!file) throw new FsError('ENOENT', `${path} does not exist`);
    // The kernel reads folders with readdir and follows symlinks, so only files come here.
    if (file.type !== 'file') throw new FsError('EISDIR', `${path} is not a file`);
    return { file, folder, position };
  }

  /** Names and nodes of a folder's content, with '.' and '..' first. */
  async list(path: string): Promise<{ names: string[]; nodes: Node[] }> {
    const node = await this.resolve(path);
    const parentPath = path.slice(0, Math.max(path.lastIndexOf('/'), 1));
    const parent = path === '/' ? node : await this.resolve(parentPath);
    const children = await this.children(node);
    // Only saves waiting: a listing that cannot be fetched is reported by the request that needs it.
    this.fetchListingsAhead(node, parent, path.slice(path.lastIndexOf('/') + 1)).catch(() => undefined);
    return { names: ['.', '..', ...children.map(([name]) => name)], nodes: [node, parent, ...children.map(([, child]) => child)] };
  }

  private async children(node: Node): Promise<[string, Node][]> {
    if (node.kind === 'catalog-root') {
      const folders = this.layout.archives.map((archive): [string, Node] => [archive.metadata.name, this.archiveRoot(archive)]);
      return this.latest === undefined ? folders : [...folders, [LATEST, { kind: 'latest', target: this.latest }]];
    }
    if (node.kind !== 'entry' || node.entry.type !== 'directory') throw new FsError('ENOTDIR', 'not a folder');
    const { archive, path } = node;
    const listing = await this.folders.list(node.entry.tree);
    // Named as the kernel will name them back (shownName), so that a path means one thing here.
    return listing.entries.map((entry) => {
      const name = shownName(entry.name);
      return [name, { kind: 'entry', archive, entry, path: relativeChildPath(path, name) }];
    });
  }

  /**
   * tar, cp -a and rsync list a folder's subfolders one after another in listing order,
   * each once everything below the one before is copied. So listing `folder` (`name` in
   * `parent`) starts fetching the listings of its first subfolders and of the subfolders
   * that follow it in its parent, which are then in the folder cache when listed.
   */
  private async fetchListingsAhead(folder: Node, parent: Node, name: string): Promise<void> {
    if (folder.kind === 'entry' && folder.entry.type === 'directory') this.fetchSubfolders(await this.folders.list(folder.entry.tree), -1);
    if (parent === folder || parent.kind !== 'entry' || parent.entry.type !== 'directory') return;
    const siblings = await this.folders.list(parent.entry.tree);
    this.fetchSubfolders(siblings, siblings.positions.get(name) ?? -1);
  }

  /** Starts fetching the listings of the subfolders that come into reach of a reader at `position` of `listing`. */
  private fetchSubfolders(listing: Listing, position: number): void {
    const [start, end] = this.subfoldersInReach.newlyInReach(listing, position);
    for (let index = start; index < end; index++) {
      const entry = listing.entries[index];
      if (entry?.type === 'directory') this.folders.prefetch(entry.tree);
    }
  }

  private archiveRoot(archive: MountedArchive): Node {
    return { kind: 'entry', archive, entry: archive.metadata.root, path: '' };
  }

  stat(node: Node): Attributes {
    switch (node.kind) {
      case 'catalog-root':
        return this.attributes(constants.S_IFDIR | 0o555, ROOT_INODE, 0, 1, this.newestNs, this.layout);
      case 'latest':
        return this.attributes(constants.S_IFLNK | 0o777, this.inodes.inodeOf('', LATEST), Buffer.byteLength(node.target), 1, this.newestNs, this.layout);
      case 'entry':
        return this.entryStat(node.archive, node.entry, node.path);
    }
  }

  private entryStat(archive: MountedArchive, entry: Entry, path: string): Attributes {
    const owner = { uid: archive.owners.uid(entry.uid), gid: archive.owners.gid(entry.gid) };
    const inode = this.inodeOf(archive, entry, path);
    switch (entry.type) {
      case 'directory':
        // nlink 1 tells find and fts "subfolder count unknown", so they never skip a folder.
        return this.attributes(constants.S_IFDIR | entry.mode, inode, 0, 1, entry.mtimeNs, owner);
      case 'symlink':
        return this.attributes(constants.S_IFLNK | entry.mode, inode, Buffer.byteLength(shownName(entry.target)), 1, entry.mtimeNs, owner);
      case 'file': {
        const links = entry.linkGroup === 0 ? 1 : (archive.metadata.linkGroupSizes.get(entry.linkGroup) ?? 1);
        return this.attributes(constants.S_IFREG | entry.mode, inode, entry.size, links, entry.mtimeNs, owner);
      }
    }
  }

  /** The archive's id in hex: what its inode numbers and remembered folders are keyed by. */
  private namespaceOf(archive: MountedArchive): string {
    return this.namespaces.get(archive) as string;
  }

  private inodeOf(archive: MountedArchive, entry: Entry, path: string): number {
    if (path === '' && this.layout.single) return ROOT_INODE;
    const namespace = this.namespaceOf(archive);
    // Hardlinked files share the group's number, so cp -a, rsync -H and tar see one file.
    return entry.type === 'file' && entry.linkGroup !== 0
      ? this.inodes.inodeOf(namespace, `link group ${entry.linkGroup}`)
      : this.inodes.inodeOf(namespace, `/${path}`);
  }

  private attributes(mode: number, ino: number, size: number, nlink: number, mtimeNs: bigint, owner: { uid: number; gid: number }): Attributes {
    return { mode, uid: owner.uid, gid: owner.gid, size, nlink, ino, blksize: PREFERRED_IO_SIZE, mtimeNs };
  }

  /** The extended attributes archived with the node's entry; none for the catalog's root and `latest`. */
  xattrsOf(node: Node): readonly ExtendedAttribute[] {
    return node.kind === 'entry' ? node.entry.xattrs : NO_XATTRS;
  }

  async readlink(path: string): Promise<string> {
    const node = await this.resolve(path);
    if (node.kind === 'latest') return node.target;
    // As the names are shown, so that a link to a sibling whose name is not UTF-8 leads to it.
    if (node.kind === 'entry' && node.entry.type === 'symlink') return shownName(node.entry.target);
    throw new FsError('EINVAL', `${path} is not a symlink`);
  }

  statfs(): FsStatistics {
    const totals = this.layout.archives.map((archive) => archive.metadata.totals);
    const bytes = totals.reduce((sum, t) => sum + t.bytes, 0);
    const entries = totals.reduce((sum, t) => sum + t.files + t.directories + t.symlinks, 0);
    return { blockSize: STATFS_BLOCK, blocks: Math.ceil(bytes / STATFS_BLOCK), files: entries, nameMax: MAX_NAME_BYTES };
  }
}
