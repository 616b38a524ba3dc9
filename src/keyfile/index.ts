/**
 * keyfile: the master key on disk as 256 lowercase hex characters (SPEC §2), written with
 * mode 0600 and never overwritten.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { MASTER_KEY_LENGTH, randomBytes, wipe } from '../crypto/index.js';
import { KeyError, UsageError, describeError, isErrnoException } from '../errors/index.js';

const KEY_HEX_LENGTH = MASTER_KEY_LENGTH * 2;

/** Creates a keyfile with a fresh random master key; refuses to replace an existing file. */
export async function generateKeyfile(path: string): Promise<void> {
  const key = randomBytes(MASTER_KEY_LENGTH);
  try {
    await writeKeyfile(path, key);
  } finally {
    wipe(key);
  }
}

/** Writes key as a new keyfile (mode 0600); refuses to replace an existing file. */
export async function writeKeyfile(path: string, key: Uint8Array): Promise<void> {
  if (key.length !== MASTER_KEY_LENGTH) throw new RangeError(`a master key is ${MASTER_KEY_LENGTH} bytes, got ${key.length}`);
  const text = `${Buffer.from(key).toString('hex')}\n`;
  try {
    await writeFile(path, text, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if (isErrnoException(error) && error.code === 'EEXIST') {
      throw new UsageError(`keyfile ${path} already exists; refusing to overwrite it`);
    }
    throw new UsageError(`cannot write keyfile ${path}: ${describeError(error)}`, { cause: error });
  }
}

/**
 * Reads the master key. Malformed or unreadable files are a KeyError (exit 2);
 * `onWarning` hears about a keyfile that group or others can read.
 */
export async function loadKeyfile(path: string, onWarning: (message: string) => void): Promise<Buffer> {
  if (path === '') throw new UsageError('no keyfile given: pass --keyfile FILE or set PRESERVE_KEYFILE');
  let text: string;
  try {
    const info = await stat(path);
    if (info.isDirectory()) throw new KeyError(`keyfile ${path} is a folder, not a file`);
    if ((info.mode & 0o077) !== 0) {
      onWarning(`keyfile ${path} is readable by others (mode ${(info.mode & 0o777).toString(8)}); run chmod 600 ${path}`);
    }
    text = await readFile(path, 'latin1');
  } catch (error) {
    if (error instanceof KeyError) throw error;
    throw new KeyError(`cannot read keyfile ${path}: ${describeError(error)}`, { cause: error });
  }
  return parseKeyText(text, path);
}

export function parseKeyText(text: string, path: string): Buffer {
  const hex = text.replace(/\r?\n$/, '');
  if (hex.length !== KEY_HEX_LENGTH) {
    throw new KeyError(`keyfile ${path} is malformed: expected ${KEY_HEX_LENGTH} hex characters, found ${hex.length}`);
  }
  if (!/^[0-9a-fA-F]*$/.test(hex)) {
    throw new KeyError(`keyfile ${path} is malformed: it contains characters other than hex digits`);
  }
  return Buffer.from(hex, 'hex');
}
