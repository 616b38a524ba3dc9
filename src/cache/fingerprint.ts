import type { BigIntStats } from 'node:fs';

/** What must all be unchanged for a file to count as unchanged, to the nanosecond. */
export interface FileFingerprint {
  readonly size: number;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
  readonly inode: bigint;
}

export function fingerprintOf(info: Pick<BigIntStats, 'size' | 'mtimeNs' | 'ctimeNs' | 'ino'>): FileFingerprint {
  return { size: Number(info.size), mtimeNs: info.mtimeNs, ctimeNs: info.ctimeNs, inode: info.ino };
}

export function sameFingerprint(a: FileFingerprint, b: FileFingerprint): boolean {
  return a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.inode === b.inode;
}
