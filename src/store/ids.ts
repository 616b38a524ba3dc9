/**
 * Branded object ids, so a block id cannot be passed where an archive id is expected.
 * Every id is the 32-byte SIV of its object.
 */
import { SIV_LENGTH } from '../crypto/index.js';

export type ObjectKind = 'block' | 'tree' | 'archive';
export type ObjectId<K extends ObjectKind> = Buffer & { readonly __kind: K };
export type BlockId = ObjectId<'block'>;
export type TreeId = ObjectId<'tree'>;
export type ArchiveId = ObjectId<'archive'>;

export const ID_LENGTH = SIV_LENGTH;
const HEX_ID = /^[0-9a-f]{64}$/;

export function asId<K extends ObjectKind>(bytes: Buffer, _kind: K): ObjectId<K> {
  if (bytes.length !== ID_LENGTH) throw new RangeError(`an id is ${ID_LENGTH} bytes, got ${bytes.length}`);
  return bytes as ObjectId<K>;
}

export function idFromHex<K extends ObjectKind>(hex: string, kind: K): ObjectId<K> | undefined {
  return HEX_ID.test(hex) ? asId(Buffer.from(hex, 'hex'), kind) : undefined;
}

export function idToHex(id: ObjectId<ObjectKind>): string {
  return id.toString('hex');
}
