/**
 * create: walks a folder and stores it as a new archive. Files are cut into chunks and
 * stored as encrypted blocks only when the backend lacks them; each folder becomes one
 * encrypted tree object, written after its children (so its id covers them); the archive
 * object is written last and is the commit point.
 */
import { hostname } from 'node:os';
import type { BigIntStats } from 'node:fs';
import { lstat, open, readdir, readlink, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  type ArchiveMetadata,
  type ChunkRef,
  type DirectoryEntry,
  type Entry,
  type EntryAttributes,
  type FileEntry,
  compareNames,
  encodeTree,
  unsafeNameReason,
} from '../archive/index.js';
import { type Chunker, FixedSizeChunker } from '../chunker/index.js';
import { UsageError, describeError, isErrnoException } from '../errors/index.js';
import { namesFor, readSystemAccounts } from '../owners/index.js';
import { type BackendLock, type Repository, withLock } from '../repository/index.js';
import { compileExcludes, type ExcludeTest } from '../selection/index.js';
import type { ArchiveId } from '../store/ids.js';
import { forEachConcurrently } from '../util/concurrency.js';
import type { ProblemReporter } from './reporting.js';

export interface CreateOptions {
  readonly name: string;
  readonly sourcePath: string;
  readonly excludes: readonly string[];
  /** Store what symlinks point to instead of the links. */
  readonly dereference: boolean;
  /** Do not descend into folders on another filesystem (they are kept, empty). */
  readonly oneFileSystem: boolean;
  readonly chunker?: Chunker;
}

export interface CreateResult {
  readonly id: ArchiveId;
  readonly metadata: ArchiveMetadata;
}

/** A failure to read the source, as opposed to a failure to store: only the former is skipped. */
class SourceError extends Error {
  constructor(
    readonly path: string,
    override readonly cause: unknown,
  ) {
    super(describeError(cause));
  }
}

async function fromSource<T>(path: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw new SourceError(path, error);
  }
}

/** Stores the archive under a shared lock on the backend, so that no gc runs meanwhile (src/repository/lock.ts). */
export async function createArchive(
  repository: Pick<Repository, 'blocks' | 'trees' | 'catalog' | 'backend'>,
  options: CreateOptions,
  reporter: ProblemReporter,
): Promise<CreateResult> {
  const badName = unsafeNameReason(options.name);
  if (badName) throw new UsageError(`archive name ${JSON.stringify(options.name)} is not allowed: it is ${badName}`);
  await repository.catalog.assertKeyMatches();
  await repository.catalog.assertNameFree(options.name);
  return withLock(repository.backend, 'shared', 'create', (message) => reporter.warning(message), (lock) => storeArchive(repository, options, reporter, lock));
}

async function storeArchive(
  repository: Pick<Repository, 'blocks' | 'trees' | 'catalog'>,
  options: CreateOptions,
  reporter: ProblemReporter,
  lock: BackendLock,
): Promise<CreateResult> {
  const sourcePath = resolve(options.sourcePath);
  const rootInfo = await statSourceRoot(sourcePath);
  const walker = new TreeWalker(repository, options, reporter, rootInfo.dev);
  const root = await walker.directory(sourcePath, '', rootInfo, new Set()).catch((error: unknown) => {
    if (!(error instanceof SourceError)) throw error;
    throw new UsageError(`cannot read source folder ${sourcePath}: ${error.message}`, { cause: error.cause });
  });
  const accounts = await readSystemAccounts();
  const metadata: ArchiveMetadata = {
    name: options.name,
    sourcePath,
    hostname: hostname(),
    createdAtNs: BigInt(Date.now()) * 1_000_000n,
    root: { ...root, name: '' },
    totals: walker.totals,
    userNames: namesFor(walker.uids, accounts.users),
    groupNames: namesFor(walker.gids, accounts.groups),
    linkGroupSizes: walker.linkGroupSizes,
  };
  // The archive may only reference blocks that gc could not have taken meanwhile.
  await lock.assertHeld();
  const id = await repository.catalog.write(metadata);
  return { id, metadata };
}

async function statSourceRoot(sourcePath: string): Promise<BigIntStats> {
  let info: BigIntStats;
  try {
    info = await stat(sourcePath, { bigint: true });
  } catch (error) {
    throw new UsageError(`cannot read source folder ${sourcePath}: ${describeError(error)}`, { cause: error });
  }
  if (!info.isDirectory()) throw new UsageError(`source ${sourcePath} is not a folder`);
  return info;
}

/** Files read and stored at once within one folder: overlaps reads, encryption and fsyncs. */
const PARALLEL_FILES = 8;

interface Child {
  readonly name: string;
  readonly path: string;
  readonly relativePath: string;
}

interface MutableTotals {
  files: number;
  directories: number;
  symlinks: number;
  bytes: number;
  storedBytes: number;
  skipped: number;
}

class TreeWalker {
  readonly totals: MutableTotals = { files: 0, directories: 0, symlinks: 0, bytes: 0, storedBytes: 0, skipped: 0 };
  readonly uids = new Set<number>();
  readonly gids = new Set<number>();
  readonly linkGroupSizes = new Map<number, number>();
  /** dev:ino of multiply-linked files already stored, so their content is read once. */
  private readonly hardlinks = new Map<string, Promise<FileEntry>>();
  private readonly isExcluded: ExcludeTest;
  private readonly chunker: Chunker;

  constructor(
    private readonly repository: Pick<Repository, 'blocks' | 'trees'>,
    private readonly options: CreateOptions,
    private readonly reporter: ProblemReporter,
    private readonly rootDevice: bigint,
  ) {
    this.isExcluded = compileExcludes(options.excludes);
    this.chunker = options.chunker ?? new FixedSizeChunker();
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
    const crossesDevice = this.options.oneFileSystem && info.dev !== this.rootDevice;
    const names = crossesDevice ? [] : await fromSource(path, () => readdir(path));
    const inside = new Set(ancestors).add(`${info.dev}:${info.ino}`);
    const children = names
      .sort(compareNames)
      .map((name) => ({ name, path: join(path, name), relativePath: relativePath === '' ? name : `${relativePath}/${name}` }))
      .filter((child) => !this.isExcluded(child.relativePath));
    const infos: (BigIntStats | undefined)[] = [];
    await forEachConcurrently([...children.keys()], PARALLEL_FILES, async (i) => {
      const child = children[i] as Child;
      infos[i] = await this.skippingUnreadable(child.path, () => this.statEntry(child.path));
    });
    const entries: (Entry | undefined)[] = [];
    const isFolder = (i: number) => infos[i]?.isDirectory() === true;
    const indices = [...children.keys()].filter((i) => infos[i] !== undefined);
    await forEachConcurrently(indices.filter((i) => !isFolder(i)), PARALLEL_FILES, async (i) => {
      entries[i] = await this.nonFolder(children[i] as Child, infos[i] as BigIntStats);
    });
    // Folders one at a time, so only the folder being walked has files in flight.
    for (const i of indices.filter(isFolder)) entries[i] = await this.subfolder(children[i] as Child, infos[i] as BigIntStats, inside);
    const { id, storedBytes } = await this.repository.trees.put(encodeTree(entries.filter((e) => e !== undefined)));
    this.totals.storedBytes += storedBytes;
    return { ...this.attributes(relativePath.slice(relativePath.lastIndexOf('/') + 1), info), type: 'directory', tree: id };
  }

  private subfolder(child: Child, info: BigIntStats, ancestors: ReadonlySet<string>): Promise<Entry | undefined> {
    if (ancestors.has(`${info.dev}:${info.ino}`)) {
      this.reporter.warning(`${child.path}: skipped, it is a symlink loop back to a folder above it`);
      return Promise.resolve(undefined);
    }
    return this.skippingUnreadable(child.path, () => this.directory(child.path, child.relativePath, info, ancestors));
  }

  private nonFolder(child: Child, info: BigIntStats): Promise<Entry | undefined> {
    return this.skippingUnreadable(child.path, async () => {
      if (info.isFile()) return this.file(child.path, child.name, info);
      if (info.isSymbolicLink()) {
        const target = await fromSource(child.path, () => readlink(child.path));
        this.totals.symlinks++;
        return { ...this.attributes(child.name, info), type: 'symlink', target };
      }
      this.reporter.warning(`${child.path}: skipped, ${fileTypeName(info)} are not backed up`);
      return undefined;
    });
  }

  /** Runs work on one source entry; if reading the source fails, the entry is reported and left out. */
  private async skippingUnreadable<T>(path: string, work: () => Promise<T>): Promise<T | undefined> {
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof SourceError)) throw error;
      this.totals.skipped++;
      this.reporter.problem(error.path, error.cause);
      return undefined;
    }
  }

  /** lstat, or with --dereference stat; a dangling link is then kept as a link. */
  private async statEntry(path: string): Promise<BigIntStats> {
    if (this.options.dereference) {
      try {
        return await stat(path, { bigint: true });
      } catch (error) {
        if (!(isErrnoException(error) && (error.code === 'ENOENT' || error.code === 'ELOOP'))) throw new SourceError(path, error);
        this.reporter.warning(`${path}: its target does not exist, so it is kept as a symlink`);
      }
    }
    return fromSource(path, () => lstat(path, { bigint: true }));
  }

  private async file(path: string, name: string, info: BigIntStats): Promise<FileEntry> {
    const attributes = this.attributes(name, info);
    if (info.nlink === 1n) return this.fileWithContent(path, attributes, Number(info.size), 0);
    // The first link seen stores the content; the others wait for it and share it.
    const key = `${info.dev}:${info.ino}`;
    const earlier = this.hardlinks.get(key);
    if (earlier) {
      const first = await earlier;
      this.totals.files++;
      this.linkGroupSizes.set(first.linkGroup, (this.linkGroupSizes.get(first.linkGroup) ?? 0) + 1);
      return { ...first, ...attributes };
    }
    const linkGroup = this.hardlinks.size + 1;
    const stored = this.fileWithContent(path, attributes, Number(info.size), linkGroup);
    this.hardlinks.set(key, stored);
    await stored;
    this.linkGroupSizes.set(linkGroup, 1);
    return stored;
  }

  private async fileWithContent(path: string, attributes: EntryAttributes, expectedSize: number, linkGroup: number): Promise<FileEntry> {
    const chunks = await this.storeContent(path, expectedSize);
    const size = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    this.totals.files++;
    this.totals.bytes += size;
    return { ...attributes, type: 'file', size, linkGroup, chunks };
  }

  /** Reads the file chunk by chunk; the recorded size is what was read, not what stat said. */
  private async storeContent(path: string, expectedSize: number): Promise<ChunkRef[]> {
    const handle = await fromSource(path, () => open(path, 'r'));
    try {
      const chunks: ChunkRef[] = [];
      const source = this.chunker.chunks(handle, expectedSize)[Symbol.asyncIterator]();
      for (;;) {
        const next = await fromSource(path, () => source.next());
        if (next.done) return chunks;
        const { id, storedBytes } = await this.repository.blocks.put(next.value);
        this.totals.storedBytes += storedBytes;
        chunks.push({ id, length: next.value.length });
      }
    } finally {
      await handle.close();
    }
  }
}

function fileTypeName(info: BigIntStats): string {
  if (info.isSocket()) return 'sockets';
  if (info.isFIFO()) return 'named pipes';
  if (info.isBlockDevice()) return 'block devices';
  if (info.isCharacterDevice()) return 'character devices';
  return 'files of this type';
}
