/**
 * Encryption and decryption of content objects on worker threads (piscina), one per core:
 * HMAC-SHA512 and ChaCha20 run at about 560 MiB/s per core, the budget of create, restore
 * and mount, and off the main thread they no longer hold up I/O or FUSE requests.
 */
import { availableParallelism } from 'node:os';
import type { Piscina } from 'piscina';
import { AuthenticationError } from '../errors/index.js';
import type { KeySet } from './keys.js';
import { ownsItsMemory } from '../threads/movable.js';
import { threadPool } from '../threads/pool.js';
import type { CryptoResult, CryptoTask } from './pool-protocol.js';
import { SIV_LENGTH, type Sealed, applyCipher, computeSiv, decrypt, encrypt } from './siv.js';

/** Objects up to this size are handled inline: the round trip to a worker costs more. */
export const INLINE_OBJECT_BYTES = 16 * 1024;
const TASKS_PER_THREAD = 4;
const EMPTY = Buffer.alloc(0);

/** How content objects are sealed and opened: inline (Sealer) or on workers (CryptoPool). */
export interface Sealer {
  /**
   * The object's id and ciphertext; only the id when `stored` says an object of that id
   * is already on the backend (the inline sealer then skips the cipher, a third of the
   * cost of sealing; the pool, which computes the id on a worker, always encrypts).
   */
  seal(plaintext: Uint8Array, stored?: (id: Buffer) => boolean): Promise<Sealed | StoredId>;
  /** Throws AuthenticationError, naming `what`, when the ciphertext does not authenticate. */
  open(id: Uint8Array, ciphertext: Uint8Array, what: string): Promise<Buffer>;
  /**
   * Optional: open() of an object that is a file of this machine, read by the sealer
   * itself; undefined when there is no such file. For objects of more than
   * INLINE_OBJECT_BYTES: smaller ones are opened on the caller's thread anyway.
   */
  openFile?(id: Uint8Array, path: string, what: string): Promise<Buffer | undefined>;
  close(): Promise<void>;
}

/** What seal() answers for an object already stored: no ciphertext was made. */
export interface StoredId {
  readonly id: Buffer;
  readonly ciphertext?: undefined;
}

/** On the calling thread: for small objects, and for commands that handle few. */
export function inlineSealer(keys: KeySet): Sealer {
  return {
    seal: async (plaintext, stored) => {
      const id = computeSiv(keys, EMPTY, plaintext);
      return stored?.(id) ? { id } : { id, ciphertext: applyCipher(keys, id, plaintext) };
    },
    open: async (id, ciphertext, what) => decrypt(keys, id, EMPTY, ciphertext, what),
    close: async () => undefined,
  };
}

export class CryptoPool implements Sealer {
  private readonly pool: Piscina<CryptoTask, CryptoResult>;
  private readonly inline: Sealer;

  constructor(
    private readonly keys: KeySet,
    threads = availableParallelism(),
  ) {
    this.inline = inlineSealer(keys);
    // The threads start with the pool and stay until close(). Started on demand, a thread
    // costs its first task about 0.1 s (node and the modules loading): the mount, the
    // pool's user, made the first large block read after it started, or after an idle
    // spell, wait that long (docs/MOUNT.md).
    // Several tasks per thread: the next is already waiting in the thread's queue when one
    // ends. With one, a thread sat idle for each task's round trip through the caller's
    // event loop (about 0.6 ms a block, a quarter of its time in the mount's read of a
    // large file). Tasks still start in the order they were asked for, so how many a
    // thread holds does not change how long a READ's block waits behind earlier readahead.
    this.pool = threadPool({
      filename: new URL('./pool-worker.js', import.meta.url).href,
      workerData: keys,
      minThreads: threads,
      maxThreads: threads,
      concurrentTasksPerWorker: TASKS_PER_THREAD,
    });
  }

  async seal(plaintext: Uint8Array): Promise<Sealed> {
    if (plaintext.length <= INLINE_OBJECT_BYTES) return encrypt(this.keys, EMPTY, plaintext);
    // A copy of its own: the caller keeps using the plaintext, which may also be a view
    // into a larger read buffer (posting a view would clone all of that buffer).
    const data = Buffer.from(plaintext);
    const result = await this.pool.run({ op: 'encrypt', data }, { transferList: [data.buffer as ArrayBuffer] });
    if (!(result instanceof Uint8Array)) throw new Error('the crypto worker answered an encryption with a failure');
    const bytes = Buffer.from(result.buffer, result.byteOffset, result.byteLength);
    return { id: bytes.subarray(0, SIV_LENGTH), ciphertext: bytes.subarray(SIV_LENGTH) };
  }

  async open(id: Uint8Array, ciphertext: Uint8Array, what: string): Promise<Buffer> {
    if (ciphertext.length <= INLINE_OBJECT_BYTES) return this.inline.open(id, ciphertext, what);
    // The ciphertext was fetched for this call alone; it moves when it owns its memory.
    const transferList = ownsItsMemory(ciphertext) ? [ciphertext.buffer as ArrayBuffer] : [];
    const result = await this.pool.run({ op: 'decrypt', id, data: ciphertext }, { transferList });
    if (!(result instanceof Uint8Array)) throw new AuthenticationError(what);
    return Buffer.from(result.buffer, result.byteOffset, result.byteLength);
  }

  /**
   * The worker opens and reads the file with synchronous calls, where the caller's thread
   * would make two trips through libuv's pool (open, read), and into a buffer it keeps for
   * the next, so only the plaintext takes fresh memory.
   */
  async openFile(id: Uint8Array, path: string, what: string): Promise<Buffer | undefined> {
    const result = await this.pool.run({ op: 'open-file', id, path });
    if (result instanceof Uint8Array) return Buffer.from(result.buffer, result.byteOffset, result.byteLength);
    if (result.failure === 'missing') return undefined;
    throw new AuthenticationError(what);
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}
