/**
 * A worker thread of the crypto pool (pool.ts): seals and opens objects with the key set
 * it was started with, and reads an object's file itself when it has one. A failure the
 * caller must tell apart comes back as a value, since an Error crossing threads loses its
 * class.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
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
const PAGE_BYTES = 4096;
const WASM_PAGE_BYTES = 65536;
let readBuffer = Buffer.alloc(0);
// WebAssembly's types come with the DOM library, which this project does not load; only this is used.
declare const WebAssembly: { Memory: new (descriptor: { initial: number }) => { readonly buffer: ArrayBuffer } };
/** Cleared when the file system refuses O_DIRECT (EINVAL); files are then read through the page cache. */
let directReads = true;

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
 *
 * Read with O_DIRECT where the file system allows it: the disk's data lands in our buffer
 * without a copy through the page cache, and no page cache is kept of ciphertext that is
 * decrypted once (the mount's kernel keeps the plaintext's pages). The cold read of a
 * 512 MiB file through the mount: about 70 ms less system time (docs/MOUNT.md).
 */
function readWholeFile(path: string): Buffer | undefined {
  if (directReads) {
    try {
      return readFile(path, true);
    } catch (error) {
      if (!isErrnoException(error) || error.code !== 'EINVAL') throw error;
      directReads = false;
    }
  }
  return readFile(path, false);
}

function readFile(path: string, direct: boolean): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, direct ? constants.O_RDONLY | constants.O_DIRECT : constants.O_RDONLY);
  } catch (error) {
    if (isErrnoException(error) && error.code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const size = fstatSync(fd).size;
    // O_DIRECT reads whole pages, at page-aligned offsets into page-aligned memory; the
    // read stops at the end of the file.
    const room = direct ? Math.ceil(size / PAGE_BYTES) * PAGE_BYTES : size;
    const buffer = readBufferFor(room);
    let filled = 0;
    while (filled < size) {
      const bytesRead = readSync(fd, buffer, filled, room - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return buffer.subarray(0, filled);
  } finally {
    closeSync(fd);
  }
}

/** Page-aligned memory of at least `bytes`: a WebAssembly memory is mapped on its own, at a page boundary. */
function readBufferFor(bytes: number): Buffer {
  if (readBuffer.length >= bytes) return readBuffer;
  const buffer = Buffer.from(new WebAssembly.Memory({ initial: Math.ceil(bytes / WASM_PAGE_BYTES) }).buffer);
  if (bytes <= REUSED_READ_BYTES) readBuffer = buffer;
  return buffer;
}
