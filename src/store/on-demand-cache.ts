/**
 * An LRU of values made on first request, where requests for a key whose value is still
 * being made wait for that one making. lru-cache's fetch() does this too, but costs about
 * 9 µs more per miss (an AbortController and a background-fetch record each): tar of the
 * benchmark tree misses about 68,000 times (one block and one reader per file), all on the
 * JS thread every FUSE request waits for.
 */
import { LRUCache } from 'lru-cache';

export class OnDemandCache<V extends object> {
  private readonly made: LRUCache<string, V>;
  private readonly making = new Map<string, Promise<V>>();

  constructor(options: LRUCache.Options<string, V, unknown>) {
    this.made = new LRUCache(options);
  }

  /**
   * The value for `key`, made by `make` unless it is cached or being made. A failure is
   * not cached: the next request makes it again. A value too large to keep is still
   * handed to everyone who asked for it.
   */
  get(key: string, make: () => Promise<V>): Promise<V> {
    const value = this.made.get(key);
    if (value !== undefined) return Promise.resolve(value);
    let pending = this.making.get(key);
    if (pending === undefined) {
      pending = make()
        .then((made) => {
          this.made.set(key, made);
          return made;
        })
        .finally(() => this.making.delete(key));
      this.making.set(key, pending);
    }
    return pending;
  }

  /** Drops a kept value (one being made is still handed to those waiting for it). */
  forget(key: string): void {
    this.made.delete(key);
  }
}
