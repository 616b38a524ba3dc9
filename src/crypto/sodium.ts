/**
 * libsodium's job here: constant-time comparison, zeroing secrets and randomness.
 * Node's crypto does the bulk HMAC-SHA512 and ChaCha20 work because it measured faster
 * (about 830 MiB/s against libsodium-less alternatives; the standard libsodium build has
 * neither raw ChaCha20 nor HMAC-SHA512).
 */
import sodium from 'libsodium-wrappers';

// No top-level `await sodium.ready`: it would make this module, and every module importing
// it, an asynchronous module, which node's require() cannot load. piscina loads worker
// files with require() first and falls back to import(), and under Node 20.20 that sequence
// crashed a worker once (ERR_INTERNAL_ASSERTION, "imported again after being required");
// our pools now turn require() of ES modules off in their threads (src/threads/pool.ts).
// memcmp and memzero are libsodium-wrappers' own JavaScript and work before `ready` (the
// crypto tests run them on the workers); randomness waits for it.

/**
 * The one comparison used for ids, SIVs and tags. Length is not secret, so a length
 * mismatch returns early; the contents are compared in constant time.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && sodium.memcmp(a, b);
}

/** Overwrites a secret in place so it does not linger in memory longer than needed. */
export function wipe(secret: Uint8Array): void {
  sodium.memzero(secret);
}

export async function randomBytes(length: number): Promise<Uint8Array> {
  await sodium.ready;
  return sodium.randombytes_buf(length);
}
