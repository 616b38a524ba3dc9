/**
 * Content-addressed encrypted objects: data blocks and folder trees. put() encrypts with
 * the kind's key set and queues the object for the backend unless it is known to be
 * there (write-behind.ts); flush() waits until every queued object is stored. get()
 * fetches, authenticates and decrypts. The sealer decides where the cryptography runs.
 */
import { LRUCache } from 'lru-cache';
import { type Backend, hasObjects, readObject } from '../backend/index.js';
import { INLINE_OBJECT_BYTES, type Sealed, type Sealer } from '../crypto/index.js';
import { ObjectNotFoundError } from '../errors/index.js';
import { type ObjectId, asId, idToHex } from './ids.js';
import { contentKeyFromHex } from './layout.js';
import { WriteBehind } from './write-behind.js';

type ContentKind = 'block' | 'tree';

/**
 * How many ids a store remembers as on the backend or queued for it, the most recently
 * stored or found kept. Each costs about 115 bytes; remembered without a bound, the ids of a backup
 * of millions of blocks would take hundreds of MiB. One forgotten and met again costs an
 * existence check, or a write that finds the object there (never a missing object).
 */
const KNOWN_IDS = 65_536;

export class ContentStore<K extends ContentKind> {
  /** Ids on the backend or queued for it during this run, so each is checked and stored once while it is remembered. */
  private readonly knownPresent: LRUCache<string, true>;
  private readonly writes: WriteBehind;

  constructor(
    private readonly backend: Backend,
    /** Seals and opens with this kind's key set. */
    private readonly sealer: Sealer,
    readonly kind: K,
    knownIds = KNOWN_IDS,
  ) {
    this.knownPresent = new LRUCache({ max: knownIds });
    this.writes = new WriteBehind(backend);
  }

  /**
   * The object's id; the object itself is stored once flush() has returned. An object
   * known to be on the backend is not encrypted again: a large file re-read after a small
   * edit matches most of its blocks, which the walk has looked for (findUnchanged).
   */
  async put(plaintext: Uint8Array): Promise<ObjectId<K>> {
    const sealed = await this.sealer.seal(plaintext, (id) => this.knownPresent.has(id.toString('hex')));
    return sealed.ciphertext === undefined ? asId(sealed.id, this.kind) : this.putSealed(sealed);
  }

  /** put() for an object already sealed with this kind's key set (on another thread); the ciphertext is handed over (WriteBehind.add). */
  async putSealed(sealed: Sealed): Promise<ObjectId<K>> {
    const id = asId(sealed.id, this.kind);
    const hex = idToHex(id);
    if (!this.knownPresent.has(hex)) {
      this.knownPresent.set(hex, true);
      await this.writes.add(contentKeyFromHex(this.kind, hex), sealed.ciphertext);
    }
    return id;
  }

  /** Returns once every object put so far is on the backend; throws the first failure to store one. */
  flush(): Promise<void> {
    return this.writes.flush();
  }

  /** Ciphertext bytes this store created on the backend (objects it already had do not count). */
  get storedBytes(): number {
    return this.writes.storedBytes;
  }

  /** Whether the backend holds each object or it is queued for it, in order; one question to the backend for those not known yet. */
  async hasMany(ids: readonly ObjectId<K>[]): Promise<boolean[]> {
    // Each id in hex once: an unchanged backup asks about some 31,000 blocks here.
    const hexes = ids.map(idToHex);
    const known = hexes.map((hex) => this.knownPresent.has(hex));
    const unknown = [...new Set(hexes.filter((_, i) => !known[i]))];
    if (unknown.length === 0) return known;
    const present = await hasObjects(this.backend, unknown.map((hex) => contentKeyFromHex(this.kind, hex)));
    const found = new Set(unknown.filter((_, i) => present[i]));
    for (const hex of found) this.knownPresent.set(hex, true);
    // From the answers themselves: more ids than the store remembers may have come in at once.
    return hexes.map((hex, i) => known[i] || found.has(hex));
  }

  /**
   * Fetches, authenticates and decrypts; a backend with several copies retries a bad one.
   * `length`, the object's size when the caller knows it: a large object in a file of this
   * machine is then read by the sealer itself, when it can (on its worker).
   */
  async get(id: ObjectId<K>, length?: number): Promise<Buffer> {
    const key = this.locate(id);
    const what = `${this.kind} ${idToHex(id)}`;
    const path = length !== undefined && length > INLINE_OBJECT_BYTES ? this.backend.localPath?.(key) : undefined;
    if (path === undefined || !this.sealer.openFile) return readObject(this.backend, key, (ciphertext) => this.sealer.open(id, ciphertext, what));
    const plaintext = await this.sealer.openFile(id, path, what);
    if (!plaintext) throw new ObjectNotFoundError(key);
    return plaintext;
  }

  /** Stops the sealer's worker threads, if it has any. */
  close(): Promise<void> {
    return this.sealer.close();
  }

  /** The backend key of an object, for reports that name it. */
  locate(id: ObjectId<K>): string {
    return contentKeyFromHex(this.kind, idToHex(id));
  }
}
