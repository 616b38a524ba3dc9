/**
 * The paths a create backs up. One folder becomes the archive's root, as it always did.
 * Several paths, or one that is not a folder, are kept where they lie under '/', as
 * restic and borg keep them: the walk starts at '/', and the folders on the way to a
 * path given hold only what leads to one (docs/DESIGN.md "Several paths").
 *
 * A path inside another is backed up with it, but still counts as given: the walk keeps
 * to its device under --one-file-system (`create NAME / /media/usb`, as restic's), and
 * tags do not leave it out.
 */
import { encodeSource } from '../archive/index.js';

/** A path given to create, absolute, with what stat (or lstat, for a dangling link) said of it. */
export interface GivenPath {
  readonly path: string;
  readonly info: { readonly dev: bigint; isDirectory(): boolean };
}

export class SourcePaths {
  private constructor(
    /** The folder the walk starts from: the outermost path given when it is the one, and a folder; '/' otherwise. */
    readonly root: string,
    /** The paths given, relative to root ('' for root itself), each with its device. */
    private readonly given: ReadonlyMap<string, bigint>,
    /** The folders above a path given, relative to root. */
    private readonly onTheWay: ReadonlySet<string>,
  ) {}

  static of(paths: readonly GivenPath[]): SourcePaths {
    const byPath = new Map(paths.map((entry) => [entry.path, entry]));
    const outermost = [...byPath.values()].filter(({ path }) => !foldersAbove(path).some((folder) => byPath.has(folder)));
    const only = outermost.length === 1 ? outermost[0] : undefined;
    const root = only?.info.isDirectory() ? only.path : '/';
    const given = new Map([...byPath.values()].map(({ path, info }) => [relativeTo(root, path), info.dev]));
    const onTheWay = new Set([...given.keys()].flatMap((relative) => foldersAbove(`/${relative}`).map((folder) => folder.slice(1))));
    return new SourcePaths(root, given, onTheWay);
  }

  /** Whether root was given itself, so that everything under it is backed up. */
  get isWhole(): boolean {
    return this.given.has('');
  }

  /** The paths given, absolute, sorted. */
  get paths(): string[] {
    return [...this.given.keys()].map((relative) => (relative === '' ? this.root : this.root === '/' ? `/${relative}` : `${this.root}/${relative}`)).sort();
  }

  /** What the archive records as its source (src/archive/source.ts): root alone when it was all that was given. */
  get sourcePath(): string {
    return this.isWhole && this.given.size === 1 ? encodeSource(this.root) : encodeSource(this.root, this.paths);
  }

  /**
   * What a folder's cache record depends on, for the digest of the walk's options: which
   * paths (a record made for other paths holds other children) and their devices (for
   * --one-file-system). One folder's fields are as they were before several paths could be
   * given, so that its cache stays valid.
   */
  digestFields(): { readonly root: string; readonly device: string } {
    const devices = [...this.given].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, device]) => String(device));
    return { root: this.sourcePath, device: devices.join(' ') };
  }

  /** Whether the entry at `relativePath` is backed up (unless excluded): inside a path given, or on the way to one. */
  keeps(relativePath: string): boolean {
    return this.isWhole || this.onTheWay.has(relativePath) || this.givenAtOrAbove(relativePath) !== undefined;
  }

  /** Whether the folder lies below a path given, where --exclude-caches and --exclude-if-present apply: a path given is backed up because it was asked for. */
  isBelowGiven(relativePath: string): boolean {
    const given = this.givenAtOrAbove(relativePath);
    return given !== undefined && given !== relativePath;
  }

  /** The device of the innermost path given that the folder is in (--one-file-system stays on it); undefined on the way to one. */
  deviceFor(relativePath: string): bigint | undefined {
    const given = this.givenAtOrAbove(relativePath);
    return given === undefined ? undefined : this.given.get(given);
  }

  /** The paths given, to name them in a message. */
  describe(): string {
    return this.paths.join(', ');
  }

  /** The innermost path given at or above `relativePath`, if any. */
  private givenAtOrAbove(relativePath: string): string | undefined {
    for (let path = relativePath; ; path = parentOf(path)) {
      if (this.given.has(path)) return path;
      if (path === '') return undefined;
    }
  }
}

/** The folders above an absolute path, from '/' down. */
function foldersAbove(path: string): string[] {
  const folders: string[] = [];
  for (let folder = path; folder !== '/'; ) {
    folder = folder.slice(0, folder.lastIndexOf('/')) || '/';
    folders.unshift(folder);
  }
  return folders;
}

/** `path` (absolute, at or below `root`) relative to root. */
function relativeTo(root: string, path: string): string {
  if (root === '/') return path.slice(1);
  return path === root ? '' : path.slice(root.length + 1);
}

function parentOf(relativePath: string): string {
  const slash = relativePath.lastIndexOf('/');
  return slash < 0 ? '' : relativePath.slice(0, slash);
}
