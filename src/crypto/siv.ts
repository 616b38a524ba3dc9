/**
 * The deterministic authenticated encryption of SPEC §2: an HMAC-SHA512 synthetic IV
 * (SIV) over aad and plaintext, and ChaCha20 keyed from that SIV. The same plaintext
 * under the same keys always gives the same id and ciphertext, which is what lets
 * identical chunks be stored once.
 */
import { createCipheriv, createHmac } from 'node:crypto';
import { AuthenticationError } from '../errors/index.js';
import type { KeySet } from './keys.js';
import { constantTimeEqual, wipe } from './sodium.js';

export const SIV_LENGTH = 32;

function u64le(value: number): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(BigInt(value));
  return out;
}

/** First 32 bytes of HMAC-SHA512(siv_key, aad ‖ pt ‖ u64le(len(aad)) ‖ u64le(len(pt))). */
export function computeSiv(keys: KeySet, aad: Uint8Array, plaintext: Uint8Array): Buffer {
  return createHmac('sha512', keys.sivKey)
    .update(aad)
    .update(plaintext)
    .update(u64le(aad.length))
    .update(u64le(plaintext.length))
    .digest()
    .subarray(0, SIV_LENGTH);
}

/**
 * Original ChaCha20 (64-bit counter from 0, 64-bit nonce) keyed by HMAC-SHA512(cipher_key,
 * siv). OpenSSL's 16-byte IV is counter ‖ nonce, so IV = 8 zero bytes ‖ h[32..40].
 * Encryption and decryption are the same operation.
 */
export function applyCipher(keys: KeySet, siv: Uint8Array, data: Uint8Array): Buffer {
  const h = createHmac('sha512', keys.cipherKey).update(siv).digest();
  const iv = Buffer.alloc(16);
  h.copy(iv, 8, 32, 40);
  const cipher = createCipheriv('chacha20', h.subarray(0, 32), iv);
  // A stream cipher: final() returns nothing, so update's output is the whole result (no copy).
  const out = cipher.update(data);
  cipher.final();
  wipe(h);
  return out;
}

export interface Sealed {
  /** The SIV, which doubles as the content-derived id of the object. */
  readonly id: Buffer;
  readonly ciphertext: Buffer;
}

export function encrypt(keys: KeySet, aad: Uint8Array, plaintext: Uint8Array): Sealed {
  const id = computeSiv(keys, aad, plaintext);
  return { id, ciphertext: applyCipher(keys, id, plaintext) };
}

/**
 * Decrypts and authenticates; `what` names the object in the error. No plaintext is
 * released unless the recomputed SIV matches.
 */
export function decrypt(keys: KeySet, id: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array, what: string): Buffer {
  if (id.length !== SIV_LENGTH) throw new AuthenticationError(what);
  const plaintext = applyCipher(keys, id, ciphertext);
  if (!constantTimeEqual(computeSiv(keys, aad, plaintext), id)) {
    wipe(plaintext);
    throw new AuthenticationError(what);
  }
  return plaintext;
}
