/**
 * Extended attributes on the local file system, which also hold POSIX ACLs
 * (system.posix_acl_access, system.posix_acl_default) and file capabilities
 * (security.capability): read by create, written by restore. Node has no call for them;
 * fs-xattr calls listxattr, getxattr and setxattr, which follow symlinks, so a symlink's
 * own attributes are never read or written here. fs-xattr takes paths as UTF-8 strings: a
 * path that is not UTF-8 (src/filenames) is reached through /proc/self/fd.
 */
import { closeSync, constants, openSync } from 'node:fs';
import { getAttributeSync, listAttributesSync, setAttributeSync } from 'fs-xattr';
import { type ExtendedAttribute, NO_XATTRS } from '../archive/index.js';
import { fsPath } from '../filenames/index.js';
import { isErrnoException } from '../errors/index.js';

/** Errors that mean "this file system keeps no extended attributes", or "this one is gone meanwhile". */
const UNSUPPORTED = new Set(['ENOTSUP', 'EOPNOTSUPP']);
const GONE = 'ENODATA';

/** The extended attributes of what `path` names (following a symlink), sorted by their names' bytes; throws when they cannot be read. */
export function readXattrs(path: string): readonly ExtendedAttribute[] {
  return atUtf8Path(path, (at) => {
    let names: string[];
    try {
      names = listAttributesSync(at);
    } catch (error) {
      if (isErrnoException(error) && error.code !== undefined && UNSUPPORTED.has(error.code)) return NO_XATTRS;
      throw error;
    }
    if (names.length === 0) return NO_XATTRS;
    const xattrs: ExtendedAttribute[] = [];
    for (const name of names.sort(byBytes)) {
      const value = valueOf(at, name);
      if (value !== undefined) xattrs.push({ name, value });
    }
    return xattrs;
  });
}

function valueOf(at: string, name: string): Buffer | undefined {
  try {
    return getAttributeSync(at, name);
  } catch (error) {
    if (isErrnoException(error) && error.code === GONE) return undefined;
    throw error;
  }
}

function byBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Sets each of `xattrs` on the file open as `fd`. */
export function writeXattrsOfOpenFile(fd: number, xattrs: readonly ExtendedAttribute[]): void {
  setAll(`/proc/self/fd/${fd}`, xattrs);
}

/** Sets each of `xattrs` on what `path` names (following a symlink: never pass one). */
export function writeXattrs(path: string, xattrs: readonly ExtendedAttribute[]): void {
  atUtf8Path(path, (at) => setAll(at, xattrs));
}

function setAll(at: string, xattrs: readonly ExtendedAttribute[]): void {
  for (const { name, value } of xattrs) {
    try {
      setAttributeSync(at, name, value);
    } catch (error) {
      throw new Error(`cannot set its extended attribute ${name}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }
}

/** Runs `work` with a UTF-8 path to the same file: the path itself, or its descriptor's name in /proc when it is not UTF-8. */
function atUtf8Path<T>(path: string, work: (at: string) => T): T {
  const at = fsPath(path);
  if (typeof at === 'string') return work(at);
  const fd = openSync(at, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    return work(`/proc/self/fd/${fd}`);
  } finally {
    closeSync(fd);
  }
}
