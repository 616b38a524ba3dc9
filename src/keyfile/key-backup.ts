/**
 * The master key stored on the backend under a passphrase (docs/FORMAT.md §Key backups):
 * argon2id(passphrase, salt, parameters) gives one 256-byte key set, which seals the
 * master key with the SPEC §2 construction; the header (parameters and salt) is the aad,
 * so that no field can be changed without the backup failing to open.
 */
import { randomBytes as nonSecretBytes } from 'node:crypto';
import { ByteReader, ByteWriter } from '../archive/codec.js';
import { type KeySet, MASTER_KEY_LENGTH, SIV_LENGTH, decrypt, encrypt, randomBytes } from '../crypto/index.js';
import { type KdfParams, checkKdfParams, deriveFromPassphrase } from '../crypto/passphrase-kdf.js';
import { AuthenticationError, KeyError } from '../errors/index.js';

export const KEY_BACKUPS_PREFIX = 'keys/';
const MAGIC = Buffer.from('PRSVKEY', 'ascii');
const VERSION = 1;
const KDF_ARGON2ID = 1;
const SALT_LENGTH = 32;
const MAX_SALT_LENGTH = 64;
const KEY_SET_LENGTH = 256;

export interface KeyBackup {
  readonly params: KdfParams;
  readonly salt: Buffer;
  /** The bytes the seal authenticates: everything before the SIV. */
  readonly header: Buffer;
  readonly siv: Buffer;
  readonly ciphertext: Buffer;
}

/** A new backup's key under keys/: sorting names by text sorts them by time. */
export function newKeyBackupKey(now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${KEY_BACKUPS_PREFIX}${stamp}-${nonSecretBytes(4).toString('hex')}`;
}

async function keySetFor(passphrase: string, salt: Uint8Array, params: KdfParams): Promise<KeySet> {
  const stream = await deriveFromPassphrase(passphrase, salt, params, KEY_SET_LENGTH);
  return { sivKey: stream.subarray(0, KEY_SET_LENGTH / 2), cipherKey: stream.subarray(KEY_SET_LENGTH / 2) };
}

export async function sealKeyBackup(masterKey: Uint8Array, passphrase: string, params: KdfParams): Promise<Buffer> {
  const salt = Buffer.from(await randomBytes(SALT_LENGTH));
  const header = new ByteWriter()
    .raw(MAGIC)
    .u8(VERSION)
    .u8(KDF_ARGON2ID)
    .varint(params.memoryKiB)
    .varint(params.passes)
    .varint(params.parallelism)
    .bytes(salt)
    .finish();
  const sealed = encrypt(await keySetFor(passphrase, salt, params), header, masterKey);
  return Buffer.concat([header, sealed.id, sealed.ciphertext]);
}

/** Parses a backup and checks its parameters' bounds, before any expensive work. */
export function parseKeyBackup(bytes: Buffer, source: string): KeyBackup {
  const input = new ByteReader(bytes, source);
  if (!input.raw(MAGIC.length).equals(MAGIC)) input.fail('not a Preserve key backup');
  const version = input.u8();
  if (version !== VERSION) input.fail(`unsupported key backup version ${version}`);
  const kdf = input.u8();
  if (kdf !== KDF_ARGON2ID) input.fail(`unknown key derivation ${kdf}`);
  const params: KdfParams = { memoryKiB: input.varint(), passes: input.varint(), parallelism: input.varint() };
  const salt = input.bytes(MAX_SALT_LENGTH);
  const siv = input.raw(SIV_LENGTH);
  const ciphertext = input.raw(MASTER_KEY_LENGTH);
  input.end();
  checkKdfParams(params, source);
  const header = bytes.subarray(0, bytes.length - SIV_LENGTH - MASTER_KEY_LENGTH);
  return { params, salt, header, siv, ciphertext };
}

/** The master key, or KeyError when the passphrase (or anything in the backup) is wrong. */
export async function openKeyBackup(backup: KeyBackup, passphrase: string, source: string): Promise<Buffer> {
  try {
    return decrypt(await keySetFor(passphrase, backup.salt, backup.params), backup.siv, backup.header, backup.ciphertext, source);
  } catch (error) {
    if (!(error instanceof AuthenticationError)) throw error;
    throw new KeyError(`the passphrase does not open ${source} (a wrong passphrase, or the backup was altered)`);
  }
}
