/**
 * A worker thread of the decrypt pool (decrypt-pool.ts): authenticates and decrypts data
 * blocks with the block key set it was started with, so the thread that answers FUSE
 * never spends its time in HMAC-SHA512 and ChaCha20.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type KeySet, decrypt, wipe } from '../src/crypto/index.js';
import { AuthenticationError } from '../src/errors/index.js';
import { type DecryptReply, type PoolMessage, transferList } from './decrypt-protocol.js';

const keys = workerData as KeySet;
const EMPTY = Buffer.alloc(0);
const port = parentPort;
if (!port) throw new Error('decrypt-worker runs only as a worker thread');

port.on('message', (message: PoolMessage) => {
  if ('close' in message) {
    // This thread's copy of the block keys (structured-cloned from the pool) dies with it.
    wipe(keys.sivKey);
    wipe(keys.cipherKey);
    port.close();
    return;
  }
  const { job, id, ciphertext } = message;
  let reply: DecryptReply;
  try {
    const plaintext = decrypt(keys, id, EMPTY, ciphertext, 'block');
    reply = { job, plaintext };
  } catch (error) {
    reply = { job, failure: error instanceof AuthenticationError ? 'authentication' : String(error) };
  }
  port.postMessage(reply, 'plaintext' in reply ? transferList(reply.plaintext) : []);
});
