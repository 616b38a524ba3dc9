/**
 * `keygen --from-passphrase`: a master key derived deterministically from a passphrase, so
 * that the passphrase alone (with the same parameters) makes the same key again on any
 * machine. The salt is fixed by necessity, so the passphrase must be strong: the KDF's
 * cost is what stands between a weak one and an attacker who knows this scheme.
 */
import { MASTER_KEY_LENGTH } from '../crypto/index.js';
import { type KdfParams, deriveFromPassphrase } from '../crypto/passphrase-kdf.js';

/** About a minute at 1 GiB on the 2-core reference machine; part of the derivation, so never changed. */
export const FROM_PASSPHRASE_DEFAULTS: KdfParams = { memoryKiB: 1024 * 1024, passes: 24, parallelism: 1 };
const SALT = Buffer.from('preserve keygen --from-passphrase v1', 'utf8');

export function masterKeyFromPassphrase(passphrase: string, params: KdfParams): Promise<Buffer> {
  return deriveFromPassphrase(passphrase, SALT, params, MASTER_KEY_LENGTH);
}
