import type { BigIntStats } from 'node:fs';
import { storableTime } from '../archive/entry.js';

/** What must all be unchanged for a file to count as unchanged, to the nanosecond. */
export interface FileFingerprint {
  readonly size: number;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
  readonly inode: bigint;
}

/** Times brought into what a cache record holds (the archive's range), here so that stored and fresh fingerprints compare alike. */
export function fingerprintOf(info: Pick<BigIntStats, 'size' | 'mtimeNs' | 'ctimeNs' | 'ino'>): FileFingerprint {
  return { size: Number(info.size), mtimeNs: storableTime(info.mtimeNs), ctimeNs: storableTime(info.ctimeNs), inode: info.ino };
}

export function sameFingerprint(a: FileFingerprint, b: FileFingerprint): boolean {
  return a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.inode === b.inode;
}
