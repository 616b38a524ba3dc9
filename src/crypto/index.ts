/**
 * crypto: the exact construction of SPEC §2 — key derivation, SIV, the ChaCha20 cipher,
 * deterministic encrypt/decrypt — plus constant-time comparison, wiping and randomness.
 */
export { deriveKeys, KEY_SET_ORDER, MASTER_KEY_LENGTH, type KeySet, type KeySetName, type Keys } from './keys.js';
export { applyCipher, computeSiv, decrypt, encrypt, SIV_LENGTH, type Sealed } from './siv.js';
export { constantTimeEqual, randomBytes, wipe } from './sodium.js';
export { CryptoPool, INLINE_OBJECT_BYTES, inlineSealer, type Sealer } from './pool.js';
