/**
 * The part of fuse-native 2.2.6's API this adapter uses (the package ships no types).
 * Every handler gets its callback last; the callback's first argument is 0 or a
 * negative errno (for read, the byte count), the rest are the results.
 */
declare module 'fuse-native' {
  namespace Fuse {
    /** fuse-native turns this into a struct stat; times are whole milliseconds. */
    interface Stat {
      mode: number;
      uid: number;
      gid: number;
      size: number;
      nlink: number;
      /** Only the low 32 bits reach the kernel. */
      ino: number;
      blksize: number;
      blocks: number;
      mtime: number;
      atime: number;
      ctime: number;
    }

    interface Statfs {
      bsize: number;
      frsize: number;
      blocks: number;
      bfree: number;
      bavail: number;
      files: number;
      ffree: number;
      favail: number;
      fsid: number;
      flag: number;
      namemax: number;
    }

    type Callback<Values extends unknown[] = []> = (code: number, ...values: Partial<Values>) => void;

    interface Operations {
      getattr?(path: string, cb: Callback<[Stat]>): void;
      readdir?(path: string, cb: Callback<[string[], Stat[]]>): void;
      readlink?(path: string, cb: Callback<[string]>): void;
      open?(path: string, flags: number, cb: Callback<[number]>): void;
      read?(path: string, fd: number, buffer: Buffer, length: number, position: number, cb: (bytesOrErrno: number) => void): void;
      release?(path: string, fd: number, cb: Callback): void;
      statfs?(path: string, cb: Callback<[Statfs]>): void;
      write?(path: string, fd: number, buffer: Buffer, length: number, position: number, cb: (bytesOrErrno: number) => void): void;
      create?(path: string, mode: number, cb: Callback<[number]>): void;
      truncate?(path: string, size: number, cb: Callback): void;
      ftruncate?(path: string, fd: number, size: number, cb: Callback): void;
      chmod?(path: string, mode: number, cb: Callback): void;
      chown?(path: string, uid: number, gid: number, cb: Callback): void;
      utimens?(path: string, atime: number, mtime: number, cb: Callback): void;
      mknod?(path: string, mode: number, dev: number, cb: Callback): void;
      unlink?(path: string, cb: Callback): void;
      rename?(source: string, destination: string, cb: Callback): void;
      link?(source: string, destination: string, cb: Callback): void;
      symlink?(target: string, path: string, cb: Callback): void;
      mkdir?(path: string, mode: number, cb: Callback): void;
      rmdir?(path: string, cb: Callback): void;
      setxattr?(path: string, name: string, value: Buffer, position: number, flags: number, cb: Callback): void;
      removexattr?(path: string, name: string, cb: Callback): void;
    }

    interface Options {
      allowOther?: boolean;
      defaultPermissions?: boolean;
      fsname?: string;
      kernelCache?: boolean;
      entryTimeout?: number;
      attrTimeout?: number;
      /** Milliseconds before an unanswered operation fails with ETIMEDOUT; false for never. */
      timeout?: number | false;
      debug?: boolean;
    }
  }

  class Fuse {
    constructor(mountpoint: string, operations: Fuse.Operations, options?: Fuse.Options);
    mount(cb: (error: Error | null) => void): void;
    unmount(cb: (error: Error | null) => void): void;
    /** How every instance unmounts; fuse-native runs `fusermount -uz` here. */
    static unmount: (mountpoint: string, cb: (error: Error | null) => void) => void;
  }

  export = Fuse;
}
