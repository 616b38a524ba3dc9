/**
 * A worker thread of the decrypt pool (decrypt-pool.ts): authenticates and decrypts data
 * blocks with the block key set it was started with, so the thread that answers FUSE
 * never spends its time in HMAC-SHA512 and ChaCha20.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type KeySet, decrypt } from '../src/crypto/index.js';
import { AuthenticationError } from '../src/errors/index.js';
import { type DecryptReply, type DecryptRequest, transferList } from './decrypt-protocol.js';

const keys = workerData as KeySet;
const EMPTY = Buffer.alloc(0);
const port = parentPort;
if (!port) throw new Error('decrypt-worker runs only as a worker thread');

port.on('message', ({ job, id, ciphertext }: DecryptRequest) => {
  let reply: DecryptReply;
  try {
    const plaintext = decrypt(keys, id, EMPTY, ciphertext, 'block');
    reply = { job, plaintext };
  } catch (error) {
    reply = { job, failure: error instanceof AuthenticationError ? 'authentication' : String(error) };
  }
  port.postMessage(reply, 'plaintext' in reply ? transferList(reply.plaintext) : []);
});
