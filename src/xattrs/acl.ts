/**
 * POSIX ACLs as Linux keeps them in system.posix_acl_access and system.posix_acl_default
 * (<linux/posix_acl_xattr.h>): a little-endian version 2, then 8 bytes per entry (tag,
 * permissions, id). Turned into the short text form of acl_to_text (`user::rw-,user:1234:r--,…`,
 * ids as numbers), which is how a pax archive carries an ACL (GNU tar's SCHILY.acl.access).
 */

export const ACCESS_ACL = 'system.posix_acl_access';
export const DEFAULT_ACL = 'system.posix_acl_default';

const VERSION = 2;
const HEADER_BYTES = 4;
const ENTRY_BYTES = 8;
/** Tags, with the word acl_to_text gives each and whether the entry names a user or group by id. */
const TAGS: ReadonlyMap<number, { readonly word: string; readonly named: boolean }> = new Map([
  [0x01, { word: 'user', named: false }],
  [0x02, { word: 'user', named: true }],
  [0x04, { word: 'group', named: false }],
  [0x08, { word: 'group', named: true }],
  [0x10, { word: 'mask', named: false }],
  [0x20, { word: 'other', named: false }],
]);

/** The ACL as text; undefined when the value is not a well-formed ACL of version 2. */
export function aclText(value: Buffer): string | undefined {
  if (value.length < HEADER_BYTES || (value.length - HEADER_BYTES) % ENTRY_BYTES !== 0 || value.readUInt32LE(0) !== VERSION) return undefined;
  const entries: string[] = [];
  for (let at = HEADER_BYTES; at < value.length; at += ENTRY_BYTES) {
    const tag = TAGS.get(value.readUInt16LE(at));
    if (!tag) return undefined;
    const permissions = value.readUInt16LE(at + 2);
    const who = tag.named ? String(value.readUInt32LE(at + 4)) : '';
    entries.push(`${tag.word}:${who}:${permissions & 4 ? 'r' : '-'}${permissions & 2 ? 'w' : '-'}${permissions & 1 ? 'x' : '-'}`);
  }
  return entries.join(',');
}
