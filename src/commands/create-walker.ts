/**
 * One walk of the folder being backed up: each folder becomes a tree object written
 * after its children, each file a chunk list — from the cache when the file is unchanged
 * and its blocks are on the backend, otherwise read, chunked and stored.
 */
import type { BigIntStats } from 'node:fs';
import { type FileHandle, lstat, readdir, readlink, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import pLimit from 'p-limit';
import {
  type ChunkRef,
  type DirectoryEntry,
  type Entry,
  type EntryAttributes,
  type FileEntry,
  type ArchiveTotals,
  compareNames,
  encodeTree,
} from '../archive/index.js';
import { type ChunkListCache, type FileFingerprint, fingerprintOf } from '../cache/index.js';
import { isErrnoException } from '../errors/index.js';
import type { Repository } from '../repository/index.js';
import { compileExcludes, type ExcludeTest } from '../selection/index.js';
import type { ProgressListener } from './progress.js';
import type { ProblemReporter } from './reporting.js';
import { SourceError, fromSource, readConsistently } from './source.js';

export interface WalkOptions {
  readonly excludes: readonly string[];
  readonly dereference: boolean;
  readonly oneFileSystem: boolean;
}

export interface WalkContext {
  readonly repository: Pick<Repository, 'blocks' | 'trees' | 'chunker'>;
  readonly cache: ChunkListCache;
  readonly reporter: ProblemReporter;
  /** dev:ino of folders never to back up (the cache's own folder). */
  readonly skippedFolders: ReadonlySet<string>;
  /** Ciphertext bytes uploaded, summed over every walk of one create. */
  readonly stored: { bytes: number };
  readonly progress: ProgressListener;
}

/** A file whose content this walk read, with its metadata as read, for the rescan. */
export interface FileRead {
  readonly path: string;
  readonly fingerprint: FileFingerprint;
}

/** Files read and stored at once, across the whole walk: overlaps reads, encryption and fsyncs. */
const PARALLEL_FILES = 16;
/** lstat calls at once. */
const PARALLEL_STATS = 16;
/** A file modified this recently may still change within the same timestamp: not cached. */
const RACY_NS = 2_000_000_000n;

interface Child {
  readonly name: string;
  readonly path: string;
  readonly relativePath: string;
}

type Totals = { -readonly [K in keyof ArchiveTotals]: ArchiveTotals[K] };

export class TreeWalker {
  readonly totals: Totals = { files: 0, directories: 0, symlinks: 0, bytes: 0, storedBytes: 0, skipped: 0 };
  readonly uids = new Set<number>();
  readonly gids = new Set<number>();
  readonly linkGroupSizes = new Map<number, number>();
  readonly filesRead: FileRead[] = [];
  /** Files whose chunk list came from the cache. */
  filesUnchanged = 0;
  /** dev:ino of multiply-linked files already stored, so their content is read once. */
  private readonly hardlinks = new Map<string, Promise<FileEntry>>();
  private readonly isExcluded: ExcludeTest;
  private readonly fileSlots = pLimit(PARALLEL_FILES);
  private readonly statSlots = pLimit(PARALLEL_STATS);
  private readonly startedNs = BigInt(Date.now()) * 1_000_000n;

  constructor(
    private readonly context: WalkContext,
    private readonly options: WalkOptions,
    /** The folder being backed up, and the device it is on (for --one-file-system). */
    private readonly root: { readonly path: string; readonly device: bigint },
  ) {
    this.isExcluded = compileExcludes(options.excludes);
  }

  private attributes(name: string, info: BigIntStats): EntryAttributes {
    const uid = Number(info.uid);
    const gid = Number(info.gid);
    this.uids.add(uid);
    this.gids.add(gid);
    return { name, mode: Number(info.mode & 0o7777n), uid, gid, mtimeNs: info.mtimeNs };
  }

  /** Stores a folder's tree; `ancestors` holds dev:ino of the folders above, to stop symlink loops. */
  async directory(path: string, relativePath: string, info: BigIntStats, ancestors: ReadonlySet<string>): Promise<DirectoryEntry> {
    this.totals.directories++;
    const crossesDevice = this.options.oneFileSystem && info.dev !== this.root.device;
    const names = crossesDevice ? [] : await fromSource(path, () => readdir(path));
    const inside = new Set(ancestors).add(identity(info));
    const children = names
      .sort(compareNames)
      .map((name) => ({ name, path: join(path, name), relativePath: relativePath === '' ? name : `${relativePath}/${name}` }))
      .filter((child) => !this.isExcluded(child.relativePath));
    const infos = await Promise.all(children.map((child) => this.statSlots(() => this.skippingUnreadable(() => this.statEntry(child.path)))));
    const entries: (Entry | undefined)[] = [];
    const isFolder = (i: number) => infos[i]?.isDirectory() === true;
    const indices = [...children.keys()].filter((i) => infos[i] !== undefined && !this.context.skippedFolders.has(identity(infos[i] as BigIntStats)));
    // Files queue for the walk-wide slots and are stored while the walk goes on into the
    // subfolders, one at a time; the folder's tree waits for both.
    const files = indices
      .filter((i) => !isFolder(i))
      .map((i) => this.fileSlots(() => this.nonFolder(children[i] as Child, infos[i] as BigIntStats)).then((entry) => (entries[i] = entry)));
    const walkFolders = async () => {
      for (const i of indices.filter(isFolder)) entries[i] = await this.subfolder(children[i] as Child, infos[i] as BigIntStats, inside);
    };
    // One Promise.all over both, so that a failure on either side never leaves the other's
    // rejection unhandled (which would end the process with a stack trace).
    await Promise.all([walkFolders(), ...files]);
    const { id, storedBytes } = await this.context.repository.trees.put(encodeTree(entries.filter((e) => e !== undefined)));
    this.addStored(storedBytes);
    return { ...this.attributes(relativePath.slice(relativePath.lastIndexOf('/') + 1), info), type: 'directory', tree: id };
  }

  private addStored(bytes: number): void {
    this.totals.storedBytes += bytes;
    this.context.stored.bytes += bytes;
  }

  private subfolder(child: Child, info: BigIntStats, ancestors: ReadonlySet<string>): Promise<Entry | undefined> {
    if (ancestors.has(identity(info))) {
      this.context.reporter.warning(`${child.path}: skipped, it is a symlink loop back to a folder above it`);
      return Promise.resolve(undefined);
    }
    return this.skippingUnreadable(() => this.directory(child.path, child.relativePath, info, ancestors));
  }

  private nonFolder(child: Child, info: BigIntStats): Promise<Entry | undefined> {
    return this.skippingUnreadable(async () => {
      if (info.isFile()) return this.file(child.path, child.name, info);
      if (info.isSymbolicLink()) {
        const target = await fromSource(child.path, () => readlink(child.path));
        if (this.options.dereference) this.context.reporter.warning(`${child.path} -> ${target}: kept as a symlink, its target does not exist`);
        else await this.checkLinkTarget(child.path, target);
        this.totals.symlinks++;
        return { ...this.attributes(child.name, info), type: 'symlink', target };
      }
      this.context.reporter.warning(`${child.path}: skipped, ${fileTypeName(info)} are not backed up`);
      return undefined;
    });
  }

  /** Says when a link is backed up but what it points to is not, naming the link's text. */
  private async checkLinkTarget(path: string, target: string): Promise<void> {
    const pointsTo = resolve(dirname(path), target);
    const inside = relative(this.root.path, pointsTo);
    if (inside.startsWith('..') || isAbsolute(inside)) {
      this.context.reporter.info(`${path} -> ${target}: the link is backed up; what it points to is outside ${this.root.path}`);
    } else if (this.isExcludedWithParents(inside) || !(await lstat(pointsTo).then(() => true, () => false))) {
      this.context.reporter.warning(`${path} -> ${target}: the link is backed up, but what it points to is excluded or missing`);
    }
  }

  private isExcludedWithParents(relativePath: string): boolean {
    const parts = relativePath.split('/');
    return parts.some((_, i) => this.isExcluded(parts.slice(0, i + 1).join('/')));
  }

  /** Runs work on one source entry; if reading the source fails, the entry (named by the error) is reported and left out. */
  private async skippingUnreadable<T>(work: () => Promise<T>): Promise<T | undefined> {
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof SourceError)) throw error;
      this.totals.skipped++;
      this.context.reporter.problem(error.path, error.cause);
      return undefined;
    }
  }

  /** lstat, or with --dereference stat; a dangling link is then kept as a link. */
  private async statEntry(path: string): Promise<BigIntStats> {
    if (this.options.dereference) {
      try {
        return await stat(path, { bigint: true });
      } catch (error) {
        // A dangling link is kept as a link; nonFolder() says so, with the link's text.
        if (!(isErrnoException(error) && (error.code === 'ENOENT' || error.code === 'ELOOP'))) throw new SourceError(path, error);
      }
    }
    return fromSource(path, () => lstat(path, { bigint: true }));
  }

  private async file(path: string, name: string, info: BigIntStats): Promise<FileEntry> {
    if (info.nlink === 1n) return this.fileWithContent(path, name, info, 0);
    // The first link seen stores the content; the others wait for it and share it.
    const key = identity(info);
    const earlier = this.hardlinks.get(key);
    if (earlier) {
      const first = await earlier;
      this.totals.files++;
      this.context.progress.advance(1, 0); // content counted with the first link
      this.linkGroupSizes.set(first.linkGroup, (this.linkGroupSizes.get(first.linkGroup) ?? 0) + 1);
      return { ...first, ...this.attributes(name, info) };
    }
    const linkGroup = this.hardlinks.size + 1;
    const stored = this.fileWithContent(path, name, info, linkGroup);
    this.hardlinks.set(key, stored);
    await stored;
    this.linkGroupSizes.set(linkGroup, 1);
    return stored;
  }

  private async fileWithContent(path: string, name: string, statInfo: BigIntStats, linkGroup: number): Promise<FileEntry> {
    const { chunks, info } = await this.content(path, statInfo);
    const size = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    this.totals.files++;
    this.totals.bytes += size;
    this.context.progress.advance(1, size);
    return { ...this.attributes(name, info), type: 'file', size, linkGroup, chunks };
  }

  /**
   * The chunk list from the cache when the file is unchanged and every block is still on
   * the backend (blocks may have been deleted, or this may be a copy of half a backend);
   * otherwise read and stored. The metadata returned is the one matching the content.
   */
  private async content(path: string, statInfo: BigIntStats): Promise<{ chunks: readonly ChunkRef[]; info: BigIntStats }> {
    const fingerprint = fingerprintOf(statInfo);
    const cached = await this.context.cache.lookup(path, fingerprint);
    if (cached && (await this.allStored(cached))) {
      this.filesUnchanged++;
      // Remembered again so that this run counts as having seen it (see forgetUnseen).
      await this.context.cache.remember(path, { fingerprint, chunks: cached });
      return { chunks: cached, info: statInfo };
    }
    const { result: chunks, info } = await readConsistently(path, statInfo, (handle, size) => this.storeChunks(path, handle, size));
    const read = fingerprintOf(info);
    this.filesRead.push({ path, fingerprint: read });
    if (read.mtimeNs < this.startedNs - RACY_NS) await this.context.cache.remember(path, { fingerprint: read, chunks });
    return { chunks, info };
  }

  private async allStored(chunks: readonly ChunkRef[]): Promise<boolean> {
    for (const chunk of chunks) if (!(await this.context.repository.blocks.has(chunk.id))) return false;
    return true;
  }

  private async storeChunks(path: string, handle: FileHandle, size: number): Promise<ChunkRef[]> {
    const chunks: ChunkRef[] = [];
    const source = this.context.repository.chunker.chunks(handle, size)[Symbol.asyncIterator]();
    for (;;) {
      const next = await fromSource(path, () => source.next());
      if (next.done) return chunks;
      const { id, storedBytes } = await this.context.repository.blocks.put(next.value);
      this.addStored(storedBytes);
      chunks.push({ id, length: next.value.length });
    }
  }
}

/** dev:ino, which names a file or folder uniquely while it exists. */
export function identity(info: BigIntStats): string {
  return `${info.dev}:${info.ino}`;
}

function fileTypeName(info: BigIntStats): string {
  if (info.isSocket()) return 'sockets';
  if (info.isFIFO()) return 'named pipes';
  if (info.isBlockDevice()) return 'block devices';
  if (info.isCharacterDevice()) return 'character devices';
  return 'files of this type';
}
