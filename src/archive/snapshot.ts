/**
 * The one read-side view of an archive, shared by restore, diff, verify and mount:
 * directories list their entries (fetching the folder's tree on demand), files read byte
 * ranges (fetching only the blocks that cover them).
 */
import { posix } from 'node:path';
import { FormatError } from '../errors/index.js';
import { relativeChildPath } from '../filenames/index.js';
import { type BlockId, type TreeId, idToHex } from '../store/ids.js';
import type { ArchiveMetadata } from './metadata-format.js';
import { sourceRootOf } from './source.js';
import type { ChunkRef, DirectoryEntry, Entry, FileEntry } from './entry.js';

/** Narrow capabilities the view needs from the repository. */
export interface TreeSource {
  readTree(id: TreeId): Promise<readonly Entry[]>;
}
export interface BlockSource {
  /** `length`: the block's plaintext length, when known, for the store to choose how to read it. */
  readBlock(id: BlockId, length?: number): Promise<Buffer>;
}

/**
 * A chunk's plaintext, checked against the length its folder's entry records. A block
 * authenticates by itself, but only its length ties it to the file's offsets: a tree that
 * disagrees (a hostile or buggy writer) would otherwise shift every byte after it.
 */
export async function readChunk(blocks: BlockSource, chunk: ChunkRef): Promise<Buffer> {
  const block = await blocks.readBlock(chunk.id, chunk.length);
  if (block.length !== chunk.length) {
    throw new FormatError(`block ${idToHex(chunk.id)}`, `it holds ${block.length} bytes where the folder's entry says ${chunk.length}`);
  }
  return block;
}

/**
 * A file's chunks in order, each fetched `ahead` chunks before it is wanted, so that
 * fetching overlaps whatever the caller does with the one before; the first ones are
 * fetched at once, before the iteration starts. Only those are held: a large file costs
 * `ahead` blocks of memory, not its size. A fetch that fails is seen when its chunk's turn
 * comes, never as an unhandled rejection, also when the caller never iterates.
 */
export function readChunksAhead(blocks: BlockSource, chunks: readonly ChunkRef[], ahead: number): AsyncGenerator<Buffer> {
  const start = (chunk: ChunkRef): Promise<Buffer> => {
    const fetch = readChunk(blocks, chunk);
    fetch.catch(() => undefined);
    return fetch;
  };
  const fetches = chunks.slice(0, ahead).map(start);
  return (async function* () {
    for (let index = 0; index < chunks.length; index++) {
      const next = chunks[index + ahead];
      if (next) fetches.push(start(next));
      yield await (fetches.shift() as Promise<Buffer>);
    }
  })();
}

export class SnapshotDirectory {
  constructor(
    private readonly trees: TreeSource,
    readonly entry: DirectoryEntry,
    /** Path inside the archive, '' for the root, never starting with '/'. */
    readonly path: string,
  ) {}

  entries(): Promise<readonly Entry[]> {
    return this.trees.readTree(this.entry.tree);
  }

  async child(name: string): Promise<Entry | undefined> {
    return (await this.entries()).find((entry) => entry.name === name);
  }

  pathOf(entry: Entry): string {
    return relativeChildPath(this.path, entry.name);
  }

  subdirectory(entry: DirectoryEntry): SnapshotDirectory {
    return new SnapshotDirectory(this.trees, entry, this.pathOf(entry));
  }
}

export class Snapshot {
  readonly root: SnapshotDirectory;

  constructor(
    readonly metadata: ArchiveMetadata,
    trees: TreeSource,
  ) {
    this.root = new SnapshotDirectory(trees, metadata.root, '');
  }

  /** The entry at a slash-separated path inside the archive ('' or '/' is the root), if any. */
  async lookup(path: string): Promise<Entry | undefined> {
    let directory: SnapshotDirectory | undefined;
    let entry: Entry = this.metadata.root;
    for (const part of path.split('/').filter((p) => p !== '' && p !== '.')) {
      if (entry.type !== 'directory') return undefined;
      directory = directory ? directory.subdirectory(entry) : this.root;
      const next = await directory.child(part);
      if (!next) return undefined;
      entry = next;
    }
    return entry;
  }

  /**
   * What a symlink in folder `folderPath` pointing at `target` leads to inside the archive,
   * following further symlinks; undefined when it leads outside the archive, nowhere, or
   * round in circles. An absolute target counts as inside when it is under the folder that
   * was backed up. `..` is resolved lexically.
   */
  async resolveLink(folderPath: string, target: string, hopsLeft = MAX_SYMLINK_HOPS): Promise<ResolvedEntry | undefined> {
    const inArchive = this.archivePathOf(folderPath, target);
    if (inArchive === undefined || hopsLeft === 0) return undefined;
    let resolved: ResolvedEntry = { parent: undefined, entry: this.metadata.root };
    const parts = inArchive === '' ? [] : inArchive.split('/');
    for (const [index, part] of parts.entries()) {
      if (resolved.entry.type !== 'directory') return undefined;
      const parent: SnapshotDirectory = resolved.parent ? resolved.parent.subdirectory(resolved.entry) : this.root;
      const entry = await parent.child(part);
      if (!entry) return undefined;
      if (entry.type === 'symlink') {
        const rest = parts.slice(index + 1).join('/');
        return this.resolveLink(parent.path, rest === '' ? entry.target : `${entry.target}/${rest}`, hopsLeft - 1);
      }
      resolved = { parent, entry };
    }
    return resolved;
  }

  /** The archive path a link target names, relative to the root; undefined outside the archive. */
  private archivePathOf(folderPath: string, target: string): string | undefined {
    const source = sourceRootOf(this.metadata.sourcePath);
    let path: string;
    if (posix.isAbsolute(target)) {
      const within = pathUnder(source, target);
      if (within === undefined) return undefined;
      path = posix.normalize(within);
    } else {
      path = posix.normalize(folderPath === '' ? target : `${folderPath}/${target}`);
      if (path === '..' || path.startsWith('../')) return undefined;
    }
    return path === '.' ? '' : path.replace(/^\/+|\/+$/g, '');
  }
}

/** The absolute `path` as seen from `folder` ('/x/y'; '' or '/' for the folder itself), or undefined when it is not in the folder. */
function pathUnder(folder: string, path: string): string | undefined {
  if (folder === '/') return path;
  return path === folder || path.startsWith(`${folder}/`) ? path.slice(folder.length) : undefined;
}

/** As many symlinks as Linux follows in one path before giving up with ELOOP. */
const MAX_SYMLINK_HOPS = 40;

export interface ResolvedEntry {
  /** The folder holding the entry; undefined for the root. */
  readonly parent: SnapshotDirectory | undefined;
  readonly entry: Entry;
}

/** Random-access reads of one file's content. */
export class FileContent {
  /** offsets[i] is where chunk i starts; offsets[chunks.length] is the size. */
  private readonly offsets: number[];

  constructor(
    readonly entry: FileEntry,
    private readonly blocks: BlockSource,
  ) {
    this.offsets = [0];
    for (const chunk of entry.chunks) this.offsets.push((this.offsets.at(-1) as number) + chunk.length);
  }

  /** Index of the chunk holding byte `position` (position < size), by binary search. */
  chunkIndexAt(position: number): number {
    let low = 0;
    let high = this.entry.chunks.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if ((this.offsets[middle] as number) <= position) low = middle;
      else high = middle - 1;
    }
    return low;
  }

  /**
   * Up to `length` bytes from `offset` (shorter only at the end of the file), as views
   * into the blocks that hold them, in order: a mount writes them to the kernel as they
   * are, where joining them would copy every byte of a sequential read once more.
   */
  async read(offset: number, length: number): Promise<Buffer[]> {
    const end = Math.min(offset + length, this.entry.size);
    if (offset >= end) return [];
    const first = this.chunkIndexAt(offset);
    const last = this.chunkIndexAt(end - 1);
    const pieces = await Promise.all(
      this.entry.chunks.slice(first, last + 1).map((chunk) => readChunk(this.blocks, chunk)),
    );
    return pieces.map((piece, k) => {
      const start = this.offsets[first + k] as number;
      return piece.subarray(Math.max(offset - start, 0), Math.min(end - start, piece.length));
    });
  }
}
