/**
 * create: stores a folder, or several paths (SourcePaths), as a new archive. The tree is
 * walked (create-walker.ts); then, after a short pause, the metadata of every file read is
 * checked again, and if any changed the tree is walked once more — the cache makes that
 * walk read only the files that changed. The archive object is written last and is the
 * commit point.
 */
import type { BigIntStats } from 'node:fs';
import { lstat, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ArchiveMetadata, MAX_TEXT_BYTES } from '../archive/index.js';
import { type BackupCache, MemoryFileCache, fingerprintOf, sameFingerprint } from '../cache/index.js';
import { UsageError, describeError } from '../errors/index.js';
import { fsPath } from '../filenames/index.js';
import type { FilesRead } from '../pipeline/files-read.js';
import type { SourceReader } from '../pipeline/source-reader.js';
import { type BackendLock, type Repository, withLock } from '../repository/index.js';
import { SourcePaths } from '../selection/index.js';
import type { ArchiveId } from '../store/ids.js';
import { claimArchiveName, commitArchive } from './new-archive.js';
import { TreeWalker, type WalkContext, type WalkOptions, identity } from './create-walker.js';
import { type ProgressListener, noProgress } from './progress.js';
import type { ProblemReporter } from './reporting.js';
import { SourceError } from './source.js';

export interface CreateOptions extends WalkOptions {
  readonly name: string;
  /** One folder, whose content becomes the archive's root, or several paths, kept where they lie under '/'. */
  readonly sourcePaths: readonly string[];
  /** The mtime cache; without one, files are all read (a run-long memory cache still serves the rescan). */
  readonly cache?: BackupCache;
  /** Folders never to back up, such as the cache's own (found by device and inode). */
  readonly skippedFolders?: readonly string[];
  readonly progress?: ProgressListener;
}

export interface CreateResult {
  readonly id: ArchiveId;
  readonly metadata: ArchiveMetadata;
  /** Files whose content was read in the final walk; the others came from the cache. */
  readonly filesRead: number;
  readonly filesUnchanged: number;
}

/** Walks after the first, when files keep changing under the backup. */
const MAX_REWALKS = 2;
/** Files re-checked at once (lstatMany makes tasks of 4,096 of them for the source threads). */
const RECHECK_SLICE = 16_384;
/** Changed files the warning names. */
const CHANGED_NAMED = 3;

/**
 * Stores the archive under a shared lock on the backend, so that no gc runs meanwhile
 * (src/repository/lock.ts). The folder is read through `source` (Repository.openSourceReader),
 * which the caller opens early, as its threads take a while to start, and closes.
 */
export async function createArchive(
  repository: Pick<Repository, 'blocks' | 'trees' | 'catalog' | 'chunker' | 'backend' | 'flush' | 'storedBytes'>,
  source: SourceReader,
  options: CreateOptions,
  reporter: ProblemReporter,
): Promise<CreateResult> {
  const archives = await claimArchiveName(repository.catalog, options.name);
  const absolute = options.sourcePaths.map((path) => resolve(path));
  const paths = SourcePaths.of(await Promise.all(absolute.map(async (path) => ({ path, info: await statGiven(path) }))));
  assertRecordable(paths);
  // The newest archive of the same paths from this host gives the progress display its estimate.
  const previous = archives.map((record) => record.metadata).filter((m) => m.sourcePath === paths.sourcePath && m.hostname === hostname()).at(-1);
  if (previous) options.progress?.expect(previous.totals.files, previous.totals.bytes);
  return withLock(repository.backend, 'shared', 'create', (message) => reporter.warning(message), (lock) => walkAndCommit(repository, options, paths, reporter, lock, source));
}

async function walkAndCommit(
  repository: Pick<Repository, 'blocks' | 'trees' | 'catalog' | 'chunker' | 'flush' | 'storedBytes'>,
  options: CreateOptions,
  paths: SourcePaths,
  reporter: ProblemReporter,
  lock: BackendLock,
  source: SourceReader,
): Promise<CreateResult> {
  const rootInfo = await statGiven(paths.root);
  const context = {
    repository,
    reporter,
    cache: options.cache ?? new MemoryFileCache(),
    source,
    skippedFolders: new Set(await folderIdentities(options.skippedFolders ?? [])),
    progress: options.progress ?? noProgress,
  };
  let walk = await walkOnce(context, options, paths, rootInfo);
  try {
    for (let rewalk = 1; rewalk <= MAX_REWALKS && walk.walker.filesRead.length > 0; rewalk++) {
      // The pause runs from the last read of a file that had just changed: files read earlier
      // have waited long enough already, and a run that read none does not wait.
      const pauseMs = Math.max(0, Math.ceil(walk.walker.rescanNotBefore - performance.now()));
      const checking = `checking the ${walk.walker.filesRead.length} files read for changes`;
      reporter.info(pauseMs > 0 ? `pausing ${pauseMs} ms, then ${checking}` : checking);
      // The blocks still queued are written meanwhile.
      await Promise.all([sleep(pauseMs), repository.flush()]);
      const { count, firstPaths } = await changedSinceRead(source, walk.walker.filesRead);
      if (count === 0) break;
      reporter.warning(`${count} ${count === 1 ? 'file' : 'files'} changed during the backup (${firstPaths.join(', ')}${count > firstPaths.length ? ', …' : ''}); reading again`);
      walk.walker.filesRead.close();
      walk = await walkOnce(context, options, paths, rootInfo);
    }
  } finally {
    walk.walker.filesRead.close();
  }
  const { walker, root } = walk;
  const { id, metadata } = await commitArchive(repository, lock, {
    name: options.name,
    sourcePath: paths.sourcePath,
    root,
    totals: walker.totals,
    uids: walker.uids,
    gids: walker.gids,
    linkGroupSizes: walker.linkGroupSizes,
  });
  for (const path of paths.paths) await context.cache.forgetUnseen(path);
  return { id, metadata, filesRead: walker.filesRead.length, filesUnchanged: walker.filesUnchanged };
}

async function walkOnce(context: WalkContext, options: WalkOptions, paths: SourcePaths, rootInfo: BigIntStats) {
  const walker = new TreeWalker(context, options, paths);
  try {
    return { walker, root: await walker.directory(paths.root, '', rootInfo, new Set()) };
  } catch (error) {
    walker.filesRead.close();
    if (!(error instanceof SourceError)) throw error;
    throw unreadableSource(paths.root, error.cause);
  }
}

/** A path to back up, or the folder the walk starts from, cannot be read: nothing can be done (exit 2). */
function unreadableSource(path: string, cause: unknown): UsageError {
  return new UsageError(`cannot read source ${path}: ${describeError(cause)}`, { cause });
}

/**
 * How many of the files read no longer have the metadata they had when read, and the first
 * few of them by path (for the warning). They are looked at RECHECK_SLICE at a time, so that
 * no more of their stats are held at once however many files were read.
 */
async function changedSinceRead(source: Pick<SourceReader, 'lstatMany'>, files: FilesRead): Promise<{ count: number; firstPaths: string[] }> {
  let count = 0;
  let firstPaths: string[] = [];
  for (const slice of files.slices(RECHECK_SLICE)) {
    const now = await source.lstatMany(slice.map((file) => file.path));
    slice.forEach(({ path, fingerprint }, i) => {
      const info = now[i];
      // A file that vanished or became unreadable is the next walk's to report.
      if (info && sameFingerprint(fingerprintOf(info), fingerprint)) return;
      count++;
      firstPaths = [...firstPaths, path].sort().slice(0, CHANGED_NAMED);
    });
  }
  return { count, firstPaths };
}

async function folderIdentities(paths: readonly string[]): Promise<string[]> {
  const infos = await Promise.all(paths.map((path) => stat(fsPath(path), { bigint: true }).catch(() => undefined)));
  return infos.filter((info) => info !== undefined).map(identity);
}

/** The archive records the paths given as its source, in at most MAX_TEXT_BYTES. */
function assertRecordable(paths: SourcePaths): void {
  const bytes = Buffer.byteLength(paths.sourcePath);
  if (bytes <= MAX_TEXT_BYTES) return;
  throw new UsageError(`the ${paths.paths.length} paths given take ${bytes} bytes, more than the ${MAX_TEXT_BYTES} an archive records of its source; give the folders that hold them, with --exclude for what to leave out`);
}

/** What a path to back up is, following symlinks; a dangling symlink is itself (it is backed up as one). */
async function statGiven(path: string): Promise<BigIntStats> {
  try {
    return await stat(fsPath(path), { bigint: true });
  } catch (error) {
    const link = await lstat(fsPath(path), { bigint: true }).catch(() => undefined);
    if (link?.isSymbolicLink()) return link;
    throw unreadableSource(path, error);
  }
}
