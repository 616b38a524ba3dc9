/**
 * Key derivation (SPEC §2): PBKDF2-HMAC-SHA512 of the master key with an empty salt and one
 * iteration, cut into 256-byte key sets. PBKDF2's output is prefix-stable, so adding a key
 * set for a new object kind never changes the earlier ones.
 */
import { pbkdf2Sync } from 'node:crypto';
import { wipe } from './sodium.js';

export const MASTER_KEY_LENGTH = 128;
const KEY_SET_LENGTH = 256;
const SIV_KEY_LENGTH = 128;

export interface KeySet {
  readonly sivKey: Buffer;
  readonly cipherKey: Buffer;
}

/**
 * The key sets in derivation order; the index is the slice of the PBKDF2 stream. 0–3 are
 * SPEC §2's; `tree` encrypts folder metadata and `chunker` keys the chunk-boundary hash.
 */
export const KEY_SET_ORDER = ['block', 'archiveName', 'archiveBlocklist', 'archiveMetadata', 'tree', 'chunker'] as const;
export type KeySetName = (typeof KEY_SET_ORDER)[number];
export type Keys = { readonly [K in KeySetName]: KeySet };

export function deriveKeys(masterKey: Uint8Array): Keys {
  if (masterKey.length !== MASTER_KEY_LENGTH) {
    throw new RangeError(`master key must be ${MASTER_KEY_LENGTH} bytes, got ${masterKey.length}`);
  }
  const stream = pbkdf2Sync(masterKey, Buffer.alloc(0), 1, KEY_SET_LENGTH * KEY_SET_ORDER.length, 'sha512');
  const sets = Object.fromEntries(
    KEY_SET_ORDER.map((name, index) => {
      const start = index * KEY_SET_LENGTH;
      const sivKey = Buffer.from(stream.subarray(start, start + SIV_KEY_LENGTH));
      const cipherKey = Buffer.from(stream.subarray(start + SIV_KEY_LENGTH, start + KEY_SET_LENGTH));
      return [name, { sivKey, cipherKey }];
    }),
  ) as Keys;
  wipe(stream);
  return sets;
}
