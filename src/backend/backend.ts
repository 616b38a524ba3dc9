/**
 * The storage contract every backend (file, later SFTP, S3, several at once) implements.
 * Keys are relative slash-separated paths such as `blocks/ab/cd/<id>`; a backend sees
 * only ciphertext and never interprets it.
 */
export interface Backend {
  /** Human-readable location, used in messages ("file:///srv/backup"). */
  readonly location: string;

  /** Whether an object exists under key. */
  has(key: string): Promise<boolean>;

  /** The whole object; throws ObjectNotFoundError when it does not exist. */
  get(key: string): Promise<Buffer>;

  /**
   * Stores data under key atomically: readers see the whole object or nothing, and a crash
   * never leaves a partial object under the final name. Objects are immutable: if the key
   * already exists the existing object is kept and put returns false; it returns true when
   * this call created the object. Safe with several writers at once.
   */
  put(key: string, data: Uint8Array): Promise<boolean>;

  /** Every key under prefix (which ends with '/'), in no particular order. */
  list(prefix: string): AsyncIterable<string>;

  /** Removes the object; removing a missing object is not an error. */
  delete(key: string): Promise<void>;
}
