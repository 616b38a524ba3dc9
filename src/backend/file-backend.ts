/**
 * A backend in a local folder (or anything mounted as one). Writes go to a temporary
 * file under tmp/ inside the backend and are then hard-linked to their final name:
 * link() fails if the name exists, which makes creation atomic and exclusive even with
 * several processes writing at once, and a crash leaves at most a stray file in tmp/.
 * Batches (putMany) are written on a worker thread and made durable together
 * (file-batch-worker.ts).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, open as openCallback, read as readCallback } from 'node:fs';
import { mkdir, open, link, readdir, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { Piscina } from 'piscina';
import { BackendWriteError, ObjectNotFoundError, isErrnoException } from '../errors/index.js';
import { Coalesced, answerEach } from '../threads/coalesced.js';
import { movableParts } from '../threads/movable.js';
import { threadPool } from '../threads/pool.js';
import type { Backend, BackendNotes, DatedObject, NewObject, ObjectInfo, PutOptions } from './backend.js';
import type { BatchResult, BatchTask, LookupResult, LookupTask } from './file-batch-worker.js';
import { checkKey } from './keys.js';

const openAsync = promisify(openCallback);
const readAsync = promisify(readCallback);

const TMP_FOLDER = 'tmp';
/**
 * One writer thread (each costs a heap of its own) with two tasks at once: while one batch
 * waits for its syncfs, the next batch or a lookup runs.
 */
const TASKS_PER_WRITER = 2;
/** Keys looked for in one task of the writer: a few dozen milliseconds cold. */
const LOOKUP_SLICE = 1024;
/** A writer left idle this long stops; the next batch starts it again. */
const BATCH_IDLE_MS = 5_000;

export class FileBackend implements Backend {
  readonly location: string;
  /** Folders known to exist, so each is made once per process rather than once per object. */
  private readonly madeFolders = new Set<string>();

  /** Started with the first batch, so commands that write none never start a thread. */
  private batchWorkers: Piscina | undefined;
  /**
   * One lookup per writer task at a time; the keys asked meanwhile wait and go together,
   * a slice at a time, so that the first asked are answered first.
   */
  private readonly lookups = new Coalesced<readonly string[], boolean[]>((lists) => answerEach(lists, (keys) => this.findObjects(keys)), {
    maxInFlight: TASKS_PER_WRITER,
    maxWeight: LOOKUP_SLICE,
    weigh: (keys) => keys.length,
  });
  /**
   * Whether the caller keeps notes (create): the writer thread then holds what earlier
   * runs found in this backend's folders (file-batch-worker.ts, loadMemory) and must not
   * stop when idle, which would lose it.
   */
  private keepsMemory = false;
  /** Lookups the memory answered, and those that went to disk while it was kept. */
  private readonly counts = { remembered: 0, lookedUp: 0 };
  /** The writer loading the memory (readNotes); lookups and writeNotes wait for it, the walk does not. */
  private memoryLoaded: Promise<void> = Promise.resolve();
  /**
   * The root, normalized, with a slash: a checked key is already normal, so an object's
   * path is the two put together (path.join normalized every one again, 3 % of what the
   * mount's main thread allocated during a `tar`).
   */
  private readonly rootSlash: string;

  constructor(
    private readonly root: string,
    /** How old a folder's last change must be for the memory to trust its signature; by the file system's kind when not given (folder-memory.ts). */
    private readonly settleMs?: number,
  ) {
    this.location = pathToFileURL(root).href;
    this.rootSlash = join(root, '/');
  }

  localPath(key: string): string {
    return this.rootSlash + checkKey(key);
  }

  async has(key: string): Promise<boolean> {
    try {
      await stat(this.localPath(key));
      return true;
    } catch (error) {
      if (isErrnoException(error) && error.code === 'ENOENT') return false;
      throw error;
    }
  }

  /**
   * Two trips through libuv's thread pool, open and one read of the whole object, where
   * readFile made four or more (open, fstat, reads of at most 512 KiB, close): a restore
   * gets tens of thousands of objects, and each trip costs more CPU than the system call.
   * fstat and close on an open descriptor never wait for a disk, so they run inline.
   */
  async get(key: string): Promise<Buffer> {
    let fd: number;
    try {
      fd = await openAsync(this.localPath(key), 'r');
    } catch (error) {
      if (isErrnoException(error) && error.code === 'ENOENT') throw new ObjectNotFoundError(key);
      throw error;
    }
    try {
      return await readWhole(fd);
    } finally {
      closeSync(fd);
    }
  }

  async put(key: string, data: Uint8Array): Promise<boolean> {
    const finalPath = this.localPath(key);
    const tmpPath = join(this.root, TMP_FOLDER, `${randomBytes(12).toString('hex')}.tmp`);
    try {
      await this.writeTemporary(tmpPath, data);
      await this.ensureFolder(dirname(finalPath));
      // Not noted in the writer's memory: objects stored one at a time (locks, archive
      // records) are never looked for with hasMany, and the signature of a folder written
      // to no longer matches anyway.
      await link(tmpPath, finalPath);
      await syncFolder(dirname(finalPath));
      return true;
    } catch (error) {
      if (isErrnoException(error) && error.code === 'EEXIST') return false;
      throw new BackendWriteError(key, this.location, error);
    } finally {
      // Also after a failed write (a full disk): a partial temporary file only takes space.
      await unlink(tmpPath).catch((error: unknown) => {
        if (!(isErrnoException(error) && error.code === 'ENOENT')) throw error;
      });
    }
  }

  private async writeTemporary(tmpPath: string, data: Uint8Array): Promise<void> {
    await this.ensureFolder(dirname(tmpPath));
    const handle = await open(tmpPath, 'wx', 0o600);
    try {
      await handle.writeFile(data);
      // fsync before linking, so the final name never points at data still in flight.
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async hasMany(keys: readonly string[]): Promise<boolean[]> {
    for (const key of keys) checkKey(key);
    return this.lookups.ask(keys);
  }

  async putMany(objects: readonly NewObject[], { handOver = false }: PutOptions = {}): Promise<boolean[]> {
    for (const { key } of objects) checkKey(key);
    // The bytes move to the writer thread: what was handed over as it is, when it may; the
    // rest (views into buffers the caller keeps, small objects) copied together.
    const { parts, transferList } = movableParts(objects.map(({ data }) => data), handOver);
    const task: BatchTask = { root: this.root, tmpFolder: join(this.root, TMP_FOLDER), keys: objects.map(({ key }) => key), objects: parts, settleMs: this.settleMs };
    const result: BatchResult = await this.workers().run(task, { transferList });
    if ('created' in result) return result.created;
    const { key, code, message } = result.failure;
    throw new BackendWriteError(key, this.location, Object.assign(new Error(message), { code }));
  }

  /**
   * Answers lookups from what earlier runs found where that still holds (FolderMemory), and
   * learns from this run's. Returns at once: the writer thread's start and the decoding
   * take about 150 ms, which the walk's first folders use; a failure surfaces at the first
   * lookup or at writeNotes.
   */
  async readNotes(notes: BackendNotes): Promise<void> {
    this.keepsMemory = true;
    this.memoryLoaded = this.workers().run({ notes: notes.get(this.location) ?? null }, { name: 'loadMemory' });
    // Handled here so that a run that makes no lookup does not report it as unhandled;
    // the promise itself still rejects for those who wait on it.
    this.memoryLoaded.catch(() => undefined);
  }

  /**
   * Has the writer look again in the folders this run wrote to, so that the next run finds
   * their new signatures, then puts the memory in notes when it changed. (A writer thread
   * that died was replaced without a memory; the notes then stay as they were.)
   */
  async writeNotes(notes: BackendNotes): Promise<void> {
    if (!this.keepsMemory) return;
    await this.memoryLoaded;
    const bytes: Uint8Array | null = await this.workers().run({ root: this.root, settleMs: this.settleMs }, { name: 'saveMemory' });
    if (bytes) notes.set(this.location, bytes);
  }

  /** Lookups answered by the memory and those that went to disk so far (both 0 without a memory). */
  lookupCounts(): { readonly remembered: number; readonly lookedUp: number } {
    return { ...this.counts };
  }

  /**
   * The writer looks for objects with synchronous calls, so a batch to store that arrives
   * meanwhile waits for the slice under way, not for every key asked together (the
   * benchmark's man1 alone asks about 17,600 blocks).
   */
  private async findObjects(keys: readonly string[]): Promise<boolean[]> {
    const slices: (readonly string[])[] = [];
    for (let start = 0; start < keys.length; start += LOOKUP_SLICE) slices.push(keys.slice(start, start + LOOKUP_SLICE));
    const found = await Promise.all(slices.map((slice) => this.findSlice(slice)));
    return found.flat();
  }

  private async findSlice(keys: readonly string[]): Promise<boolean[]> {
    await this.memoryLoaded;
    const task: LookupTask = { root: this.root, keys, settleMs: this.settleMs };
    const { found, remembered }: LookupResult = await this.workers().run(task, { name: 'findObjects' });
    if (this.keepsMemory) {
      this.counts.remembered += remembered;
      this.counts.lookedUp += keys.length - remembered;
    }
    return found;
  }

  private workers(): Piscina {
    this.batchWorkers ??= threadPool({
      filename: new URL('./file-batch-worker.js', import.meta.url).href,
      minThreads: this.keepsMemory ? 1 : 0,
      maxThreads: 1,
      concurrentTasksPerWorker: TASKS_PER_WRITER,
      idleTimeout: BATCH_IDLE_MS,
      resourceLimits: { maxYoungGenerationSizeMb: 4 },
    });
    return this.batchWorkers;
  }

  async close(): Promise<void> {
    await this.batchWorkers?.destroy();
    this.batchWorkers = undefined;
  }

  private async ensureFolder(path: string): Promise<void> {
    if (this.madeFolders.has(path)) return;
    await mkdir(path, { recursive: true });
    this.madeFolders.add(path);
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    yield* this.walk(prefix.replace(/\/$/, ''));
  }

  temporaries(): AsyncIterable<DatedObject> {
    return this.walk(TMP_FOLDER);
  }

  private async *walk(relative: string): AsyncIterable<DatedObject> {
    let entries;
    try {
      entries = await readdir(join(this.root, relative), { withFileTypes: true });
    } catch (error) {
      if (isErrnoException(error) && error.code === 'ENOENT') return;
      throw error;
    }
    for (const entry of entries) {
      const key = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) yield* this.walk(key);
      else if (entry.isFile()) {
        const info = await this.statOf(key);
        if (info !== undefined) yield { key, size: info.size, modifiedMs: info.mtimeMs };
      }
    }
  }

  /** undefined when the object vanished since it was listed (another process deleted it). */
  private async statOf(key: string): Promise<{ size: number; mtimeMs: number } | undefined> {
    try {
      return await stat(join(this.root, key));
    } catch (error) {
      if (isErrnoException(error) && error.code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await unlink(this.localPath(key));
    } catch (error) {
      if (!(isErrnoException(error) && error.code === 'ENOENT')) throw error;
    }
  }
}

/** fsync of a folder, so that a name just linked into it survives a crash once put returns. */
async function syncFolder(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * The whole content of an open file, sized by fstat. Objects are immutable, so the read
 * normally ends at the first call; a short read (a file system that returns less) loops.
 */
async function readWhole(fd: number): Promise<Buffer> {
  // A buffer of its own, never a slice of the shared pool: callers may move it to another thread.
  const buffer = Buffer.allocUnsafeSlow(fstatSync(fd).size);
  let filled = 0;
  while (filled < buffer.length) {
    const { bytesRead } = await readAsync(fd, buffer, filled, buffer.length - filled, filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === buffer.length ? buffer : buffer.subarray(0, filled);
}
