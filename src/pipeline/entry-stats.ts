/**
 * What create needs of a file's metadata: node's BigIntStats has it all, and ScannedStats
 * rebuilds it from the fields a worker sends back (source-worker.ts).
 */
import { type BigIntStats, constants } from 'node:fs';
import { MODE_FIELD, type RawStats, SIZE_FIELD } from './source-protocol.js';

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

export const FILE_TYPE = BigInt(constants.S_IFMT);

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

  /** From RawStats, or from the RawStats at `offset` in a listing's packed stats. */
  constructor(raw: RawStats | BigInt64Array, offset = 0) {
    const field = (index: number) => raw[offset + index] as bigint;
    this.dev = field(0);
    this.ino = field(1);
    this.mode = field(MODE_FIELD);
    this.nlink = field(3);
    this.uid = field(4);
    this.gid = field(5);
    this.size = field(SIZE_FIELD);
    this.mtimeNs = field(7);
    this.ctimeNs = field(8);
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
