/**
 * One mount from start to end: check the mountpoint, mount, serve until asked to stop
 * (the caller's AbortSignal: SIGINT/SIGTERM in the CLI) or until someone unmounts the
 * mountpoint from outside, then unmount. Two transports serve the same view: our own
 * connection to the kernel (kernel/, root only) and fuse-native (fuse.ts).
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import type { ArchiveRecord, TreeSource } from '../src/archive/index.js';
import type { Repository } from '../src/repository/index.js';
import { UsageError, describeError, isErrnoException } from '../src/errors/index.js';
import { readSystemAccounts } from '../src/owners/index.js';
import { KERNEL_CACHE_SECONDS } from './attributes.js';
import { BlockCache } from '../src/store/block-cache.js';
import { FolderCache } from './folder-cache.js';
import { type FuseClass, type Transport, mountWith, unmountWith } from './fuse.js';
import { FuseDevice } from './kernel/device.js';
import { KernelServer, LARGEST_READ_KIB } from './kernel/server.js';
import { InodeTable } from './inodes.js';
import { isMounted } from './mountinfo.js';
import { fuseOperations } from './operations.js';
import { type OwnerOptions, ownerMapping } from './owners.js';
import { Readers } from './readers.js';
import { OnceReporter, type ProblemSink } from './reply.js';
import { MountView } from './view.js';

/** How often to look whether the mountpoint was unmounted from outside. */
const UNMOUNT_POLL_MS = 500;
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
  /** Show the archives' extended attributes (where they have any). */
  readonly xattrs: boolean;
}

export interface MountEvents {
  /** The mount is up and usable. */
  readonly mounted: () => void;
  /** A failed read or lookup (reported once each), with the path inside the mount. */
  readonly problem: ProblemSink;
  /** Something that works, but less well than it should (not a failure). */
  readonly warning: (message: string) => void;
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
  transport: Transport,
  repository: Pick<Repository, 'readBlock' | 'readTree'>,
  options: MountOptions,
  events: MountEvents,
  stop: AbortSignal,
): Promise<MountSummary> {
  const reporter = new OnceReporter(events.problem);
  const view = await buildView(repository, options);
  // Blocks are decrypted on the repository's worker threads, off the thread that answers FUSE.
  const readers = new Readers(view, { cache: new BlockCache(repository, options.cacheBytes), readahead: options.readahead });
  const serve = transport.kind === 'kernel' ? serveWithKernel : serveWithLibfuse(transport.Fuse);
  await serve(view, readers, reporter, options, events, stop);
  return { problems: reporter.count };
}

type Serve = (view: MountView, readers: Readers, reporter: OnceReporter, options: MountOptions, events: MountEvents, stop: AbortSignal) => Promise<void>;

/** Our own connection to the kernel (kernel/): the mount ends with the connection, however it is unmounted. */
const serveWithKernel: Serve = async (view, readers, reporter, options, events, stop) => {
  const device = await FuseDevice.open();
  try {
    await device.mount({ mountpoint: options.mountpoint, allowOther: options.allowOther });
  } catch (error) {
    await device.close();
    throw error;
  }
  const server = new KernelServer(device, view, readers, reporter);
  // A push that fails costs only speed: said once, and files are then read on request.
  let pushing = true;
  const pushFailed = (error: unknown): void => {
    if (pushing) events.warning(`small files will be read on request only: cannot hand their pages to the kernel (${describeError(error)})`);
    pushing = false;
  };
  readers.onWholeFileFetched((path, content) => {
    // A node the kernel does not hold would refuse the pages.
    const node = server.nodeAt(path);
    if (pushing && node !== undefined) device.pushPages(node, content);
  });
  try {
    // Inside: serving may fail (FUSE unavailable), and the mount must not stay behind.
    device.serve(server.handle, pushFailed);
    const endedEarly = device.untilEnded().then(() => {
      throw new Error('the kernel closed the FUSE connection before the mount was ready');
    });
    await Promise.race([server.untilInitialized(), endedEarly]);
    await device.setReadahead(options.mountpoint, LARGEST_READ_KIB).catch((error: unknown) => {
      events.warning(`large files will be read in 128 KiB requests: cannot set the mount's readahead (${describeError(error)})`);
    });
    events.mounted();
    await Promise.race([device.untilEnded(), aborted(stop)]);
  } finally {
    await device.unmount(options.mountpoint);
  }
};

/** fuse-native and libfuse 2, for users other than root; an unmount from outside is noticed by polling. */
function serveWithLibfuse(Fuse: FuseClass): Serve {
  return async (view, readers, reporter, options, events, stop) => {
    const fuse = new Fuse(options.mountpoint, fuseOperations(view, readers, reporter), {
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
  };
}

function aborted(stop: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (stop.aborted) resolve();
    else stop.addEventListener('abort', () => resolve(), { once: true });
  });
}

async function buildView(repository: TreeSource, options: MountOptions): Promise<MountView> {
  const accounts = await readSystemAccounts();
  const archives = options.archives.map((record) => ({
    id: record.id,
    metadata: record.metadata,
    owners: ownerMapping(record.metadata, accounts, options.owners),
  }));
  const layout = { archives, single: options.single, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, xattrs: options.xattrs };
  return new MountView(layout, new FolderCache(repository), new InodeTable(), options.readahead);
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
