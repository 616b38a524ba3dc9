/**
 * What create needs of a file's metadata: node's BigIntStats has it all, and ScannedStats
 * rebuilds it from the fields a worker sends back (source-worker.ts).
 */
import { type BigIntStats, constants } from 'node:fs';
import type { RawStats } from './source-protocol.js';

export type EntryStats = Pick<
  BigIntStats,
  | 'dev'
  | 'ino'
  | 'mode'
  | 'nlink'
  | 'uid'
  | 'gid'
  | 'size'
  | 'mtimeNs'
  | 'ctimeNs'
  | 'isFile'
  | 'isDirectory'
  | 'isSymbolicLink'
  | 'isSocket'
  | 'isFIFO'
  | 'isBlockDevice'
  | 'isCharacterDevice'
>;

const FILE_TYPE = BigInt(constants.S_IFMT);

export class ScannedStats implements EntryStats {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly mode: bigint;
  readonly nlink: bigint;
  readonly uid: bigint;
  readonly gid: bigint;
  readonly size: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;

  constructor(raw: RawStats) {
    [this.dev, this.ino, this.mode, this.nlink, this.uid, this.gid, this.size, this.mtimeNs, this.ctimeNs] = raw;
  }

  private isType(type: number): boolean {
    return (this.mode & FILE_TYPE) === BigInt(type);
  }

  isFile(): boolean {
    return this.isType(constants.S_IFREG);
  }
  isDirectory(): boolean {
    return this.isType(constants.S_IFDIR);
  }
  isSymbolicLink(): boolean {
    return this.isType(constants.S_IFLNK);
  }
  isSocket(): boolean {
    return this.isType(constants.S_IFSOCK);
  }
  isFIFO(): boolean {
    return this.isType(constants.S_IFIFO);
  }
  isBlockDevice(): boolean {
    return this.isType(constants.S_IFBLK);
  }
  isCharacterDevice(): boolean {
    return this.isType(constants.S_IFCHR);
  }
}
