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
  const key = await randomBytes(MASTER_KEY_LENGTH);
  try {
    await writeKeyfile(path, key);
  } finally {
    wipe(key);
  }
}

/** Writes key as a new keyfile (mode 0600); refuses to replace an existing file. */
export async function writeKeyfile(path: string, key: Uint8Array): Promise<void> {
  if (key.length !== MASTER_KEY_LENGTH) throw new RangeError(`a master key is ${MASTER_KEY_LENGTH} bytes, got ${key.length}`);
  const text = hexLine(key);
  try {
    await writeFile(path, text, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if (isErrnoException(error) && error.code === 'EEXIST') {
      throw new UsageError(`keyfile ${path} already exists; refusing to overwrite it`);
    }
    throw new UsageError(`cannot write keyfile ${path}: ${describeError(error)}`, { cause: error });
  } finally {
    wipe(text);
  }
}

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'ascii');

/** The key as lowercase hex and a newline, in a Buffer (a string could not be wiped). */
function hexLine(key: Uint8Array): Buffer {
  const out = Buffer.alloc(key.length * 2 + 1, 0x0a);
  key.forEach((byte, i) => {
    out[2 * i] = HEX_DIGITS[byte >> 4] as number;
    out[2 * i + 1] = HEX_DIGITS[byte & 15] as number;
  });
  return out;
}

/**
 * Reads the master key. Malformed or unreadable files are a KeyError (exit 2);
 * `onWarning` hears about a keyfile that group or others can read. The file's bytes are
 * held in a Buffer, never a string, so that they can be wiped once decoded.
 */
export async function loadKeyfile(path: string | undefined, onWarning: (message: string) => void): Promise<Buffer> {
  if (!path) throw new UsageError('no keyfile given: pass --keyfile FILE or set PRESERVE_KEYFILE');
  let bytes: Buffer;
  try {
    const info = await stat(path);
    if (info.isDirectory()) throw new KeyError(`keyfile ${path} is a folder, not a file`);
    if ((info.mode & 0o077) !== 0) {
      onWarning(`keyfile ${path} is readable by others (mode ${(info.mode & 0o777).toString(8)}); run chmod 600 ${path}`);
    }
    bytes = await readFile(path);
  } catch (error) {
    if (error instanceof KeyError) throw error;
    throw new KeyError(`cannot read keyfile ${path}: ${describeError(error)}`, { cause: error });
  }
  try {
    return parseKeyBytes(bytes, path);
  } finally {
    wipe(bytes);
  }
}

export function parseKeyText(text: string, path: string): Buffer {
  return parseKeyBytes(Buffer.from(text, 'latin1'), path);
}

const LF = 0x0a;
const CR = 0x0d;

/** 256 hex digits and an optional trailing newline (LF or CRLF), decoded without making a string. */
export function parseKeyBytes(bytes: Buffer, path: string): Buffer {
  let length = bytes.length;
  if (bytes[length - 1] === LF) length -= bytes[length - 2] === CR ? 2 : 1;
  if (length !== KEY_HEX_LENGTH) {
    throw new KeyError(`keyfile ${path} is malformed: expected ${KEY_HEX_LENGTH} hex characters, found ${length}`);
  }
  const key = Buffer.alloc(MASTER_KEY_LENGTH);
  for (let i = 0; i < MASTER_KEY_LENGTH; i++) {
    const high = hexValue(bytes[2 * i] as number);
    const low = hexValue(bytes[2 * i + 1] as number);
    if (high < 0 || low < 0) {
      wipe(key);
      throw new KeyError(`keyfile ${path} is malformed: it contains characters other than hex digits`);
    }
    key[i] = high * 16 + low;
  }
  return key;
}

/** The value of one ASCII hex digit, or -1. */
function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}
