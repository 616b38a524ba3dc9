/**
 * A worker thread of the crypto pool (pool.ts): seals and opens objects with the key set
 * it was started with. An authentication failure comes back as a value, since an Error
 * crossing threads loses its class.
 */
import { workerData } from 'node:worker_threads';
import { move } from 'piscina';
import { AuthenticationError } from '../errors/index.js';
import type { KeySet } from './keys.js';
import { ownsItsMemory } from '../threads/movable.js';
import type { CryptoResult, CryptoTask } from './pool-protocol.js';
import { decrypt, encrypt } from './siv.js';

const raw = workerData as { sivKey: Uint8Array; cipherKey: Uint8Array };
const keys: KeySet = { sivKey: Buffer.from(raw.sivKey), cipherKey: Buffer.from(raw.cipherKey) };
const EMPTY = Buffer.alloc(0);

function moved(bytes: Buffer): CryptoResult {
  return ownsItsMemory(bytes) ? (move(bytes) as Uint8Array) : bytes;
}

export default function run(task: CryptoTask): CryptoResult {
  if (task.op === 'encrypt') {
    const sealed = encrypt(keys, EMPTY, task.data);
    return moved(Buffer.concat([sealed.id, sealed.ciphertext]));
  }
  try {
    return moved(decrypt(keys, task.id, EMPTY, task.data, 'object'));
  } catch (error) {
    if (error instanceof AuthenticationError) return { failure: 'authentication' };
    throw error;
  }
}
