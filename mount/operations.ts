/**
 * The fuse-native operations table: each handler is one line that hands its work to
 * serve() (reply.ts). Everything that would change the archive answers EROFS; the mount
 * is also made read-only in the kernel, so most such calls never get here.
 */
import type Fuse from 'fuse-native';
import type { Attributes, FsStatistics } from './attributes.js';
import type { Readers } from './readers.js';
import { FsError, type OnceReporter, serve } from './reply.js';
import type { MountView } from './view.js';

/**
 * Without open and release handlers libfuse answers those requests itself (success,
 * handle 0), which saves two hops to the JS thread per file: that is most of the cost of
 * copying a small file out. Opening for writing is refused by the kernel (EROFS), as
 * the mount is read-only there.
 */
export function fuseOperations(view: MountView, readers: Readers, reporter: OnceReporter): Fuse.Operations {
  const readOnly = (path: string, cb: Fuse.Callback): void =>
    serve(reporter, path, cb, () => Promise.reject(new FsError('EROFS', 'the archive is read-only')));
  return {
    getattr: (path, cb) => serve(reporter, path, cb, async () => [0, fuseStat(view.stat(await view.resolve(path)))]),
    readdir: (path, cb) =>
      serve(reporter, path, cb, async () => {
        const { names, nodes } = await view.list(path);
        void readers.listed(path);
        return [0, names, nodes.map((node) => fuseStat(view.stat(node)))];
      }),
    readlink: (path, cb) => serve(reporter, path, cb, async () => [0, await view.readlink(path)]),
    statfs: (path, cb) => serve(reporter, path, cb, async () => [0, fuseStatfs(view.statfs())]),
    read: (path, _handle, buffer, length, position, cb) =>
      serve(reporter, path, cb, async () => {
        let copied = 0;
        for (const piece of await readers.read(path, length, position)) copied += piece.copy(buffer, copied);
        return [copied];
      }),
    write: (path, _handle, _buffer, _length, _position, cb) => readOnly(path, cb),
    create: (path, _mode, cb) => readOnly(path, cb),
    truncate: (path, _size, cb) => readOnly(path, cb),
    ftruncate: (path, _handle, _size, cb) => readOnly(path, cb),
    chmod: (path, _mode, cb) => readOnly(path, cb),
    chown: (path, _uid, _gid, cb) => readOnly(path, cb),
    utimens: (path, _atime, _mtime, cb) => readOnly(path, cb),
    mknod: (path, _mode, _device, cb) => readOnly(path, cb),
    unlink: (path, cb) => readOnly(path, cb),
    rename: (source, _destination, cb) => readOnly(source, cb),
    link: (_source, destination, cb) => readOnly(destination, cb),
    symlink: (_target, path, cb) => readOnly(path, cb),
    mkdir: (path, _mode, cb) => readOnly(path, cb),
    rmdir: (path, cb) => readOnly(path, cb),
    setxattr: (path, _name, _value, _position, _flags, cb) => readOnly(path, cb),
    removexattr: (path, _name, cb) => readOnly(path, cb),
  };
}

/** fuse-native carries times as whole, unsigned milliseconds (docs/MOUNT.md, Limits). */
function fuseStat(attributes: Attributes): Fuse.Stat {
  const mtime = Math.max(0, Number(attributes.mtimeNs / 1_000_000n));
  const { mode, uid, gid, size, nlink, ino, blksize } = attributes;
  return { mode, uid, gid, size, nlink, ino, blksize, blocks: Math.ceil(size / 512), mtime, atime: mtime, ctime: mtime };
}

const ST_RDONLY = 1;
/** libfuse 2's statvfs fields are 32 bits wide here. */
const MAX_U32 = 2 ** 32 - 1;

function fuseStatfs(statistics: FsStatistics): Fuse.Statfs {
  const { blockSize, nameMax } = statistics;
  return {
    bsize: blockSize,
    frsize: blockSize,
    blocks: Math.min(statistics.blocks, MAX_U32),
    bfree: 0,
    bavail: 0,
    files: Math.min(statistics.files, MAX_U32),
    ffree: 0,
    favail: 0,
    fsid: 0,
    flag: ST_RDONLY,
    namemax: nameMax,
  };
}
