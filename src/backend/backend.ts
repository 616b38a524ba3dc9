/**
 * The storage contract every backend (a folder, SFTP, S3, several at once) implements.
 * Keys are relative slash-separated paths such as `blocks/ab/cd/<id>`; a backend sees
 * only ciphertext and never interprets it. test/backend-suite.ts checks each backend
 * against this contract.
 */
import pLimit from 'p-limit';

export interface Backend {
  /** Human-readable location, used in messages ("file:///srv/backup"). */
  readonly location: string;

  /** Whether an object exists under key. */
  has(key: string): Promise<boolean>;

  /**
   * Optional: has() for many keys at once, in order, for a backend that can answer a list
   * for less than one call per key. Callers use hasObjects().
   */
  hasMany?(keys: readonly string[]): Promise<boolean[]>;

  /** The whole object; throws ObjectNotFoundError when it does not exist. */
  get(key: string): Promise<Buffer>;

  /**
   * Optional, for a backend whose objects are files of this machine, one each: the file
   * that holds key (whether or not it exists), for a caller that reads it on another
   * thread instead of through get(). A backend with several copies has none: its reads
   * try the next copy (read).
   */
  localPath?(key: string): string;

  /**
   * Stores data under key atomically: readers see the whole object or nothing, and a crash
   * never leaves a partial object under the final name. Objects are immutable: if the key
   * already exists the existing object is kept and put returns false; it returns true when
   * this call created the object. Safe with several writers at once.
   */
  put(key: string, data: Uint8Array): Promise<boolean>;

  /**
   * Optional: stores several objects as put() stores each, and answers put()'s value for
   * each. Every object is whole and durable under its final name when this resolves, and
   * nothing is under a final name before its bytes are durable. A backend implements it
   * when it can make a batch durable for less than the sum of single puts (a folder: one
   * file-system sync per batch instead of an fsync per object). Callers use putObjects().
   */
  putMany?(objects: readonly NewObject[], options?: PutOptions): Promise<boolean[]>;

  /** Every object under prefix (which ends with '/'), in no particular order, never a temporary one. */
  list(prefix: string): AsyncIterable<ObjectInfo>;

  /** Removes the object; removing a missing object is not an error. */
  delete(key: string): Promise<void>;

  /**
   * Optional, for a backend that writes each object under a temporary name first (a
   * folder, SFTP): what is under those names now, as keys delete() removes. Only a writer
   * that crashed leaves one for long; gc removes those (src/commands/gc.ts).
   */
  temporaries?(): AsyncIterable<DatedObject>;

  /**
   * Optional, for backends that hold more than one copy of each object: fetches key and
   * passes the bytes to open; when a copy is missing, unreachable, or open rejects it as
   * corrupt (AuthenticationError, FormatError), tries the next copy. Callers go through
   * readObject(), which falls back to get() for backends without copies.
   */
  read?<T>(key: string, open: ObjectOpener<T>): Promise<T>;

  /**
   * Optional, for a backend that can answer later runs' lookups faster knowing what this one
   * found: readNotes() takes what earlier runs wrote with writeNotes(), which adds this
   * run's to `notes` (each backend under its own location). create keeps them in its cache.
   * A folder backend notes which of its folders held which objects (folder-memory.ts).
   * readNotes may go on loading after it returns: the lookups that need the notes wait.
   */
  readNotes?(notes: BackendNotes): Promise<void>;
  writeNotes?(notes: BackendNotes): Promise<void>;

  /** Releases connections; the backend is not used afterwards. Optional: a folder holds none. */
  close?(): Promise<void>;
}

/** What backends noted about themselves, by location, kept between runs by their caller. */
export type BackendNotes = Map<string, Uint8Array>;

export interface NewObject {
  readonly key: string;
  readonly data: Uint8Array;
}

export interface PutOptions {
  /**
   * The caller never reads the objects' bytes again, so putMany may take their memory (move
   * it to another thread, leaving the caller's buffers empty) rather than copy it. A
   * backend that passes objects on to others (a mirror) must not pass this on.
   */
  readonly handOver?: boolean;
}

export interface ObjectInfo {
  readonly key: string;
  /** Size in bytes, for reports such as what gc frees. */
  readonly size: number;
}

/** An object with when it was last written. */
export interface DatedObject extends ObjectInfo {
  /** When it was last written, in milliseconds since the epoch (by the backend's clock). */
  readonly modifiedMs: number;
}

/**
 * Turns an object's bytes into what the caller needs, authenticating them on the way;
 * throws AuthenticationError or FormatError when the bytes are bad. Backends never see
 * the keys: the opener is how the one that keeps several copies learns a copy is corrupt.
 */
export type ObjectOpener<T> = (bytes: Buffer) => T | Promise<T>;

/** Fetches and opens an object, letting a backend with several copies retry a bad one. */
export async function readObject<T>(backend: Pick<Backend, 'get' | 'read'>, key: string, open: ObjectOpener<T>): Promise<T> {
  if (backend.read) return backend.read(key, open);
  return open(await backend.get(key));
}

/** Objects stored or looked for at once, without waiting for one another. */
const PARALLEL_PUTS = 8;

/**
 * Stores objects that the backend probably lacks, through putMany() when the backend has
 * it; otherwise each is checked with has() first (a check costs less than an upload) and
 * put, several at once. Answers, per object, whether this call created it.
 */
export async function putObjects(backend: Pick<Backend, 'has' | 'put' | 'putMany'>, objects: readonly NewObject[], options: PutOptions = {}): Promise<boolean[]> {
  if (backend.putMany) return backend.putMany(objects, options);
  const slots = pLimit(PARALLEL_PUTS);
  return Promise.all(objects.map(({ key, data }) => slots(async () => !(await backend.has(key)) && backend.put(key, data))));
}

/** Which of the keys the backend holds, in order: through hasMany() when it has it. */
export function hasObjects(backend: Pick<Backend, 'has' | 'hasMany'>, keys: readonly string[]): Promise<boolean[]> {
  if (backend.hasMany) return backend.hasMany(keys);
  const slots = pLimit(PARALLEL_PUTS);
  return Promise.all(keys.map((key) => slots(() => backend.has(key))));
}
