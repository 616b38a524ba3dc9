/**
 * The restore target's side of a restore: creating files, links and folders and setting
 * their attributes. All but creating files and writing them are synchronous on purpose.
 * Each is a short metadata update on the target file system; sent through libuv's thread
 * pool, the round trip (a thread woken, a completion posted back, a promise settled) cost
 * more CPU than the call itself, and a restore of tens of thousands of small files made
 * hundreds of thousands of them. Reading the backend, which waits on disks or networks,
 * stays asynchronous. Paths may hold names that are not UTF-8 (src/filenames): every call
 * here takes them through fsPath.
 */
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  ftruncateSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  chmodSync,
  mkdirSync,
  open as openCallback,
  readlinkSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  write as writeCallback,
} from 'node:fs';
import { promisify } from 'node:util';
import type { Entry, ExtendedAttribute } from '../archive/index.js';
import { isErrnoException } from '../errors/index.js';
import { fsPath, nameFromBytes } from '../filenames/index.js';
import { readXattrs, writeXattrs, writeXattrsOfOpenFile } from '../xattrs/index.js';
import { type ExistingEntry, microsecondOf } from './restore-policy.js';

const openAsync = promisify(openCallback);
const writeAsync = promisify(writeCallback);
const CREATE_FILE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** Maps archived owner numbers to local ones; present only when chown can succeed (as root). */
export interface OwnerMapping {
  readonly uid: (archiveUid: number) => number;
  readonly gid: (archiveGid: number) => number;
}

/**
 * Runs create, which makes path exclusively (it fails with EEXIST rather than follow or
 * overwrite anything); when an earlier restore left something there, that is removed and
 * create runs once more. unlink never follows a link, so nothing outside the target is
 * touched. Trying first saves a failing unlink for every new entry.
 */
async function createReplacing<T>(path: string | Buffer, create: () => T | Promise<T>): Promise<T> {
  try {
    return await create();
  } catch (error) {
    if (!(isErrnoException(error) && error.code === 'EEXIST')) throw error;
  }
  unlinkSync(path);
  return create();
}

/**
 * A new, empty file at path (mode 0600 until its attributes are set); returns its
 * descriptor. The one call here that goes through the thread pool: creating an inode
 * takes the file system's journal and took a third of the main thread's time inline.
 */
export function createFile(path: string): Promise<number> {
  const at = fsPath(path);
  return createReplacing(at, () => openAsync(at, CREATE_FILE, 0o600));
}

/**
 * Writes all of bytes at `position`, or at the file's current position when it is null (a
 * write may take fewer bytes than asked), through the thread pool: writes were the largest system-call cost of the main
 * thread (2.8 s of a 14 s restore, 2 s of it for the small files); moved to the pool, the
 * full restore of the benchmark took 12.4–13.3 s against 13.2–14.0 s (five pairs).
 */
export async function writeAll(fd: number, bytes: Uint8Array, position: number | null = null): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += (await writeAsync(fd, bytes, written, bytes.length - written, position === null ? null : position + written)).bytesWritten;
  }
}

/** The unit of a hole: the page size, which file systems' blocks match or divide. */
const HOLE_UNIT = 4096;
const ZEROS = Buffer.alloc(HOLE_UNIT);

/**
 * Writes bytes at `position` leaving each page of zeros unwritten: a hole in the file
 * (reads give zeros, no disk is used), as the source had. Pages are the file's (units end
 * at multiples of HOLE_UNIT in the file, wherever the chunk starts), so each one skipped is
 * a block the file system need not allocate. The file's length must be set afterwards
 * (setLength) in case it ends in a hole.
 */
export async function writeSparse(fd: number, bytes: Buffer, position: number): Promise<void> {
  const unitEnd = (at: number) => Math.min(bytes.length, at + HOLE_UNIT - ((position + at) % HOLE_UNIT));
  let start = 0;
  while (start < bytes.length) {
    while (start < bytes.length && isZeros(bytes, start, unitEnd(start))) start = unitEnd(start);
    if (start >= bytes.length) return;
    let end = unitEnd(start);
    while (end < bytes.length && !isZeros(bytes, end, unitEnd(end))) end = unitEnd(end);
    await writeAll(fd, bytes.subarray(start, end), position + start);
    start = end;
  }
}

/** Whether bytes[from, to) (at most HOLE_UNIT long) are all zeros: one memcmp. */
function isZeros(bytes: Buffer, from: number, to: number): boolean {
  return bytes.compare(ZEROS, 0, to - from, from, to) === 0;
}

export function setLength(fd: number, length: number): void {
  ftruncateSync(fd, length);
}

/**
 * Owner first (chown clears setuid bits and the security.capability attribute), then the
 * extended attributes `xattrs` (setting an ACL sets mode bits too), then mode, then times,
 * which later calls would change.
 */
export function setFileAttributes(fd: number, entry: Entry, owners: OwnerMapping | undefined, xattrs: readonly ExtendedAttribute[]): void {
  if (owners) fchownSync(fd, owners.uid(entry.uid), owners.gid(entry.gid));
  writeXattrsOfOpenFile(fd, xattrs);
  fchmodSync(fd, entry.mode);
  futimesSync(fd, timeOf(entry), timeOf(entry));
}

/** The same order as setFileAttributes, by path, for folders (after their content) and symlinks (which have no `xattrs` here). */
export function setPathAttributes(path: string, entry: Entry, owners: OwnerMapping | undefined, xattrs: readonly ExtendedAttribute[]): void {
  const at = fsPath(path);
  if (owners) lchownSync(at, owners.uid(entry.uid), owners.gid(entry.gid));
  if (entry.type !== 'symlink') {
    writeXattrs(path, xattrs);
    chmodSync(at, entry.mode); // a link's own mode cannot be set on Linux
  }
  lutimesSync(at, timeOf(entry), timeOf(entry));
}

export function closeFile(fd: number): void {
  closeSync(fd);
}

/** Removes a file whose content could not be restored. */
export function removeFile(path: string): void {
  unlinkSync(fsPath(path));
}

export function createSymlink(path: string, target: string): Promise<void> {
  const at = fsPath(path);
  return createReplacing(at, () => symlinkSync(fsPath(target), at));
}

/** A hardlink at path to a file restored earlier. */
export function createLink(existing: string, path: string): Promise<void> {
  const at = fsPath(path);
  return createReplacing(at, () => linkSync(fsPath(existing), at));
}

/** What is at path, for restore --overwrite, a file's extended attributes `withXattrs`; undefined when nothing is. */
export function existingAt(path: string, withXattrs: boolean): ExistingEntry | undefined {
  const at = fsPath(path);
  const stats = lstatSync(at, { bigint: true, throwIfNoEntry: false });
  if (stats === undefined) return undefined;
  const kind = stats.isFile() ? 'file' : stats.isSymbolicLink() ? 'symlink' : 'other';
  return {
    kind,
    size: Number(stats.size),
    mode: Number(stats.mode & 0o7777n),
    uid: Number(stats.uid),
    gid: Number(stats.gid),
    mtimeNs: stats.mtimeNs,
    linkTarget: kind === 'symlink' ? nameFromBytes(readlinkSync(at, { encoding: 'buffer' })) : undefined,
    xattrs: withXattrs && kind === 'file' ? readXattrs(path) : undefined,
  };
}

/** Removes what restore --delete found that the archive lacks, and all under it: rm -r, which never follows a symlink. */
export function removeEntry(path: string): void {
  rmSync(fsPath(path), { recursive: true });
}

const NOT_A_FOLDER = 'something other than a folder is in the way';

/** mkdir, or reuse a real folder already there; never a symlink to one. */
export function createFolder(path: string): void {
  const at = fsPath(path);
  try {
    mkdirSync(at, 0o700);
  } catch (error) {
    if (!(isErrnoException(error) && error.code === 'EEXIST')) throw error;
    if (!lstatSync(at).isDirectory()) throw new Error(NOT_A_FOLDER);
  }
}

/** For restore --dry-run: fails where createFolder would, makes nothing. */
export function checkFolder(path: string): void {
  const stats = lstatSync(fsPath(path), { throwIfNoEntry: false });
  if (stats !== undefined && !stats.isDirectory()) throw new Error(NOT_A_FOLDER);
}

/**
 * Seconds for utimes, landing on the entry's microsecond. A double cannot hold
 * nanoseconds at this scale, and libuv cuts the time it is given to the microsecond,
 * toward zero: so give it the wanted microsecond and half of one more, away from zero,
 * which the cut brings back to it whatever the double's rounding. As a string of the
 * number: node takes a negative number (a time before 1970) for "now", and a numeric
 * string as it is.
 */
function timeOf(entry: Entry): string {
  const microsecond = Number(microsecondOf(entry.mtimeNs));
  return String((microsecond + (microsecond < 0 ? -0.5 : 0.5)) / 1e6);
}
