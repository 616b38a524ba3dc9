/**
 * Content-addressed encrypted objects: data blocks and folder trees. put() encrypts with
 * the kind's key set and uploads only when the backend lacks the object; get() fetches,
 * authenticates and decrypts. The sealer decides where the cryptography runs.
 */
import { type Backend, readObject } from '../backend/index.js';
import type { Sealer } from '../crypto/index.js';
import { type ObjectId, asId, idToHex } from './ids.js';
import { blockKey, treeKey } from './layout.js';

type ContentKind = 'block' | 'tree';

export interface PutResult<K extends ContentKind> {
  readonly id: ObjectId<K>;
  /** Ciphertext bytes this call uploaded; 0 when the object was already stored. */
  readonly storedBytes: number;
}

export class ContentStore<K extends ContentKind> {
  /** Ids known to be on the backend during this run, so each is checked at most once. */
  private readonly knownPresent = new Set<string>();
  private readonly keyOf: (id: ObjectId<K>) => string;

  constructor(
    private readonly backend: Backend,
    /** Seals and opens with this kind's key set. */
    private readonly sealer: Sealer,
    readonly kind: K,
  ) {
    // Both layouts take any content id; the kind parameter only keeps callers honest.
    this.keyOf = (kind === 'block' ? blockKey : treeKey) as (id: ObjectId<K>) => string;
  }

  async put(plaintext: Uint8Array): Promise<PutResult<K>> {
    const sealed = await this.sealer.seal(plaintext);
    const id = asId(sealed.id, this.kind);
    const hex = idToHex(id);
    if (this.knownPresent.has(hex)) return { id, storedBytes: 0 };
    const key = this.keyOf(id);
    const created = !(await this.backend.has(key)) && (await this.backend.put(key, sealed.ciphertext));
    this.knownPresent.add(hex);
    return { id, storedBytes: created ? sealed.ciphertext.length : 0 };
  }

  /** Whether the backend holds the object (remembered for the rest of the run). */
  async has(id: ObjectId<K>): Promise<boolean> {
    const hex = idToHex(id);
    if (this.knownPresent.has(hex)) return true;
    const present = await this.backend.has(this.keyOf(id));
    if (present) this.knownPresent.add(hex);
    return present;
  }

  /** Fetches, authenticates and decrypts; a backend with several copies retries a bad one. */
  get(id: ObjectId<K>): Promise<Buffer> {
    return readObject(this.backend, this.keyOf(id), (ciphertext) => this.sealer.open(id, ciphertext, `${this.kind} ${idToHex(id)}`));
  }

  /** Stops the sealer's worker threads, if it has any. */
  close(): Promise<void> {
    return this.sealer.close();
  }

  /** The backend key of an object, for reports that name it. */
  locate(id: ObjectId<K>): string {
    return this.keyOf(id);
  }
}
