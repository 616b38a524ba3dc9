/**
 * A worker thread of the crypto pool (pool.ts): seals and opens objects with the key set
 * it was started with, and reads an object's file itself when it has one. A failure the
 * caller must tell apart comes back as a value, since an Error crossing threads loses its
 * class.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { workerData } from 'node:worker_threads';
import { move } from 'piscina';
import { AuthenticationError, isErrnoException } from '../errors/index.js';
import type { KeySet } from './keys.js';
import { ownsItsMemory } from '../threads/movable.js';
import type { CryptoResult, CryptoTask } from './pool-protocol.js';
import { decrypt, encrypt } from './siv.js';

const raw = workerData as { sivKey: Uint8Array; cipherKey: Uint8Array };
const keys: KeySet = { sivKey: Buffer.from(raw.sivKey), cipherKey: Buffer.from(raw.cipherKey) };
const EMPTY = Buffer.alloc(0);

/** Objects up to this size are read into one buffer kept for the next, so only the plaintext takes fresh memory. */
const REUSED_READ_BYTES = 4 * 1024 * 1024;
let readBuffer = Buffer.alloc(0);

function moved(bytes: Buffer): CryptoResult {
  return ownsItsMemory(bytes) ? (move(bytes) as Uint8Array) : bytes;
}

export default function run(task: CryptoTask): CryptoResult {
  if (task.op === 'encrypt') {
    const sealed = encrypt(keys, EMPTY, task.data);
    return moved(Buffer.concat([sealed.id, sealed.ciphertext]));
  }
  const ciphertext = task.op === 'open-file' ? readWholeFile(task.path) : task.data;
  if (ciphertext === undefined) return { failure: 'missing' };
  try {
    return moved(decrypt(keys, task.id, EMPTY, ciphertext, 'object'));
  } catch (error) {
    if (error instanceof AuthenticationError) return { failure: 'authentication' };
    throw error;
  }
}

/**
 * The file's bytes, with synchronous calls: on this thread a read waits for the disk
 * without a trip through libuv's pool and back, and the caller's thread makes none.
 * Undefined when there is no such file.
 */
function readWholeFile(path: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    if (isErrnoException(error) && error.code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const size = fstatSync(fd).size;
    const buffer = size <= REUSED_READ_BYTES ? reusedReadBuffer(size) : Buffer.allocUnsafeSlow(size);
    let filled = 0;
    while (filled < size) {
      const bytesRead = readSync(fd, buffer, filled, size - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return buffer.subarray(0, filled);
  } finally {
    closeSync(fd);
  }
}

function reusedReadBuffer(size: number): Buffer {
  if (readBuffer.length < size) readBuffer = Buffer.allocUnsafeSlow(size);
  return readBuffer;
}
