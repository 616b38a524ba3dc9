/**
 * A backend that stores nothing, for `create --dry-run`: the whole create runs against
 * it, so that what the run reports (files read, bytes it would add) is what a real run
 * would do. Reads go to the real backend. A write is answered as the real backend would
 * answer it (created, unless the object is there) and remembered by key only, so that a
 * block met twice counts once and the run finds its own lock where it looks for it.
 * Deletes are dropped.
 */
import { type Backend, type BackendNotes, type NewObject, type ObjectInfo, type ObjectOpener, hasObjects } from './backend.js';

export class DryRunBackend implements Backend {
  /** Keys this run would have written. */
  private readonly written = new Set<string>();

  constructor(private readonly real: Backend) {}

  get location(): string {
    return this.real.location;
  }

  async has(key: string): Promise<boolean> {
    return this.written.has(key) || this.real.has(key);
  }

  async hasMany(keys: readonly string[]): Promise<boolean[]> {
    const found = await hasObjects(this.real, keys);
    return found.map((there, k) => there || this.written.has(keys[k] as string));
  }

  get(key: string): Promise<Buffer> {
    return this.real.get(key);
  }

  read<T>(key: string, open: ObjectOpener<T>): Promise<T> {
    return this.real.read ? this.real.read(key, open) : this.real.get(key).then(open);
  }

  async put(key: string, data: Uint8Array): Promise<boolean> {
    return (await this.putMany([{ key, data }]))[0] as boolean;
  }

  async putMany(objects: readonly NewObject[]): Promise<boolean[]> {
    // Noted before the look, so that a key put again meanwhile, or twice in this batch, is created once.
    const fresh = [...new Set(objects.map(({ key }) => key).filter((key) => !this.written.has(key)))];
    for (const key of fresh) this.written.add(key);
    const there = await hasObjects(this.real, fresh);
    const created = new Set(fresh.filter((_, k) => !there[k]));
    return objects.map(({ key }) => created.delete(key));
  }

  list(prefix: string): AsyncIterable<ObjectInfo> {
    return this.real.list(prefix);
  }

  async delete(): Promise<void> {}

  async readNotes(notes: BackendNotes): Promise<void> {
    await this.real.readNotes?.(notes);
  }

  async close(): Promise<void> {
    await this.real.close?.();
  }
}
