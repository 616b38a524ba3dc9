/**
 * What the view says about a node and about the whole file system, in the units of the
 * archive; each FUSE transport turns them into its own layout (operations.ts for
 * fuse-native, kernel/protocol.ts for the kernel's).
 */

/** The archive never changes under a mount, so the kernel may keep names and attributes this long. */
export const KERNEL_CACHE_SECONDS = 3600;
export interface Attributes {
  readonly ino: number;
  readonly size: number;
  /** File type and permission bits, as st_mode. */
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  /** Nanoseconds since 1970, shown as atime, mtime and ctime. */
  readonly mtimeNs: bigint;
  readonly blksize: number;
}

export interface FsStatistics {
  /** Blocks of blockSize bytes that the archives' files hold. */
  readonly blocks: number;
  readonly files: number;
  readonly blockSize: number;
  readonly nameMax: number;
}
