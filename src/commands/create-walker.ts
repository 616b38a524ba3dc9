/**
 * One walk of the folder being backed up: each folder becomes a tree object written
 * after its children, each file a chunk list. A folder whose listing and subfolders are
 * exactly as the cache recorded them, with every block still on the backend, reuses its
 * tree whole; in any other folder, each file that is unchanged since the cache saw it
 * (and whose blocks are on the backend) reuses its chunk list, and the rest are read,
 * chunked and stored.
 */
import { createHash } from 'node:crypto';
import { lstatSync } from 'node:fs';
import { type FileHandle, readlink } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import pLimit, { type LimitFunction } from 'p-limit';
import {
  type ChunkRef,
  type DirectoryEntry,
  type Entry,
  type EntryAttributes,
  type ExtendedAttribute,
  type FileEntry,
  type ArchiveTotals,
  NO_XATTRS,
  directoryEntry,
  encodeTree,
  fileEntry,
  mergedInTreeOrder,
  storableTime,
  symlinkEntry,
} from '../archive/index.js';
import { type BackupCache, type CachedFile, type FileFingerprint, FolderRecord, fingerprintOf, sameFingerprint } from '../cache/index.js';
import { unlessUnusable } from '../cache/folder-record.js';
import { constantTimeEqual } from '../crypto/index.js';
import { describeError } from '../errors/index.js';
import { fsPath, nameFromBytes } from '../filenames/index.js';
import { FilesRead } from '../pipeline/files-read.js';
import { childPath } from '../pipeline/child-path.js';
import type { EntryStats } from '../pipeline/entry-stats.js';
import { Listing, SMALL_FILE_LIMIT, type SourceReader } from '../pipeline/source-reader.js';
import type { Repository } from '../repository/index.js';
import { type SourcePaths, compileExcludes, excludedAlongPath } from '../selection/index.js';
import type { BlockId, TreeId } from '../store/ids.js';
import { readXattrs } from '../xattrs/index.js';
import { Backlog } from './backlog.js';
import { type Child, type Exclusions, FolderChildren } from './folder-children.js';
import { FolderTags, type TagOptions } from './folder-tags.js';
import type { ProgressListener } from './progress.js';
import type { ProblemReporter } from './reporting.js';
import { SourceError, fromSource, readConsistently } from './source.js';

export interface WalkOptions extends TagOptions {
  readonly excludes: readonly string[];
  /** Regular files larger than this many bytes are left out (--exclude-larger-than). */
  readonly excludeLargerThan?: number;
  readonly dereference: boolean;
  readonly oneFileSystem: boolean;
  /** Leave extended attributes (and with them ACLs and capabilities) out of the archive. */
  readonly noXattrs: boolean;
  /** Time between the last read of a file that had just changed and the re-check of the files read (mtimes can lag behind writes). */
  readonly rescanDelayMs: number;
}

export interface WalkContext {
  readonly repository: Pick<Repository, 'blocks' | 'trees' | 'chunker'>;
  readonly cache: BackupCache;
  readonly source: Pick<SourceReader, 'scan' | 'read'>;
  readonly reporter: ProblemReporter;
  /** dev:ino of folders never to back up (the cache's own folder). */
  readonly skippedFolders: ReadonlySet<string>;
  readonly progress: ProgressListener;
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
/**
 * Blocks of folders to be reused whole that may wait for their existence check (about 40
 * bytes each) before the walk waits too: enough to keep the lookups busy, as they bound an
 * unchanged backup. The checks start as the scans come in, ahead of the walk (scan()).
 * With 16,384, the benchmark's man1 (17,600 blocks) alone filled it, and the walk and the
 * scans stopped for the 0.3 s of its lookups: 2.24 → 2.14 s mean of six alternating
 * unchanged backups with 65,536, peak RSS 165–167 → 170–175 MiB.
 */
const MAX_BLOCKS_CHECKED = 65536;
/**
 * Subfolders scanned ahead of their turn: the next ones of the folder being walked, and
 * the first ones of each folder whose scan comes in. Descending into a folder then finds
 * its subfolders scanned or under way, where the walk otherwise waited for a scan at every
 * level. The source threads take the scans asked for in the walk's order (SourceReader),
 * so scanning far ahead does not delay the folder the walk needs next: 64 and up to 1,024
 * folders ahead took an unchanged backup of the benchmark from 2.79 to 2.53 s (means of
 * eight cold runs each, alternating; 4 and 64 before) and its walk's waits for scans from
 * about 1.3 to 0.8 s; 16 and 256 did about half as well.
 */
const SCAN_AHEAD = 64;
/**
 * Scans done or under way ahead of their turn, at most, by count and by the size of their
 * folders' directories (which grows with the number of entries): each holds a listing
 * and a cache record. Most directories take 4 KiB; one of 64 KiB or more holds thousands
 * of entries. While files are being stored, the walk waits for them rather than for
 * scans, and scans far ahead would only hold memory: a first backup of the benchmark
 * peaked 20 MiB higher with 1,024 ahead than with 64.
 */
const MAX_SCANS_AHEAD = 1024;
const MAX_SCANS_AHEAD_WHILE_STORING = 64;
const MAX_SCAN_BYTES_AHEAD = 4n * 1024n * 1024n;
/**
 * A folder whose directory takes this many bytes holds thousands of entries (ext4, xfs
 * and btrfs alike), and its scan takes long: it starts as soon as its parent's listing is
 * in, in a task of its own (SourceReader.scan). The benchmark's man1 (17,900 entries) took
 * 0.3 s cold, which the walk of an unchanged backup waited for, and so did the small
 * folders batched with it, when its scan started only a few folders before its turn.
 */
const LARGE_FOLDER_BYTES = 65536n;
/** A file modified this recently may still change within the same timestamp: not cached. */
const RACY_NS = 2_000_000_000n;

function isLarge(folder: { readonly info: EntryStats }): boolean {
  return folder.info.size >= LARGE_FOLDER_BYTES;
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
  readonly listing: Listing;
  /** What the cache recorded of the folder. */
  readonly record: FolderRecord | undefined;
  /** The listing's digest under this walk's options: the record's must equal it for the tree to be reused. */
  readonly key: Buffer;
  /** The record, when it has this very listing, and whether all it stores is still on the backend (looked for as soon as the scan is in). */
  readonly whole: { readonly record: FolderRecord; readonly stillStored: Promise<boolean> } | undefined;
}

/** What a folder's walk notes for its cache record, besides its entries. */
interface FolderLedger {
  /** False once a child is reported, read moments after it was modified, or hard-linked: the folder is then not reused whole next time. */
  clean: boolean;
  /** Files whose chunk lists the next run may reuse, by name, with the metadata they had when read. */
  readonly fingerprints: Map<string, FileFingerprint>;
}

/** A folder whose walk is done; its entry settles once everything under it is stored. */
interface FolderWalked {
  readonly entry: Promise<DirectoryEntry | undefined>;
}

const LEFT_OUT: FolderWalked = { entry: Promise.resolve(undefined) };
/**
 * A subfolder left out by its own content (--exclude-caches, --exclude-if-present): as if
 * it were not there, like an --exclude, so that its parent's recorded tree still counts.
 */
const TAGGED: FolderWalked = { entry: Promise.resolve(undefined) };

/** The archive's totals but the bytes stored, which create counts once the writes behind the walk are done. */
type WalkTotals = { -readonly [K in Exclude<keyof ArchiveTotals, 'storedBytes'>]: ArchiveTotals[K] };

export class TreeWalker {
  readonly totals: WalkTotals = { files: 0, directories: 0, symlinks: 0, bytes: 0, skipped: 0, xattrEntries: 0 };
  readonly uids = new Set<number>();
  readonly gids = new Set<number>();
  readonly linkGroupSizes = new Map<number, number>();
  /** The files this walk read, for the rescan; closed by whoever ends the walk. */
  readonly filesRead = new FilesRead();
  /**
   * When the re-check of filesRead may start (performance.now()): rescanDelayMs after the
   * last read of a file that had changed within rescanDelayMs before it (changedJustBefore).
   */
  rescanNotBefore = 0;
  /** Files whose chunk list came from the cache, alone or with their folder's tree. */
  filesUnchanged = 0;
  /** Files of the folders being walked that findUnchanged() found unchanged, by path, with their chunk lists. */
  private readonly unchanged = new Map<string, readonly ChunkRef[]>();
  /** Multiply-linked files by dev:ino, so that their content is read once (claimHardlink). */
  private readonly hardlinks = new Map<string, HardlinkGroup>();
  private readonly exclusions: Exclusions;
  private readonly tags: FolderTags;
  /** Everything besides a folder's listing that decides its tree: a record made under other options is not reused whole. */
  private readonly optionsDigest: Buffer;
  private readonly smallFileSlots = pLimit(PARALLEL_SMALL_FILES);
  private readonly largeFileSlots = pLimit(PARALLEL_LARGE_FILES);
  private readonly queuedFiles = new Backlog(MAX_FILES_QUEUED);
  private readonly blocksChecked = new Backlog(MAX_BLOCKS_CHECKED);
  /** Scans started before their folder's turn, by path, with their directory's size; the walk takes each when it gets there. */
  private readonly scansAhead = new Map<string, { readonly scan: Promise<FolderScan>; readonly bytes: bigint }>();
  private scanBytesAhead = 0n;
  private readonly startedNs = BigInt(Date.now()) * 1_000_000n;

  constructor(
    private readonly context: WalkContext,
    private readonly options: WalkOptions,
    /** What is backed up: the walk starts at its root. */
    private readonly paths: SourcePaths,
  ) {
    const byPattern = compileExcludes(options.excludes);
    // Besides the patterns: in the folders on the way to the paths given, all but what leads to one.
    const isExcluded = paths.isWhole ? byPattern : (relativePath: string) => !paths.keeps(relativePath) || byPattern(relativePath);
    this.exclusions = { isExcluded, maxFileSize: options.excludeLargerThan === undefined ? undefined : BigInt(options.excludeLargerThan) };
    this.tags = new FolderTags(options, context.reporter);
    const { excludes, excludeCaches, excludeIfPresent, excludeLargerThan, dereference, oneFileSystem, noXattrs } = options;
    // Options only when used, so that the caches of runs without them stay valid.
    const tagOptions = excludeCaches || excludeIfPresent.length > 0 ? { excludeCaches, excludeIfPresent } : {};
    const sizeOption = excludeLargerThan === undefined ? {} : { excludeLargerThan };
    // `xattrs` also keeps records from before extended attributes were backed up from being reused whole.
    const decisive = { excludes, ...tagOptions, ...sizeOption, dereference, oneFileSystem, xattrs: !noXattrs, ...paths.digestFields(), skipped: [...context.skippedFolders].sort() };
    this.optionsDigest = createHash('sha256').update(JSON.stringify(decisive)).digest();
  }

  /** `path` names the entry in a warning when its time is beyond what an archive holds. */
  private attributes(path: string, name: string, info: EntryStats): EntryAttributes {
    const uid = Number(info.uid);
    const gid = Number(info.gid);
    this.uids.add(uid);
    this.gids.add(gid);
    const mtimeNs = storableTime(info.mtimeNs);
    if (mtimeNs !== info.mtimeNs) this.context.reporter.warning(`${path}: its modification time is more than 18,700 years from 1970; stored as ${mtimeNs} ns`);
    return { name, mode: Number(info.mode & 0o7777n), uid, gid, mtimeNs, xattrs: this.xattrsOf(path, info) };
  }

  /**
   * Read as the entry is made, on this thread: a listxattr costs about 2 µs once the walk
   * has stat'ed the file (its inode is cached), under 0.1 s for the benchmark's 33,000
   * files. A symlink's own are not kept (Linux allows only trusted.* and security.* on
   * one). Unreadable attributes leave the entry without them, and the run ends with exit 1.
   */
  private xattrsOf(path: string, info: EntryStats): readonly ExtendedAttribute[] {
    if (info.isSymbolicLink() || this.options.noXattrs) return NO_XATTRS;
    try {
      const xattrs = readXattrs(path);
      if (xattrs.length > 0) this.totals.xattrEntries++;
      return xattrs;
    } catch (error) {
      this.context.reporter.problem(path, new Error(`its extended attributes could not be read, so it is backed up without them: ${describeError(error)}`, { cause: error }));
      return NO_XATTRS;
    }
  }

  /** Stores a folder's tree, with everything under it; `ancestors` holds dev:ino of the folders above, to stop symlink loops. */
  async directory(path: string, relativePath: string, info: EntryStats, ancestors: ReadonlySet<string>): Promise<DirectoryEntry> {
    return (await this.walk(path, relativePath, info, ancestors)).entry as Promise<DirectoryEntry>;
  }

  /**
   * Walks a folder: queues its files and walks its subfolders, one after the other. It
   * returns once the walk is done, with the folder's entry still to come: its tree is
   * written when its files are stored and its subfolders' trees written, while the walk
   * goes on to the next folders — no more than MAX_FILES_QUEUED files ahead of the writes,
   * or MAX_BLOCKS_CHECKED blocks ahead of the existence checks.
   * When the cache's record of the folder has its very listing, the files wait: if the
   * subfolders' trees come out as recorded too and the blocks are all still stored, the
   * recorded tree is the folder's.
   */
  private async walk(path: string, relativePath: string, info: EntryStats, ancestors: ReadonlySet<string>): Promise<FolderWalked> {
    const scan = await (this.takeScanAhead(path) ?? this.scan({ path, relativePath, info }));
    if (this.paths.isBelowGiven(relativePath) && (await this.tags.isTagged(path, scan.listing))) return TAGGED;
    this.totals.directories++;
    const ledger: FolderLedger = { clean: true, fingerprints: new Map() };
    const files = () => FolderChildren.of({ path, relativePath }, scan.listing, false, this.exclusions);
    const { whole } = scan;
    if (whole) await this.blocksChecked.room();
    // Files are queued before the walk goes down, so that they are stored meanwhile.
    const queued = whole ? undefined : await this.queueFiles(files(), scan.record, ledger);
    const folders = this.subfoldersOf({ path, relativePath }, scan.listing);
    const subfolders = await this.subfolders(folders, new Set(ancestors).add(identity(info)), ledger);
    const name = relativePath.slice(relativePath.lastIndexOf('/') + 1);
    const entry = (async (): Promise<DirectoryEntry> => {
      const folderEntries = await Promise.all(subfolders.map((walked) => walked.entry));
      if (whole && sameTrees(folderEntries, whole.record.summary.subfolderTrees) && (await whole.stillStored)) return this.reuse(path, name, info, whole.record);
      const fileEntries = await (queued ?? (await this.queueFiles(files(), scan.record, ledger))).entries;
      // Each list is in tree order already (FolderChildren).
      const entries = mergedInTreeOrder(fileEntries.filter((entry) => entry !== undefined), folderEntries.filter((entry) => entry !== undefined));
      const tree = await this.context.repository.trees.put(encodeTree(entries));
      this.context.cache.remember(path, recordOf(scan.key, ledger, entries, tree));
      return directoryEntry(this.attributes(path, name, info), tree);
    })();
    entry.catch(() => undefined);
    return { entry };
  }

  /**
   * The folder's listing and cache record, fetched together. When the record has this very
   * listing, its blocks are looked for at once: most scans come in well before the walk
   * gets to their folder, and the lookups then overlap with the scans of the next folders
   * instead of keeping the walk waiting at its end.
   */
  private async scan({ path, relativePath, info }: Omit<Child, 'name'>): Promise<FolderScan> {
    const device = this.paths.deviceFor(relativePath);
    const crossesDevice = this.options.oneFileSystem && device !== undefined && info.dev !== device;
    const [listing, record] = await Promise.all([
      crossesDevice ? Listing.EMPTY : fromSource(path, () => this.context.source.scan(path, this.options.dereference, isLarge({ info }))),
      this.context.cache.lookup(path),
    ]);
    const key = createHash('sha256').update(this.optionsDigest).update(listing.digest).digest();
    const recorded = record?.summary.listing;
    if (!record || !recorded || !constantTimeEqual(recorded, key)) return { listing, record, key, whole: undefined };
    const stillStored = this.blocksChecked.track(this.stillStored(record), record.summary.blocks.length);
    // Awaited by the folder's entry; a failure must not be left unhandled while the walk goes on.
    stillStored.catch(() => undefined);
    return { listing, record, key, whole: { record, stillStored } };
  }

  /** The folder's subfolders, not excluded nor never to back up, in tree order. */
  private subfoldersOf(folder: { readonly path: string; readonly relativePath: string }, listing: Listing): Child[] {
    const folders: Child[] = [];
    for (const child of FolderChildren.of(folder, listing, true, this.exclusions)) {
      // Never an error: a child whose stats could not be read is not known to be a folder.
      if (!(child instanceof SourceError) && !this.context.skippedFolders.has(identity(child.info))) folders.push(child);
    }
    return folders;
  }

  /**
   * Queues the files (and symlinks) of a folder, each once there is room, and returns when
   * the last is queued; `entries` settles with their entries (undefined when left out).
   * Waiting per file rather than per folder keeps a wide folder within MAX_FILES_QUEUED
   * too: queued at once, the 17,600 files of the benchmark's man1 took the main thread's
   * heap from about 25 to 70 MiB.
   */
  private async queueFiles(files: FolderChildren, record: FolderRecord | undefined, ledger: FolderLedger): Promise<{ readonly entries: Promise<(Entry | undefined)[]> }> {
    const unchangedFound = this.findUnchanged(files, record);
    unchangedFound.catch(() => undefined);
    const stored: Promise<Entry | undefined>[] = [];
    for (const child of files) {
      if (child instanceof SourceError) {
        this.reportUnreadable(child, ledger);
        continue;
      }
      await this.queuedFiles.room();
      this.claimHardlink(child.path, child.info);
      const entry = this.queuedFiles.track(this.slotsFor(child.info)(async () => {
        await unchangedFound;
        return this.nonFolder(child, ledger);
      }));
      // A failure must not be left unhandled while the walk goes on: the folder's entry awaits them all.
      entry.catch(() => undefined);
      stored.push(entry);
    }
    const entries = Promise.all(stored);
    entries.catch(() => undefined);
    return { entries };
  }

  /** Whether every block of the folder's files, and its tree, are still on the backend. */
  private async stillStored(record: FolderRecord): Promise<boolean> {
    const { blocks, tree } = record.summary;
    const [blocksFound, treeFound] = await Promise.all([this.context.repository.blocks.hasMany(blocks), this.context.repository.trees.hasMany([tree])]);
    return treeFound.every(Boolean) && blocksFound.every(Boolean);
  }

  /** The folder's entry with its recorded tree, its files counted as unchanged and its symlinks checked as if walked. */
  private reuse(path: string, name: string, info: EntryStats, record: FolderRecord): DirectoryEntry {
    const { summary } = record;
    this.totals.files += summary.fileCount;
    this.totals.bytes += summary.bytes;
    this.totals.symlinks += summary.symlinks.length;
    this.totals.xattrEntries += summary.xattrEntries;
    this.filesUnchanged += summary.fileCount;
    for (const uid of summary.uids) this.uids.add(uid);
    for (const gid of summary.gids) this.gids.add(gid);
    this.context.progress.advance(summary.fileCount, summary.bytes);
    for (const link of summary.symlinks) this.checkLinkTarget(childPath(path, link.name), link.target);
    this.context.cache.keep(path);
    return directoryEntry(this.attributes(path, name, info), summary.tree);
  }

  /**
   * Subfolders one after the other (depth first, which bounds memory), each scanned a few
   * folders before its turn, so that their readdir, lstat and cache round trips overlap
   * with the work on the folders before them.
   */
  private async subfolders(folders: readonly Child[], inside: ReadonlySet<string>, ledger: FolderLedger): Promise<FolderWalked[]> {
    const walked: FolderWalked[] = [];
    for (const folder of folders.filter(isLarge)) this.scanAhead(folder, inside);
    for (const [k, folder] of folders.entries()) {
      for (const ahead of folders.slice(k, k + SCAN_AHEAD + 1)) this.scanAhead(ahead, inside);
      const subfolder = await this.subfolder(folder, inside, ledger);
      if (subfolder !== TAGGED) walked.push(subfolder);
    }
    return walked;
  }

  /**
   * Starts scanning a folder before its turn (SCAN_AHEAD), unless it is a loop back to a
   * folder it is `inside` or enough scans are ahead already; once its listing is in, its
   * own first subfolders are started too.
   */
  private scanAhead(folder: Child, inside: ReadonlySet<string>): void {
    const maxAhead = this.queuedFiles.isEmpty ? MAX_SCANS_AHEAD : MAX_SCANS_AHEAD_WHILE_STORING;
    if (this.scansAhead.has(folder.path) || this.scansAhead.size >= maxAhead || this.scanBytesAhead >= MAX_SCAN_BYTES_AHEAD) return;
    if (inside.has(identity(folder.info))) return;
    const scan = this.scan(folder);
    this.scansAhead.set(folder.path, { scan, bytes: folder.info.size });
    this.scanBytesAhead += folder.info.size;
    // Awaited in its turn, where a failure is reported; until then it is not unhandled.
    scan.then(
      ({ listing }) => {
        // A folder left out never takes its scans: they would stay in scansAhead, holding its slots.
        if (this.tags.mayBeTagged(listing)) return;
        const within = new Set(inside).add(identity(folder.info));
        const subfolders = this.subfoldersOf(folder, listing);
        for (const child of subfolders.filter((child, k) => k < SCAN_AHEAD || isLarge(child))) this.scanAhead(child, within);
      },
      () => undefined,
    );
  }

  /** The scan started ahead for the folder at `path`, if there is one. */
  private takeScanAhead(path: string): Promise<FolderScan> | undefined {
    const ahead = this.scansAhead.get(path);
    if (!ahead) return undefined;
    this.scansAhead.delete(path);
    this.scanBytesAhead -= ahead.bytes;
    return ahead.scan;
  }

  /**
   * Notes which of a folder's files are unchanged since the cache recorded them and still
   * have every block on the backend (blocks may have been deleted, or this may be a copy
   * of half a backend): one existence check for the whole folder. The same check looks
   * for the recorded blocks of the large files that changed: those found are not
   * encrypted again when the file's new content cuts into them (ContentStore.put).
   */
  private async findUnchanged(files: FolderChildren, record: FolderRecord | undefined): Promise<void> {
    const known = record && unlessUnusable(() => record.files());
    if (!known) return;
    const candidates: { path: string; chunks: readonly ChunkRef[] }[] = [];
    const earlierBlocks: BlockId[] = [];
    for (const file of files) {
      if (file instanceof SourceError) continue; // reported as it is queued
      const cached = known.get(file.name);
      if (!cached || !file.info.isFile()) continue;
      if (sameFingerprint(cached.fingerprint, fingerprintOf(file.info))) {
        candidates.push({ path: file.path, chunks: cached.chunks });
      } else if (file.info.size > SMALL_FILE_LIMIT) {
        // A loop, not push(...ids): a file of hundreds of GiB has more chunks than a call takes arguments.
        for (const chunk of cached.chunks) earlierBlocks.push(chunk.id);
      }
    }
    const present = await this.context.repository.blocks.hasMany([...candidates.flatMap(({ chunks }) => chunks.map((chunk) => chunk.id)), ...earlierBlocks]);
    let next = 0;
    for (const { path, chunks } of candidates) {
      const stored = present.slice(next, next + chunks.length).every(Boolean);
      next += chunks.length;
      if (stored) this.unchanged.set(path, chunks);
    }
  }

  private slotsFor(info: EntryStats): LimitFunction {
    return info.size <= SMALL_FILE_LIMIT ? this.smallFileSlots : this.largeFileSlots;
  }

  /** A subfolder walked, or left out (its entry undefined) when it loops back or cannot be read. */
  private async subfolder(child: Child, ancestors: ReadonlySet<string>, ledger: FolderLedger): Promise<FolderWalked> {
    const { info } = child;
    if (ancestors.has(identity(info))) {
      ledger.clean = false;
      this.context.reporter.warning(`${child.path}: skipped, it is a symlink loop back to a folder above it`);
      return LEFT_OUT;
    }
    return (await this.skippingUnreadable(() => this.walk(child.path, child.relativePath, info, ancestors), ledger)) ?? LEFT_OUT;
  }

  private nonFolder(child: Child, ledger: FolderLedger): Promise<Entry | undefined> {
    const { info } = child;
    return this.skippingUnreadable(async () => {
      if (info.isFile()) return this.file(child.path, child.name, info, ledger);
      if (info.isSymbolicLink()) {
        const target = nameFromBytes(await fromSource(child.path, () => readlink(fsPath(child.path), { encoding: 'buffer' })));
        if (this.options.dereference) {
          ledger.clean = false;
          this.context.reporter.warning(`${child.path} -> ${target}: kept as a symlink, its target does not exist`);
        } else this.checkLinkTarget(child.path, target);
        this.totals.symlinks++;
        return symlinkEntry(this.attributes(child.path, child.name, info), target);
      }
      ledger.clean = false;
      this.context.reporter.warning(`${child.path}: skipped, ${fileTypeName(info)} are not backed up`);
      return undefined;
    }, ledger);
  }

  /**
   * Says when a link is backed up but what it points to is not, naming the link's text.
   * The target is looked for with a synchronous lstat: its folder has mostly been scanned
   * already (its inode is cached), and a round trip through libuv's pool cost more than
   * the call; the benchmark's tree has 2,400 such links, checked again in every run.
   */
  private checkLinkTarget(path: string, target: string): void {
    const pointsTo = resolve(dirname(path), target);
    const inside = relative(this.paths.root, pointsTo);
    if (inside.startsWith('..') || isAbsolute(inside) || !this.paths.keeps(inside)) {
      this.context.reporter.info(`${path} -> ${target}: the link is backed up; what it points to is outside ${this.paths.describe()}`);
    } else if (excludedAlongPath(this.exclusions.isExcluded, inside.split('/')) || !somethingAt(pointsTo)) {
      this.context.reporter.warning(`${path} -> ${target}: the link is backed up, but what it points to is excluded or missing`);
    }
  }

  /** Runs work on one source entry; if reading the source fails, the entry (named by the error) is reported and left out. */
  private async skippingUnreadable<T>(work: () => Promise<T>, ledger: FolderLedger): Promise<T | undefined> {
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof SourceError)) throw error;
      return this.reportUnreadable(error, ledger);
    }
  }

  private reportUnreadable(error: SourceError, ledger: FolderLedger): undefined {
    ledger.clean = false;
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

  /** A file's entry; a hard-linked one keeps its folder from being reused whole, as link groups are numbered afresh each walk. */
  private async file(path: string, name: string, info: EntryStats, ledger: FolderLedger): Promise<FileEntry> {
    if (info.nlink === 1n) return this.fileWithContent(path, name, info, 0, ledger);
    ledger.clean = false;
    const group = this.hardlinks.get(identity(info)) as HardlinkGroup;
    if (group.firstPath === path) {
      const stored = this.fileWithContent(path, name, info, group.linkGroup, ledger);
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
    return fileEntry(this.attributes(path, name, info), first.size, first.linkGroup, first.chunks);
  }

  private countLink(linkGroup: number): void {
    this.linkGroupSizes.set(linkGroup, (this.linkGroupSizes.get(linkGroup) ?? 0) + 1);
  }

  private async fileWithContent(path: string, name: string, statInfo: EntryStats, linkGroup: number, ledger: FolderLedger): Promise<FileEntry> {
    const { chunks, info, cacheable } = await this.content(path, statInfo);
    if (cacheable) ledger.fingerprints.set(name, fingerprintOf(info));
    else ledger.clean = false;
    const size = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    this.totals.files++;
    this.totals.bytes += size;
    this.context.progress.advance(1, size);
    return fileEntry(this.attributes(path, name, info), size, linkGroup, chunks);
  }

  /**
   * The chunk list from the cache when findUnchanged() found the file unchanged; otherwise
   * read and stored. The metadata returned is the one matching the content; `cacheable` is
   * false for a file modified so recently that it may change again within the same mtime.
   */
  private async content(path: string, statInfo: EntryStats): Promise<{ chunks: readonly ChunkRef[]; info: EntryStats; cacheable: boolean }> {
    const cached = this.unchanged.get(path);
    if (cached) {
      this.unchanged.delete(path);
      this.filesUnchanged++;
      return { chunks: cached, info: statInfo, cacheable: true };
    }
    const small = statInfo.size <= SMALL_FILE_LIMIT ? await this.readSmallFile(path, statInfo) : undefined;
    const { result: chunks, info } = small ?? (await readConsistently(path, statInfo, (handle, size) => this.storeChunks(path, handle, size)));
    this.filesRead.add({ path, fingerprint: fingerprintOf(info) });
    if (changedJustBefore(info, this.options.rescanDelayMs)) this.rescanNotBefore = performance.now() + this.options.rescanDelayMs;
    return { chunks, info, cacheable: info.mtimeNs < this.startedNs - RACY_NS };
  }

  /** A small file read and sealed on the workers; undefined when it changed since the walk's lstat (it is then read the careful way). */
  private async readSmallFile(path: string, statInfo: EntryStats): Promise<{ result: ChunkRef[]; info: EntryStats } | undefined> {
    const outcome = await this.context.source.read(path, fingerprintOf(statInfo));
    if (outcome.kind === 'changed') return undefined;
    if (outcome.kind === 'failed') throw new SourceError(path, outcome.error);
    const chunks: ChunkRef[] = [];
    for (const sealed of outcome.chunks) {
      // The length first: putSealed hands the ciphertext over to the backend.
      const length = sealed.ciphertext.length;
      chunks.push({ id: await this.context.repository.blocks.putSealed(sealed), length });
    }
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

/**
 * Whether the file changed (content or metadata) within `ms` before now, the end of its
 * read, or claims a time still to come. Only such a file may be in the middle of being
 * written, so only its read makes the re-check wait: one left alone for longer was read
 * whole between two fstats that agree.
 */
function changedJustBefore(info: EntryStats, ms: number): boolean {
  const latestNs = info.mtimeNs > info.ctimeNs ? info.mtimeNs : info.ctimeNs;
  return latestNs >= BigInt(Date.now() - ms) * 1_000_000n;
}

/** Whether anything is at path; a failure to look (EACCES, ENOTDIR) counts as nothing there. */
function somethingAt(path: string): boolean {
  try {
    return lstatSync(fsPath(path), { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false;
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

/** Whether the subfolders' trees came out as recorded (none left out). */
function sameTrees(entries: readonly (DirectoryEntry | undefined)[], recorded: readonly TreeId[]): boolean {
  return entries.length === recorded.length && entries.every((entry, k) => entry !== undefined && constantTimeEqual(entry.tree, recorded[k] as TreeId));
}

/** The cache record of a folder whose tree was just written from `entries`. */
function recordOf(key: Buffer, ledger: FolderLedger, entries: readonly Entry[], tree: TreeId): FolderRecord {
  const files = new Map<string, CachedFile>();
  const blocks = new Map<string, BlockId>();
  const subfolderTrees: TreeId[] = [];
  const symlinks: { name: string; target: string }[] = [];
  const uids = new Set<number>();
  const gids = new Set<number>();
  let fileCount = 0;
  let bytes = 0;
  let xattrEntries = 0;
  for (const entry of entries) {
    if (entry.type === 'directory') {
      subfolderTrees.push(entry.tree);
      continue;
    }
    if (entry.xattrs.length > 0) xattrEntries++;
    uids.add(entry.uid);
    gids.add(entry.gid);
    if (entry.type === 'symlink') {
      symlinks.push({ name: entry.name, target: entry.target });
      continue;
    }
    fileCount++;
    bytes += entry.size;
    for (const chunk of entry.chunks) blocks.set(chunk.id.toString('hex'), chunk.id);
    const fingerprint = ledger.fingerprints.get(entry.name);
    if (fingerprint) files.set(entry.name, { fingerprint, chunks: entry.chunks });
  }
  const summary = { listing: ledger.clean ? key : undefined, tree, subfolderTrees, fileCount, bytes, uids: [...uids], gids: [...gids], symlinks, blocks: [...blocks.values()], xattrEntries };
  return FolderRecord.of(summary, files);
}
