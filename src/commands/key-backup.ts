/**
 * key backup and key recover: the master key kept on the backend(s) under a passphrase
 * (src/keyfile/key-backup.ts), so that the backend and the passphrase alone bring the
 * backups back. A new backup replaces the older ones, so an old passphrase stops working.
 */
import { Catalog } from '../archive/index.js';
import { type Backend, readObject } from '../backend/index.js';
import { deriveKeys } from '../crypto/index.js';
import type { KdfParams } from '../crypto/passphrase-kdf.js';
import { KeyError, UsageError } from '../errors/index.js';
import { KEY_BACKUPS_PREFIX, type KeyBackup, newKeyBackupKey, openKeyBackup, parseKeyBackup, sealKeyBackup } from '../keyfile/key-backup.js';

export interface KeyBackupResult {
  readonly key: string;
  /** Older backups removed once the new one was stored. */
  readonly replaced: readonly string[];
}

export async function backupKey(backend: Backend, masterKey: Uint8Array, passphrase: string, params: KdfParams): Promise<KeyBackupResult> {
  const sealed = await sealKeyBackup(masterKey, passphrase, params);
  const key = newKeyBackupKey(new Date());
  if (!(await backend.put(key, sealed))) throw new UsageError(`a key backup named ${key} already exists on ${backend.location}; run key backup again`);
  const replaced: string[] = [];
  for await (const { key: other } of backend.list(KEY_BACKUPS_PREFIX)) if (other !== key) replaced.push(other);
  for (const other of replaced) await backend.delete(other);
  return { key, replaced };
}

export interface FoundKeyBackup {
  readonly key: string;
  readonly source: string;
  readonly backup: KeyBackup;
}

/** The newest key backup, parsed and with its KDF parameters checked: cheap, before any passphrase is asked. */
export async function findKeyBackup(backend: Backend): Promise<FoundKeyBackup> {
  const keys: string[] = [];
  for await (const { key } of backend.list(KEY_BACKUPS_PREFIX)) keys.push(key);
  const newest = keys.sort().at(-1);
  if (newest === undefined) throw new UsageError(`there is no key backup on ${backend.location} (make one with \`preserve key backup\`)`);
  const source = `key backup ${newest} on ${backend.location}`;
  return { key: newest, source, backup: await readObject(backend, newest, (bytes) => parseKeyBackup(bytes, source)) };
}

/** The master key from a backup; checked against the backend's archives when it has some. */
export async function recoverKey(backend: Backend, found: FoundKeyBackup, passphrase: string): Promise<Buffer> {
  const masterKey = await openKeyBackup(found.backup, passphrase, found.source);
  try {
    await new Catalog(backend, deriveKeys(masterKey)).assertKeyMatches();
  } catch (error) {
    if (!(error instanceof KeyError)) throw error;
    throw new KeyError(`${found.source} holds a key that does not open the archives there`);
  }
  return masterKey;
}
