/**
 * The fuse-native operations table: each handler is one line that hands its work to
 * serve() (reply.ts). Everything that would change the archive answers EROFS; the mount
 * is also made read-only in the kernel, so most such calls never get here.
 */
import { constants } from 'node:fs';
import type Fuse from 'fuse-native';
import type { FileEntry } from '../src/archive/index.js';
import type { BlockCache } from './block-cache.js';
import { OpenFile } from './open-file.js';
import { FsError, type OnceReporter, serve } from './reply.js';
import type { MountView } from './view.js';

/** O_ACCMODE, which node's fs.constants lacks: the bits that say read, write or both. */
const ACCESS_MODE_BITS = 0o3;

export interface ReadSettings {
  readonly cache: BlockCache;
  /** Blocks to fetch ahead of a reader moving forward through a file. */
  readonly readahead: number;
}

/** Open files by the handle number the kernel passes back on read and release. */
class OpenFiles {
  private nextHandle = 1;
  private readonly files = new Map<number, OpenFile>();

  constructor(
    private readonly view: MountView,
    private readonly settings: ReadSettings,
  ) {}

  async open(path: string, flags: number): Promise<number> {
    if ((flags & ACCESS_MODE_BITS) !== constants.O_RDONLY || (flags & constants.O_TRUNC) !== 0) {
      throw new FsError('EROFS', 'the archive is read-only');
    }
    const file = await this.fileAt(path);
    const handle = this.nextHandle++;
    this.files.set(handle, new OpenFile(path, file, this.settings.cache, this.settings.readahead));
    return handle;
  }

  private async fileAt(path: string): Promise<FileEntry> {
    const node = await this.view.resolve(path);
    if (node.kind === 'entry' && node.entry.type === 'file') return node.entry;
    // The kernel follows symlinks before opening, so anything else here is a folder.
    throw new FsError('EISDIR', `${path} is not a file`);
  }

  async read(handle: number, buffer: Buffer, length: number, position: number): Promise<number> {
    const file = this.files.get(handle);
    if (!file) throw new FsError('EBADF', `no open file with handle ${handle}`);
    const data = await file.read(position, length);
    return data.copy(buffer, 0, 0, Math.min(data.length, length));
  }

  release(handle: number): void {
    this.files.delete(handle);
  }
}

export function fuseOperations(view: MountView, settings: ReadSettings, reporter: OnceReporter): Fuse.Operations {
  const files = new OpenFiles(view, settings);
  const readOnly = (path: string, cb: Fuse.Callback): void =>
    serve(reporter, path, cb, () => Promise.reject(new FsError('EROFS', 'the archive is read-only')));
  return {
    getattr: (path, cb) => serve(reporter, path, cb, async () => [0, view.stat(await view.resolve(path))]),
    readdir: (path, cb) => serve(reporter, path, cb, async () => { const { names, stats } = await view.list(path); return [0, names, stats]; }),
    readlink: (path, cb) => serve(reporter, path, cb, async () => [0, await view.readlink(path)]),
    statfs: (path, cb) => serve(reporter, path, cb, async () => [0, view.statfs()]),
    open: (path, flags, cb) => serve(reporter, path, cb, async () => [0, await files.open(path, flags)]),
    read: (path, handle, buffer, length, position, cb) => serve(reporter, path, cb, async () => [await files.read(handle, buffer, length, position)]),
    release: (path, handle, cb) => serve(reporter, path, cb, async () => { files.release(handle); return [0]; }),
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
