/**
 * Inode numbers that are the same at every mount of an archive, computed for one entry
 * at a time so that nothing but the visited folders is read. fuse-native passes only 32
 * bits of st_ino, too few for plain hashing to be collision-free, so:
 *
 * - an entry's number is the first 32 bits of SHA-256(archive id, path), or of
 *   (archive id, hardlink group) for hardlinked files, which therefore share one number;
 * - 0 is invalid and 1 is the mount's root, so those are never handed out;
 * - when a number is already taken in this mount by another entry (a hash clash, about
 *   one in 2^32 per pair), the next free number is used and remembered. Only such
 *   clashing entries can get a different number at another mount, and only if the two
 *   are visited in another order.
 */
import { createHash } from 'node:crypto';

export const ROOT_INODE = 1;
const FIRST_FREE = 2;
const INODE_SPACE = 2 ** 32;

export class InodeTable {
  /** Number → 48 more bits of the hash of the entry holding it, to recognise clashes. */
  private readonly holders = new Map<number, number>();
  /** Entries moved off their hashed number by a clash: identity → number. */
  private readonly moved = new Map<string, number>();

  /** The number of the entry named `key` inside `namespace` (an archive's id). */
  inodeOf(namespace: string, key: string): number {
    const identity = `${namespace}\0${key}`;
    const earlier = this.moved.get(identity);
    if (earlier !== undefined) return earlier;
    const digest = createHash('sha256').update(identity).digest();
    const tag = digest.readUIntLE(4, 6);
    let inode = digest.readUInt32LE(0);
    for (;;) {
      if (inode >= FIRST_FREE) {
        const holder = this.holders.get(inode);
        if (holder === tag) return inode;
        if (holder === undefined) break;
      }
      inode = (inode + 1) % INODE_SPACE;
    }
    this.holders.set(inode, tag);
    if (inode !== digest.readUInt32LE(0)) this.moved.set(identity, inode);
    return inode;
  }
}
