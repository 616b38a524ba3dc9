/**
 * Data blocks fetched on the main thread and decrypted on worker threads. Decryption
 * (about 560 MiB/s per core) is the mount's throughput budget; on the thread that
 * answers FUSE it would also hold up every other request while a block is decrypted.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { BlockSource } from '../src/archive/index.js';
import { type Backend, readObject } from '../src/backend/index.js';
import { type KeySet, decrypt } from '../src/crypto/index.js';
import { AuthenticationError } from '../src/errors/index.js';
import { type BlockId, idToHex } from '../src/store/ids.js';
import { type DecryptReply, type DecryptRequest, transferList } from './decrypt-protocol.js';

const WORKER_URL = new URL('./decrypt-worker.js', import.meta.url);
/**
 * Blocks up to this size are decrypted on the main thread: that takes a few dozen
 * microseconds, less than the round trip to a worker, which small files would wait on.
 */
const INLINE_LIMIT = 16 * 1024;
/** Workers that die are replaced this many times in all; after that the main thread decrypts. */
const MAX_REPLACEMENTS = 8;
const EMPTY = Buffer.alloc(0);

interface Job {
  readonly id: BlockId;
  readonly resolve: (plaintext: Buffer) => void;
  readonly reject: (error: Error) => void;
}

/** One worker thread and the jobs it has not answered yet. */
class DecryptThread {
  readonly jobs = new Map<number, Job>();
  private readonly worker: Worker;

  constructor(keys: KeySet, onExit: (thread: DecryptThread, reason: string) => void) {
    this.worker = new Worker(WORKER_URL, { workerData: keys });
    // Idle workers must not keep the process alive once the mount is gone.
    this.worker.unref();
    this.worker.on('message', (reply: DecryptReply) => this.settle(reply));
    this.worker.on('error', (error) => onExit(this, error.message));
    this.worker.on('exit', (code) => onExit(this, `exit code ${code}`));
  }

  post(job: number, request: Job, ciphertext: Buffer): void {
    this.jobs.set(job, request);
    const message: DecryptRequest = { job, id: request.id, ciphertext };
    this.worker.postMessage(message, transferList(ciphertext));
  }

  private settle(reply: DecryptReply): void {
    const job = this.jobs.get(reply.job);
    if (!job) return;
    this.jobs.delete(reply.job);
    if ('plaintext' in reply) job.resolve(Buffer.from(reply.plaintext.buffer, reply.plaintext.byteOffset, reply.plaintext.byteLength));
    else if (reply.failure === 'authentication') job.reject(new AuthenticationError(`block ${idToHex(job.id)}`));
    else job.reject(new Error(`decrypting block ${idToHex(job.id)} failed: ${reply.failure}`));
  }

  failAll(reason: string): void {
    for (const job of this.jobs.values()) job.reject(new Error(`the decrypt worker stopped (${reason})`));
    this.jobs.clear();
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

export class DecryptPool implements BlockSource {
  private threads: DecryptThread[];
  private nextJob = 0;
  private replacements = 0;
  private closing = false;

  constructor(
    private readonly backend: Pick<Backend, 'get' | 'read'>,
    private readonly locate: (id: BlockId) => string,
    private readonly keys: KeySet,
    size = availableParallelism(),
  ) {
    this.threads = Array.from({ length: Math.max(1, size) }, () => this.startThread());
  }

  private startThread(): DecryptThread {
    return new DecryptThread(this.keys, (thread, reason) => this.replace(thread, reason));
  }

  /**
   * A worker that died takes its jobs with it (they fail, as EIO) and a new one takes its
   * place, but a worker that keeps dying (it cannot even start) is not restarted forever.
   */
  private replace(thread: DecryptThread, reason: string): void {
    thread.failAll(reason);
    if (this.closing || !this.threads.includes(thread)) return;
    const replacement = this.replacements++ < MAX_REPLACEMENTS ? [this.startThread()] : [];
    this.threads = this.threads.flatMap((each) => (each === thread ? replacement : [each]));
  }

  /** Through readObject, so that with several backends a copy that fails authentication is read again from the next. */
  readBlock(id: BlockId): Promise<Buffer> {
    return readObject(this.backend, this.locate(id), (ciphertext) => this.decryptBlock(id, ciphertext));
  }

  private decryptBlock(id: BlockId, ciphertext: Buffer): Buffer | Promise<Buffer> {
    const idlest = this.threads.reduce<DecryptThread | undefined>((best, each) => (best && best.jobs.size <= each.jobs.size ? best : each), undefined);
    if (ciphertext.length <= INLINE_LIMIT || !idlest) return decrypt(this.keys, id, EMPTY, ciphertext, `block ${idToHex(id)}`);
    return new Promise((resolve, reject) => idlest.post(this.nextJob++, { id, resolve, reject }, ciphertext));
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.threads.map((thread) => thread.terminate()));
  }
}
