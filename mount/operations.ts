/**
 * The fuse-native operations table: each handler is one line that hands its work to
 * serve() (reply.ts). Everything that would change the archive answers EROFS; the mount
 * is also made read-only in the kernel, so most such calls never get here.
 */
import type Fuse from 'fuse-native';
import type { BlockCache } from './block-cache.js';
import { FileReader } from './file-reader.js';
import { FolderReadahead } from './folder-readahead.js';
import { OnDemandCache } from './on-demand-cache.js';
import { FsError, type OnceReporter, serve } from './reply.js';
import type { MountView } from './view.js';

/**
 * Files read at about the same time (a parallel copy, several readers); one that falls
 * out is made again on its next read, losing only its readahead position.
 */
const READERS_KEPT = 64;

export interface ReadSettings {
  readonly cache: BlockCache;
  /** Blocks to fetch ahead of a reader moving forward through a file, and files ahead in its folder. */
  readonly readahead: number;
}

/** A reader per file being read, by path: reads come with the path alone (see fuseOperations). */
class Readers {
  private readonly readers = new OnDemandCache<FileReader>({ max: READERS_KEPT });
  private readonly folderAhead: FolderReadahead;

  constructor(
    private readonly view: MountView,
    private readonly settings: ReadSettings,
  ) {
    this.folderAhead = new FolderReadahead(settings.cache, settings.readahead);
  }

  async read(path: string, buffer: Buffer, length: number, position: number): Promise<number> {
    // One reader however many reads of a new file arrive together.
    const reader = await this.readers.get(path, async () => {
      const { file, folder, position: inFolder } = await this.view.file(path);
      this.folderAhead.reading(folder, inFolder);
      return new FileReader(path, file, this.settings.cache, this.settings.readahead);
    });
    const data = await reader.read(position, length);
    return data.copy(buffer, 0, 0, Math.min(data.length, length));
  }
}

/**
 * Without open and release handlers libfuse answers those requests itself (success,
 * handle 0), which saves two hops to the JS thread per file: that is most of the cost of
 * copying a small file out. Opening for writing is refused by the kernel (EROFS), as
 * the mount is read-only there.
 */
export function fuseOperations(view: MountView, settings: ReadSettings, reporter: OnceReporter): Fuse.Operations {
  const readers = new Readers(view, settings);
  const readOnly = (path: string, cb: Fuse.Callback): void =>
    serve(reporter, path, cb, () => Promise.reject(new FsError('EROFS', 'the archive is read-only')));
  return {
    getattr: (path, cb) => serve(reporter, path, cb, async () => [0, view.stat(await view.resolve(path))]),
    readdir: (path, cb) => serve(reporter, path, cb, async () => { const { names, stats } = await view.list(path); return [0, names, stats]; }),
    readlink: (path, cb) => serve(reporter, path, cb, async () => [0, await view.readlink(path)]),
    statfs: (path, cb) => serve(reporter, path, cb, async () => [0, view.statfs()]),
    read: (path, _handle, buffer, length, position, cb) => serve(reporter, path, cb, async () => [await readers.read(path, buffer, length, position)]),
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
