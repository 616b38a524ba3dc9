/**
 * One mount from start to end: check the mountpoint, mount, serve until asked to stop
 * (the caller's AbortSignal: SIGINT/SIGTERM in the CLI) or until someone unmounts the
 * mountpoint from outside, then unmount and release fuse-native.
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import type { ArchiveRecord, TreeSource } from '../src/archive/index.js';
import type { Repository } from '../src/repository/index.js';
import { UsageError, describeError, isErrnoException } from '../src/errors/index.js';
import { readSystemAccounts } from '../src/owners/index.js';
import { BlockCache } from './block-cache.js';
import { FolderCache } from './folder-cache.js';
import { type FuseClass, isMounted, mountWith, unmountWith } from './fuse.js';
import { InodeTable } from './inodes.js';
import { fuseOperations } from './operations.js';
import { type OwnerOptions, ownerMapping } from './owners.js';
import { OnceReporter, type ProblemSink } from './reply.js';
import { MountView } from './view.js';

/** How often to look whether the mountpoint was unmounted from outside. */
const UNMOUNT_POLL_MS = 500;
/** The archive never changes under a mount, so the kernel may cache all it learns. */
const KERNEL_CACHE_SECONDS = 3600;
/**
 * fuse-native passes only a fixed set of options, so these two ride in the fsname value
 * (libfuse splits the -o list on commas): `ro` makes the kernel refuse writes, `use_ino`
 * makes it show our inode numbers instead of libfuse's own.
 */
const FSNAME_WITH_OPTIONS = 'preserve,ro,use_ino';

export interface MountOptions {
  /** Absolute, canonical path (see prepareMountpoint). */
  readonly mountpoint: string;
  /** The archives to show, oldest first. */
  readonly archives: readonly ArchiveRecord[];
  /** true: the first archive is the root; false: one folder per archive and `latest`. */
  readonly single: boolean;
  readonly cacheBytes: number;
  readonly readahead: number;
  readonly owners: OwnerOptions;
  readonly allowOther: boolean;
}

export interface MountEvents {
  /** The mount is up and usable. */
  readonly mounted: () => void;
  /** A failed read or lookup (reported once each), with the path inside the mount. */
  readonly problem: ProblemSink;
}

export interface MountSummary {
  /** Distinct failures reported while the mount was up. */
  readonly problems: number;
}

/** The canonical path of an existing, empty folder to mount on; otherwise a UsageError. */
export async function prepareMountpoint(path: string): Promise<string> {
  let names: string[];
  try {
    if (!(await stat(path)).isDirectory()) throw new UsageError(`mountpoint ${path} is not a folder`);
    names = await readdir(path);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    if (isErrnoException(error) && error.code === 'ENOENT') throw new UsageError(`mountpoint ${path} does not exist`);
    throw new UsageError(`cannot use mountpoint ${path}: ${describeError(error)}`, { cause: error });
  }
  if (names.length > 0) throw new UsageError(`mountpoint ${path} is not empty`);
  return realpath(path);
}

export async function serveMount(
  Fuse: FuseClass,
  repository: Pick<Repository, 'readBlock' | 'readTree'>,
  options: MountOptions,
  events: MountEvents,
  stop: AbortSignal,
): Promise<MountSummary> {
  const reporter = new OnceReporter(events.problem);
  const view = await buildView(repository, options);
  // Blocks are decrypted on the repository's worker threads, off the thread that answers FUSE.
  const operations = fuseOperations(view, { cache: new BlockCache(repository, options.cacheBytes), readahead: options.readahead }, reporter);
  const fuse = new Fuse(options.mountpoint, operations, {
    fsname: FSNAME_WITH_OPTIONS,
    allowOther: options.allowOther,
    // The kernel checks modes against the shown owners, so --allow-other exposes
    // nothing that the archive's permissions would not.
    defaultPermissions: true,
    kernelCache: true,
    entryTimeout: KERNEL_CACHE_SECONDS,
    attrTimeout: KERNEL_CACHE_SECONDS,
    // Every handler answers through serve(); a slow backend must not turn into ETIMEDOUT.
    timeout: false,
  });
  await mountWith(fuse, options.mountpoint);
  try {
    events.mounted();
    await untilStopped(options.mountpoint, stop);
  } finally {
    await unmountWith(fuse);
  }
  return { problems: reporter.count };
}

async function buildView(repository: TreeSource, options: MountOptions): Promise<MountView> {
  const accounts = await readSystemAccounts();
  const archives = options.archives.map((record) => ({
    id: record.id,
    metadata: record.metadata,
    owners: ownerMapping(record.metadata, accounts, options.owners),
  }));
  const layout = { archives, single: options.single, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  return new MountView(layout, new FolderCache(repository), new InodeTable());
}

/** Resolves when `stop` fires or the mountpoint is no longer mounted. */
function untilStopped(mountpoint: string, stop: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const finish = (error?: unknown): void => {
      clearInterval(poll);
      stop.removeEventListener('abort', onAbort);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onAbort = (): void => finish();
    const poll = setInterval(() => {
      isMounted(mountpoint).then((mounted) => mounted || finish(), finish);
    }, UNMOUNT_POLL_MS);
    stop.addEventListener('abort', onAbort);
    if (stop.aborted) finish();
  });
}
