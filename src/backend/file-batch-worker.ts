/**
 * A worker thread of the file backend (file-backend.ts): stores one batch of objects, or
 * looks for many, with synchronous calls. A batch costs one message between threads
 * instead of half a dozen thread-pool round trips per object, and it is made durable as a
 * whole: every new object is written to a temporary file, one syncfs() puts all of their
 * bytes on disk, only then is each linked to its final name, and a second syncfs() makes
 * those names durable. One fsync per object cost ten times more here (docs/DESIGN.md,
 * "Writing objects").
 */
import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, statSync, statfsSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { FileSystemSyncer } from './file-system-sync.js';
import { FolderMemory, settleMsFor } from './folder-memory.js';

export interface BatchTask {
  readonly root: string;
  readonly tmpFolder: string;
  readonly keys: readonly string[];
  /**
   * The objects' bytes, in buffers moved to this thread rather than copied (movableParts):
   * cloning the objects themselves copied each one's whole backing memory, which for a
   * small file's ciphertext is the 4 MiB batch it was sealed in.
   */
  readonly objects: readonly Uint8Array[];
  /** As LookupTask's: for looking again, during the run, at folders written to. */
  readonly settleMs?: number;
}

/** A failure comes back as a value: an Error crossing threads loses its class and code. */
export type BatchResult = { readonly created: boolean[] } | { readonly failure: { readonly key: string; readonly code?: string; readonly message: string } };

/** Unique among every process and thread writing to the backend's temporary folder. */
const tmpPrefix = `${process.pid}-${threadId}-${randomBytes(6).toString('hex')}`;
let tmpCounter = 0;
/**
 * Folders known to exist, each with whether this thread made it (mkdir -p is idempotent;
 * this saves the calls, and the existence checks of objects in a folder made here).
 */
const knownFolders = new Map<string, boolean>();

export interface LookupTask {
  readonly root: string;
  readonly keys: readonly string[];
  /** How old a folder's change must be for its signature to count (folder-memory.ts); by the file system's kind when not given. */
  readonly settleMs?: number;
}

export interface LookupResult {
  readonly found: boolean[];
  /** How many of the keys the memory answered without a lookup of their own. */
  readonly remembered: number;
}

/**
 * What earlier runs found in the backend's folders (folder-memory.ts), when the caller
 * keeps notes (loadMemory). It lives on this thread, which does the lookups and the
 * writes it learns from, so that the main thread, which walks the tree, neither decodes
 * nor consults it (about 200 ms of an unchanged backup's main thread).
 */
let memory: FolderMemory | undefined;

/** Starts keeping a memory: the notes an earlier run saved (saveMemory), or none. */
export function loadMemory({ notes }: { readonly notes: Uint8Array | null }): void {
  memory = notes ? FolderMemory.decode(notes) : FolderMemory.empty();
}

/**
 * When each batch was durable, and how many written keys the memory held then (oldest
 * first; takeWritten takes from the front, so the counts go down with it).
 */
let writeMarks: { readonly at: number; count: number }[] = [];

/** Keys of settled batches are looked at again before the run ends once there are at least this many. */
const EARLY_LOOK_KEYS = 2048;

/**
 * Looks again at the folders written to by batches that have settled, while the run goes
 * on: at the end of a first backup that look had been the only work left (0.4–0.9 s of
 * this thread with every other thread done), and the writer has room meanwhile.
 */
function lookAgainAtSettledWrites(known: FolderMemory, task: BatchTask): void {
  const settledBefore = Date.now() - (task.settleMs ?? settleMsOf(task.root));
  let settled = 0;
  for (const mark of writeMarks) if (mark.at < settledBefore) settled = mark.count;
  if (settled < EARLY_LOOK_KEYS) return;
  const keys = known.takeWritten(settled);
  const { found } = findObjects({ root: task.root, keys, settleMs: task.settleMs });
  writeMarks = writeMarks.filter((mark) => mark.at >= settledBefore);
  for (const mark of writeMarks) mark.count -= settled;
  // A folder written to again since has not settled, and learnt nothing: its keys wait for a later look.
  keys.forEach((key, index) => {
    if (found[index] && known.signatureOf(key) === '') known.wrote(key);
  });
  known.compact();
}

/**
 * Looks again in the folders written to, so that the next run finds their new signatures,
 * and answers the memory's bytes; null when there is no memory or nothing changed.
 */
export function saveMemory({ root, settleMs }: Omit<LookupTask, 'keys'>): Uint8Array | null {
  if (!memory) return null;
  const written = memory.takeWritten();
  writeMarks = [];
  if (written.length > 0) findObjects({ root, keys: written, settleMs });
  if (!memory.changed) return null;
  return memory.encode();
}

/**
 * Which of the keys exist under root, in order (named task `findObjects`), one after the
 * other with synchronous calls. Cold, each costs a couple of disk reads for its folder and
 * inode; on this two-core machine, issuing eight at a time through libuv's pool was no
 * quicker in an unchanged backup and cost more CPU (docs/DESIGN.md, "Looking for blocks").
 * With a memory, every folder is seen before any of its keys is looked for, which is what
 * lets the memory trust a key found after its folder's signature.
 */
export function findObjects({ root, keys, settleMs }: LookupTask): LookupResult {
  if (!memory) return { found: keys.map((key) => exists(join(root, key))), remembered: 0 };
  const known = memory;
  const settledBefore = BigInt(Date.now() - (settleMs ?? settleMsOf(root))) * 1_000_000n;
  const folderSignatures = new Map<string, string>();
  let remembered = 0;
  const found = keys.map((key) => {
    const folder = dirname(key);
    let signature = folderSignatures.get(folder);
    if (signature === undefined) folderSignatures.set(folder, (signature = settledSignature(join(root, folder), settledBefore)));
    const trusted = signature !== '' && signature === known.signatureOf(key);
    if (trusted) remembered++;
    const there = trusted || exists(join(root, key));
    if (there && !trusted) known.found(key, signature);
    return there;
  });
  return { found, remembered };
}

const settleMsByRoot = new Map<string, number>();

function settleMsOf(root: string): number {
  let ms = settleMsByRoot.get(root);
  if (ms === undefined) settleMsByRoot.set(root, (ms = settleMsFor(statfsSync(root).type)));
  return ms;
}

// statSync rather than existsSync, which answers false for any failure (EACCES, EIO) too.
function exists(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false }) !== undefined;
}

/** The folder's device, inode, mtime and ctime; '' when it is missing or changed after settledBefore (ns). */
function settledSignature(path: string, settledBefore: bigint): string {
  const info = statSync(path, { bigint: true, throwIfNoEntry: false });
  if (!info || info.ctimeNs >= settledBefore) return '';
  return `${info.dev}:${info.ino}:${info.mtimeNs}:${info.ctimeNs}`;
}

export default async function storeBatch(task: BatchTask): Promise<BatchResult> {
  const staged: Staged[] = [];
  const failedAt = { key: '' };
  try {
    failedAt.key = task.root;
    if (memory) lookAgainAtSettledWrites(memory, task);
    stage(task, staged, failedAt);
    const created = task.keys.map(() => false);
    if (staged.length === 0) return { created };
    failedAt.key = task.tmpFolder;
    await syncerFor(task.root).sync();
    for (const { index, tmpPath, finalPath } of staged) {
      failedAt.key = task.keys[index] as string;
      created[index] = linkNew(tmpPath, finalPath);
      if (created[index]) memory?.wrote(task.keys[index] as string);
    }
    failedAt.key = task.tmpFolder;
    await syncerFor(task.root).sync();
    if (memory) writeMarks.push({ at: Date.now(), count: memory.writtenCount });
    return { created };
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    return { failure: { key: failedAt.key, message, ...(code === undefined ? {} : { code }) } };
  } finally {
    // Also after a failure (a full disk): a temporary file only takes space.
    for (const { tmpPath } of staged) unlinkIfPresent(tmpPath);
  }
}

interface Staged {
  readonly index: number;
  readonly tmpPath: string;
  readonly finalPath: string;
}

/**
 * Writes each object the backend lacks to a temporary file, noting it in `staged` as it
 * goes. An object is not looked for in a folder this thread made: only what this thread
 * stored there, or a writer at work at the same time, can be in it, and link() finds such
 * a copy (EEXIST) as well, at the cost of a temporary file. In a first backup that is most
 * objects (the benchmark's: 0.5 s of existence checks on this thread).
 */
function stage(task: BatchTask, staged: Staged[], failedAt: { key: string }): void {
  ensureFolder(task.tmpFolder);
  task.keys.forEach((key, index) => {
    const data = task.objects[index] as Uint8Array;
    failedAt.key = key;
    const finalPath = join(task.root, key);
    const madeHere = ensureFolder(dirname(finalPath));
    if (!madeHere && existsSync(finalPath)) return;
    const tmpPath = join(task.tmpFolder, `${tmpPrefix}-${tmpCounter++}.tmp`);
    staged.push({ index, tmpPath, finalPath });
    writeFileSync(tmpPath, data, { flag: 'wx', mode: 0o600 });
  });
}

/** Links tmpPath to finalPath; false when another writer got there first (objects are immutable). */
function linkNew(tmpPath: string, finalPath: string): boolean {
  try {
    linkSync(tmpPath, finalPath);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/** One sync helper per backend folder this thread writes to. */
const syncers = new Map<string, FileSystemSyncer>();

function syncerFor(root: string): FileSystemSyncer {
  let syncer = syncers.get(root);
  if (!syncer) syncers.set(root, (syncer = new FileSystemSyncer(root)));
  return syncer;
}

/** Makes the folder when it is missing; true when this thread made it. */
function ensureFolder(path: string): boolean {
  let madeHere = knownFolders.get(path);
  if (madeHere === undefined) knownFolders.set(path, (madeHere = mkdirSync(path, { recursive: true }) !== undefined));
  return madeHere;
}

function unlinkIfPresent(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
