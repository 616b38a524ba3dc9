/**
 * Locks on the backend, so that gc never deletes an object a running create is about to
 * reference. create dedups by asking whether a block exists; an unreferenced block it
 * finds and reuses would otherwise be garbage to a concurrent gc. A grace period on fresh
 * objects would not help there (the reused block is old), so: create holds a shared lock,
 * gc an exclusive one.
 *
 * A lock is an object `locks/<kind>-<random>` holding who took it and when. To take one, a
 * process writes its lock, then lists `locks/`: if it sees a conflicting live lock it
 * removes its own and gives up. Of two processes racing, at least one sees the other's
 * lock (both write before they list), so they never both proceed. Holders rewrite their
 * lock every few minutes; a lock not rewritten for STALE_AFTER_MS, or left by a process
 * of this host that is gone, is stale: whoever finds it removes it, and its holder, if it
 * was only stalled, notices at its next check (assertHeld) and stops.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Backend } from '../backend/index.js';
import { ObjectNotFoundError, PreserveError, ExitStatus, describeError } from '../errors/index.js';

export type LockKind = 'shared' | 'exclusive';

const LOCKS_PREFIX = 'locks/';
const REFRESH_MS = 5 * 60_000;
/** A holder gone quiet this long is taken for gone (gc takes a temporary file as left behind after as long). */
export const STALE_AFTER_MS = 30 * 60_000;

export interface LockInfo {
  readonly kind: LockKind;
  /** The command holding it: create, gc. */
  readonly command: string;
  readonly host: string;
  readonly pid: number;
  /** Milliseconds since the epoch, by the holder's clock. */
  readonly takenAt: number;
  readonly refreshedAt: number;
}

/** Another process holds a conflicting lock; exit 1, as the run could not do its work now. */
export class BackendLockedError extends PreserveError {
  constructor(location: string, holder: LockInfo | string) {
    const who = typeof holder === 'string' ? holder : describeHolder(holder);
    super(`${location} is in use by ${who}; try again when it has finished (if it never will, \`preserve unlock --all\` removes its lock)`, ExitStatus.problem);
  }
}

/** Who holds a lock, for messages. */
export function describeHolder(holder: LockInfo): string {
  return `\`preserve ${holder.command}\` (${holder.kind} lock) on host ${holder.host}, pid ${holder.pid}, since ${new Date(holder.takenAt).toISOString()}, last sign of life ${new Date(holder.refreshedAt).toISOString()}`;
}

function parseLock(bytes: Buffer): LockInfo | undefined {
  try {
    const value = JSON.parse(bytes.toString('utf8')) as Partial<LockInfo>;
    const ok =
      (value.kind === 'shared' || value.kind === 'exclusive') &&
      typeof value.command === 'string' &&
      typeof value.host === 'string' &&
      Number.isSafeInteger(value.pid) &&
      Number.isFinite(value.takenAt) &&
      Number.isFinite(value.refreshedAt);
    return ok ? (value as LockInfo) : undefined;
  } catch {
    return undefined;
  }
}

function processIsGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function isStale(lock: LockInfo, now: number): boolean {
  return now - lock.refreshedAt > STALE_AFTER_MS || (lock.host === hostname() && lock.pid !== process.pid && processIsGone(lock.pid));
}

/** The locks this process holds, for releaseHeldLocks. */
const held = new Set<BackendLock>();

/**
 * Releases every lock this process holds, for a command interrupted by a signal: other
 * runs need not wait for them to go stale (30 minutes, from another host). Failures are
 * left to staleness.
 */
export async function releaseHeldLocks(): Promise<void> {
  await Promise.allSettled([...held].map((lock) => lock.release()));
}

export class BackendLock {
  private key: string;
  private lost: unknown;
  private readonly timer: NodeJS.Timeout;

  /** `written` is the write of the lock object named `key`, which may still be under way. */
  private constructor(
    private readonly backend: Backend,
    private info: LockInfo,
    key: string,
    private readonly written: Promise<void>,
  ) {
    this.key = key;
    this.timer = setInterval(() => void this.refresh(), REFRESH_MS).unref();
    held.add(this);
  }

  /** Takes a lock of kind for command, or throws BackendLockedError naming the holder of a conflicting one. */
  static async acquire(backend: Backend, kind: LockKind, command: string, onWarning: (message: string) => void): Promise<BackendLock> {
    const now = Date.now();
    const info: LockInfo = { kind, command, host: hostname(), pid: process.pid, takenAt: now, refreshedAt: now };
    const key = lockKey(kind);
    // Held from before its object is written, so that releaseHeldLocks never misses one it could find on the backend.
    const lock = new BackendLock(backend, info, key, writeLock(backend, key, info));
    try {
      await lock.written;
      for await (const { key: other, holder } of locksOn(backend, key)) {
        if (holder === 'unreadable') throw new BackendLockedError(backend.location, `an unreadable lock ${other}`);
        if (isStale(holder, Date.now())) {
          onWarning(`removing the stale lock ${other} of ${describeHolder(holder)}`);
          await backend.delete(other);
          continue;
        }
        if (kind === 'exclusive' || holder.kind === 'exclusive') throw new BackendLockedError(backend.location, holder);
      }
    } catch (error) {
      // The error that stopped it is the one to report; a lock left behind goes stale by itself.
      await lock.release().catch(() => undefined);
      throw error;
    }
    return lock;
  }

  /** Throws when the lock was removed behind this process's back (judged stale); callers check before acting on it. */
  async assertHeld(): Promise<void> {
    if (this.lost === undefined && (await this.backend.has(this.key))) return;
    throw new BackendLockedError(this.backend.location, `another process, which removed this run's lock as stale (${describeError(this.lost ?? 'it is gone')}); nothing was changed since`);
  }

  /** Rewrites the lock with a fresh time (objects are immutable: a new one, then the old one removed). */
  private async refresh(): Promise<void> {
    try {
      if (!(await this.backend.has(this.key))) throw new ObjectNotFoundError(this.key);
      this.info = { ...this.info, refreshedAt: Date.now() };
      const old = this.key;
      const key = lockKey(this.info.kind);
      await writeLock(this.backend, key, this.info);
      // Released while the new object was written: that one goes too.
      if (!held.has(this)) return await this.backend.delete(key);
      this.key = key;
      await this.backend.delete(old);
    } catch (error) {
      this.lost ??= error;
    }
  }

  /** Removes the lock object, once its write is done (a write that failed left nothing to remove). */
  async release(): Promise<void> {
    clearInterval(this.timer);
    held.delete(this);
    await this.written.catch(() => undefined);
    await this.backend.delete(this.key);
  }
}

/**
 * Runs work under a lock and releases it. When work fails, a release that fails too (the
 * backend is gone) is only a warning: the lock goes stale by itself, and work's error is
 * the one the user needs to see.
 */
export async function withLock<T>(
  backend: Backend,
  kind: LockKind,
  command: string,
  onWarning: (message: string) => void,
  work: (lock: BackendLock) => Promise<T>,
): Promise<T> {
  const lock = await BackendLock.acquire(backend, kind, command, onWarning);
  let result: T;
  try {
    result = await work(lock);
  } catch (error) {
    await lock.release().catch((releaseError: unknown) => onWarning(`this run's lock stays on the backend until it goes stale: ${describeError(releaseError)}`));
    throw error;
  }
  await lock.release();
  return result;
}

export interface FoundLock {
  readonly key: string;
  /** Who holds it; 'unreadable' when its object says nothing sensible. */
  readonly holder: LockInfo | 'unreadable';
  readonly removed: boolean;
}

/**
 * `preserve unlock`: removes the stale locks on the backend (restic's `unlock`), or with
 * `all` every lock (restic's `--remove-all`, borg's `break-lock`), which only the user can
 * know to be safe. An unreadable lock is never stale: nothing says its holder is gone.
 */
export async function* removeLocks(backend: Backend, all: boolean): AsyncGenerator<FoundLock> {
  for await (const { key, holder } of locksOn(backend)) {
    const removed = all || (holder !== 'unreadable' && isStale(holder, Date.now()));
    if (removed) await backend.delete(key);
    yield { key, holder, removed };
  }
}

/** The locks on the backend but `own`, each read as it is listed; one released meanwhile is left out. */
async function* locksOn(backend: Backend, own?: string): AsyncGenerator<{ key: string; holder: LockInfo | 'unreadable' }> {
  for await (const { key } of backend.list(LOCKS_PREFIX)) {
    if (key === own) continue;
    const holder = await readLock(backend, key);
    if (holder !== 'gone') yield { key, holder };
  }
}

function lockKey(kind: LockKind): string {
  return `${LOCKS_PREFIX}${kind}-${randomBytes(8).toString('hex')}`;
}

async function writeLock(backend: Backend, key: string, info: LockInfo): Promise<void> {
  await backend.put(key, Buffer.from(JSON.stringify(info), 'utf8'));
}

async function readLock(backend: Backend, key: string): Promise<LockInfo | 'gone' | 'unreadable'> {
  try {
    return parseLock(await backend.get(key)) ?? 'unreadable';
  } catch (error) {
    // Released between the listing and this read.
    if (error instanceof ObjectNotFoundError) return 'gone';
    throw error;
  }
}
