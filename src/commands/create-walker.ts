/**
 * One walk of the folder being backed up: each folder becomes a tree object written
 * after its children, each file a chunk list — from the cache when the file is unchanged
 * and its blocks are on the backend, otherwise read, chunked and stored.
 */
import { type FileHandle, lstat, readlink } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import pLimit, { type LimitFunction } from 'p-limit';
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
import type { EntryStats } from '../pipeline/entry-stats.js';
import { SMALL_FILE_LIMIT, type SourceReader } from '../pipeline/source-reader.js';
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
  readonly source: Pick<SourceReader, 'scan' | 'read'>;
  readonly reporter: ProblemReporter;
  /** dev:ino of folders never to back up (the cache's own folder). */
  readonly skippedFolders: ReadonlySet<string>;
  readonly progress: ProgressListener;
}

/** A file whose content this walk read, with its metadata as read, for the rescan. */
export interface FileRead {
  readonly path: string;
  readonly fingerprint: FileFingerprint;
}

/**
 * Files read and stored at once, across the whole walk. Small files are many and cheap
 * (read on worker threads, in batches: enough of them to fill batches for every core);
 * a large one holds a read buffer of up to 8 MiB and keeps the main thread busy.
 */
const PARALLEL_SMALL_FILES = 128;
const PARALLEL_LARGE_FILES = 4;
/** Files the walk may queue ahead of those being stored (their entries and chunk lists wait in memory). */
const MAX_FILES_QUEUED = 1024;
/** Subfolders scanned ahead of their turn, per folder being walked. */
const SCAN_AHEAD = 4;
/** A file modified this recently may still change within the same timestamp: not cached. */
const RACY_NS = 2_000_000_000n;

interface Child {
  readonly name: string;
  readonly path: string;
  readonly relativePath: string;
}

interface HardlinkGroup {
  /** The link that stores the content. */
  readonly firstPath: string;
  readonly linkGroup: number;
  /** The first link's entry, once stored. */
  readonly stored: Promise<FileEntry>;
  readonly settle: (stored: Promise<FileEntry>) => void;
}

interface FolderScan {
  readonly children: readonly Child[];
  /** Per child: its metadata, or undefined when it could not be read or is never backed up. */
  readonly infos: readonly (EntryStats | undefined)[];
  /** Settles once findUnchanged() has noted the folder's unchanged files. */
  readonly unchangedFound: Promise<void>;
}

/** A folder whose walk is done; its entry settles once everything under it is stored. */
interface FolderWalked {
  readonly entry: Promise<DirectoryEntry | undefined>;
}

const LEFT_OUT: FolderWalked = { entry: Promise.resolve(undefined) };

/**
 * Counts files queued or being stored, so that the walk waits (room()) rather than run
 * ahead of the writes by more than a bounded number of files.
 */
class QueuedFiles {
  private count = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async room(): Promise<void> {
    while (this.count >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  track<T>(work: Promise<T>): Promise<T> {
    this.count++;
    return work.finally(() => {
      this.count--;
      this.waiting.shift()?.();
    });
  }
}

/** The archive's totals but the bytes stored, which create counts once the writes behind the walk are done. */
type WalkTotals = { -readonly [K in Exclude<keyof ArchiveTotals, 'storedBytes'>]: ArchiveTotals[K] };

export class TreeWalker {
  readonly totals: WalkTotals = { files: 0, directories: 0, symlinks: 0, bytes: 0, skipped: 0 };
  readonly uids = new Set<number>();
  readonly gids = new Set<number>();
  readonly linkGroupSizes = new Map<number, number>();
  readonly filesRead: FileRead[] = [];
  /** Files whose chunk list came from the cache. */
  filesUnchanged = 0;
  /** Files of the folders being walked that findUnchanged() found unchanged, by path, with their chunk lists. */
  private readonly unchanged = new Map<string, readonly ChunkRef[]>();
  /** Multiply-linked files by dev:ino, so that their content is read once (claimHardlink). */
  private readonly hardlinks = new Map<string, HardlinkGroup>();
  private readonly isExcluded: ExcludeTest;
  private readonly smallFileSlots = pLimit(PARALLEL_SMALL_FILES);
  private readonly largeFileSlots = pLimit(PARALLEL_LARGE_FILES);
  private readonly queuedFiles = new QueuedFiles(MAX_FILES_QUEUED);
  private readonly startedNs = BigInt(Date.now()) * 1_000_000n;

  constructor(
    private readonly context: WalkContext,
    private readonly options: WalkOptions,
    /** The folder being backed up, and the device it is on (for --one-file-system). */
    private readonly root: { readonly path: string; readonly device: bigint },
  ) {
    this.isExcluded = compileExcludes(options.excludes);
  }

  private attributes(name: string, info: EntryStats): EntryAttributes {
    const uid = Number(info.uid);
    const gid = Number(info.gid);
    this.uids.add(uid);
    this.gids.add(gid);
    return { name, mode: Number(info.mode & 0o7777n), uid, gid, mtimeNs: info.mtimeNs };
  }

  /** Stores a folder's tree, with everything under it; `ancestors` holds dev:ino of the folders above, to stop symlink loops. */
  async directory(path: string, relativePath: string, info: EntryStats, ancestors: ReadonlySet<string>): Promise<DirectoryEntry> {
    return (await this.walk(path, relativePath, info, ancestors)).entry;
  }

  /**
   * Walks a folder: queues its files and walks its subfolders, one after the other. It
   * returns once the walk is done, with the folder's entry still to come: its tree is
   * written when its files are stored and its subfolders' trees written, while the walk
   * goes on to the next folders — no more than MAX_FILES_QUEUED files ahead of the writes.
   * `scanned` is the folder's scan when it was started ahead of time.
   */
  private async walk(path: string, relativePath: string, info: EntryStats, ancestors: ReadonlySet<string>, scanned?: Promise<FolderScan>): Promise<{ readonly entry: Promise<DirectoryEntry> }> {
    this.totals.directories++;
    const { children, infos, unchangedFound } = await (scanned ?? this.scan(path, relativePath, info));
    const isFolder = (i: number) => infos[i]?.isDirectory() === true;
    const indices = [...children.keys()].filter((i) => infos[i] !== undefined);
    await this.queuedFiles.room();
    // Files wait for the cache's answer about them; the subfolders do not.
    const files = indices
      .filter((i) => !isFolder(i))
      .map((i) => {
        this.claimHardlink((children[i] as Child).path, infos[i] as EntryStats);
        return this.queuedFiles.track(this.slotsFor(infos[i] as EntryStats)(async () => {
          await unchangedFound;
          return this.nonFolder(children[i] as Child, infos[i] as EntryStats);
        })).then((entry) => [i, entry] as const);
      });
    // A failure must not be left unhandled while the walk goes on: entry (below) awaits them all.
    for (const file of files) file.catch(() => undefined);
    const folders = indices.filter(isFolder);
    const subfolders = await this.subfolders(folders.map((i) => ({ child: children[i] as Child, info: infos[i] as EntryStats })), new Set(ancestors).add(identity(info)));
    const entry = (async (): Promise<DirectoryEntry> => {
      const entries: (Entry | undefined)[] = [];
      const [, ...stored] = await Promise.all([unchangedFound, ...files, ...subfolders.map((walked, k) => walked.entry.then((e) => [folders[k] as number, e] as const))]);
      for (const [i, childEntry] of stored) entries[i] = childEntry;
      const id = await this.context.repository.trees.put(encodeTree(entries.filter((e) => e !== undefined)));
      return { ...this.attributes(relativePath.slice(relativePath.lastIndexOf('/') + 1), info), type: 'directory', tree: id };
    })();
    entry.catch(() => undefined);
    return { entry };
  }

  /**
   * A folder's children, not excluded, with their metadata (undefined for one that could
   * not be read or is never backed up), and its unchanged files being looked for (findUnchanged).
   */
  private async scan(path: string, relativePath: string, info: EntryStats): Promise<FolderScan> {
    const crossesDevice = this.options.oneFileSystem && info.dev !== this.root.device;
    const listing = crossesDevice ? { names: [], stats: [] } : await fromSource(path, () => this.context.source.scan(path, this.options.dereference));
    const children = listing.names
      .map((name, i) => ({ name, path: join(path, name), relativePath: relativePath === '' ? name : `${relativePath}/${name}`, stats: listing.stats[i] }))
      .filter((child) => !this.isExcluded(child.relativePath))
      .sort((a, b) => compareNames(a.name, b.name));
    const infos = children.map(({ path: childPath, stats }) => {
      if (stats instanceof Error) return this.reportUnreadable(new SourceError(childPath, stats));
      return stats && !this.context.skippedFolders.has(identity(stats)) ? stats : undefined;
    });
    const unchangedFound = this.findUnchanged(children.flatMap((child, i) => (infos[i]?.isFile() ? [{ path: child.path, info: infos[i] }] : [])));
    // Awaited by walk(); until then a failure must not count as unhandled.
    unchangedFound.catch(() => undefined);
    return { children, infos, unchangedFound };
  }

  /**
   * Subfolders one after the other (depth first, which bounds memory), each scanned a few
   * folders before its turn, so that their readdir, lstat and cache round trips overlap
   * with the work on the folders before them.
   */
  private async subfolders(folders: readonly { readonly child: Child; readonly info: EntryStats }[], inside: ReadonlySet<string>): Promise<FolderWalked[]> {
    const scans: Promise<FolderScan>[] = [];
    const scanEarly = (k: number) => {
      const folder = folders[k];
      if (!folder || scans[k] || inside.has(identity(folder.info))) return;
      const scan = this.scan(folder.child.path, folder.child.relativePath, folder.info);
      // Awaited in its turn, where a failure is reported; until then it is not unhandled.
      scan.catch(() => undefined);
      scans[k] = scan;
    };
    const walked: FolderWalked[] = [];
    for (const [k, { child, info }] of folders.entries()) {
      for (let ahead = k; ahead <= k + SCAN_AHEAD; ahead++) scanEarly(ahead);
      walked.push(await this.subfolder(child, info, inside, scans[k]));
    }
    return walked;
  }

  /**
   * Notes which of a folder's files are unchanged since the cache saw them and still have
   * every block on the backend (blocks may have been deleted, or this may be a copy of
   * half a backend): one cache read and one existence check for the whole folder.
   */
  private async findUnchanged(files: readonly { readonly path: string; readonly info: EntryStats }[]): Promise<void> {
    const lists = await this.context.cache.lookup(files.map(({ path, info }) => ({ path, fingerprint: fingerprintOf(info) })));
    const present = await this.context.repository.blocks.hasMany(lists.flatMap((chunks) => chunks?.map((chunk) => chunk.id) ?? []));
    let next = 0;
    lists.forEach((chunks, i) => {
      if (!chunks) return;
      const stored = present.slice(next, next + chunks.length).every(Boolean);
      next += chunks.length;
      if (stored) this.unchanged.set((files[i] as (typeof files)[number]).path, chunks);
    });
  }

  private slotsFor(info: EntryStats): LimitFunction {
    return info.size <= SMALL_FILE_LIMIT ? this.smallFileSlots : this.largeFileSlots;
  }

  /** A subfolder walked, or left out (its entry undefined) when it loops back or cannot be read. */
  private async subfolder(child: Child, info: EntryStats, ancestors: ReadonlySet<string>, scanned: Promise<FolderScan> | undefined): Promise<FolderWalked> {
    if (ancestors.has(identity(info))) {
      this.context.reporter.warning(`${child.path}: skipped, it is a symlink loop back to a folder above it`);
      return LEFT_OUT;
    }
    return (await this.skippingUnreadable(() => this.walk(child.path, child.relativePath, info, ancestors, scanned))) ?? LEFT_OUT;
  }

  private nonFolder(child: Child, info: EntryStats): Promise<Entry | undefined> {
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
      return this.reportUnreadable(error);
    }
  }

  private reportUnreadable(error: SourceError): undefined {
    this.totals.skipped++;
    this.context.reporter.problem(error.path, error.cause);
    return undefined;
  }

  /**
   * Notes the first link of a multiply-linked file in walk order, which stores the content
   * for the whole group: the same path every run, so the cache finds it by that path.
   */
  private claimHardlink(path: string, info: EntryStats): void {
    const key = identity(info);
    if (!info.isFile() || info.nlink === 1n || this.hardlinks.has(key)) return;
    let settle: (stored: Promise<FileEntry>) => void = () => undefined;
    const stored = new Promise<FileEntry>((resolve) => (settle = resolve));
    // Awaited by the other links; a failure is theirs to report, and never unhandled.
    stored.catch(() => undefined);
    this.hardlinks.set(key, { firstPath: path, linkGroup: this.hardlinks.size + 1, stored, settle });
  }

  private async file(path: string, name: string, info: EntryStats): Promise<FileEntry> {
    if (info.nlink === 1n) return this.fileWithContent(path, name, info, 0);
    const group = this.hardlinks.get(identity(info)) as HardlinkGroup;
    if (group.firstPath === path) {
      const stored = this.fileWithContent(path, name, info, group.linkGroup);
      group.settle(stored);
      await stored;
      this.countLink(group.linkGroup);
      return stored;
    }
    this.unchanged.delete(path); // the first link's content is this one's
    const first = await group.stored;
    this.totals.files++;
    this.context.progress.advance(1, 0); // content counted with the first link
    this.countLink(group.linkGroup);
    return { ...first, ...this.attributes(name, info) };
  }

  private countLink(linkGroup: number): void {
    this.linkGroupSizes.set(linkGroup, (this.linkGroupSizes.get(linkGroup) ?? 0) + 1);
  }

  private async fileWithContent(path: string, name: string, statInfo: EntryStats, linkGroup: number): Promise<FileEntry> {
    const { chunks, info } = await this.content(path, statInfo);
    const size = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    this.totals.files++;
    this.totals.bytes += size;
    this.context.progress.advance(1, size);
    return { ...this.attributes(name, info), type: 'file', size, linkGroup, chunks };
  }

  /**
   * The chunk list from the cache when findUnchanged() found the file unchanged; otherwise
   * read and stored. The metadata returned is the one matching the content.
   */
  private async content(path: string, statInfo: EntryStats): Promise<{ chunks: readonly ChunkRef[]; info: EntryStats }> {
    const cached = this.unchanged.get(path);
    if (cached) {
      this.unchanged.delete(path);
      this.filesUnchanged++;
      // Remembered again so that this run counts as having seen it (see forgetUnseen).
      this.context.cache.remember(path, { fingerprint: fingerprintOf(statInfo), chunks: cached });
      return { chunks: cached, info: statInfo };
    }
    const small = statInfo.size <= SMALL_FILE_LIMIT ? await this.readSmallFile(path, statInfo) : undefined;
    const { result: chunks, info } = small ?? (await readConsistently(path, statInfo, (handle, size) => this.storeChunks(path, handle, size)));
    const read = fingerprintOf(info);
    this.filesRead.push({ path, fingerprint: read });
    if (read.mtimeNs < this.startedNs - RACY_NS) this.context.cache.remember(path, { fingerprint: read, chunks });
    return { chunks, info };
  }

  /** A small file read and sealed on the workers; undefined when it changed since the walk's lstat (it is then read the careful way). */
  private async readSmallFile(path: string, statInfo: EntryStats): Promise<{ result: ChunkRef[]; info: EntryStats } | undefined> {
    const outcome = await this.context.source.read(path, fingerprintOf(statInfo));
    if (outcome.kind === 'changed') return undefined;
    if (outcome.kind === 'failed') throw new SourceError(path, outcome.error);
    const chunks: ChunkRef[] = [];
    for (const sealed of outcome.chunks) chunks.push({ id: await this.context.repository.blocks.putSealed(sealed), length: sealed.ciphertext.length });
    // Read while its metadata matched the walk's lstat, which therefore describes it.
    return { result: chunks, info: statInfo };
  }

  private async storeChunks(path: string, handle: FileHandle, size: number): Promise<ChunkRef[]> {
    const chunks: ChunkRef[] = [];
    const source = this.context.repository.chunker.chunks(handle, size)[Symbol.asyncIterator]();
    for (;;) {
      const next = await fromSource(path, () => source.next());
      if (next.done) return chunks;
      chunks.push({ id: await this.context.repository.blocks.put(next.value), length: next.value.length });
    }
  }
}

/** dev:ino, which names a file or folder uniquely while it exists. */
export function identity(info: EntryStats): string {
  return `${info.dev}:${info.ino}`;
}

function fileTypeName(info: EntryStats): string {
  if (info.isSocket()) return 'sockets';
  if (info.isFIFO()) return 'named pipes';
  if (info.isBlockDevice()) return 'block devices';
  if (info.isCharacterDevice()) return 'character devices';
  return 'files of this type';
}
