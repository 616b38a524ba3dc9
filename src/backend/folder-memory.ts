/**
 * What a folder backend found in its own folders, kept between runs (in create's cache) so
 * that an unchanged backup need not look for each of its blocks again: cold, one lookup
 * costs a read of its folder's directory block, and the benchmark's 31,000 of them were
 * most of an unchanged backup (docs/DESIGN.md, "Looking for blocks").
 *
 * For each backend folder (`blocks/ab/cd`) it holds a signature, the folder's device,
 * inode, mtime and ctime in nanoseconds, and the names found in the folder after it was
 * seen with that signature. Removing or renaming a name changes its folder's mtime and
 * ctime, and no program can set a ctime back, so while a folder's signature is unchanged,
 * every name remembered with it is still there; one `stat` of the folder stands for a
 * lookup of each. Timestamps are coarse (a few milliseconds), so a removal in the same tick
 * as the change before it would leave the signature as it was: a signature counts only when
 * its ctime was old enough when it was seen (the writer thread checks that,
 * file-batch-worker.ts): LOCAL_SETTLE_MS on a file system whose timestamps come from this
 * machine's clock, ten times its coarsest tick, and SETTLE_MS on any other. A network file
 * system whose server's clock runs more than that behind this machine's would defeat the
 * check.
 */
/** How old a folder's last change must be for its signature to count, on a network file system or one not known. */
export const SETTLE_MS = 2_000;
/**
 * The same on a local file system. With 2 s there too, the folders a first backup wrote
 * to in its last two seconds were not settled when it looked at them last, so the next
 * run looked for each of their blocks and saved the notes again: 3.3 s for the benchmark's
 * second backup right after its first, against 2.6 s for the third.
 */
export const LOCAL_SETTLE_MS = 100;

/**
 * File systems whose timestamps come from this machine's clock, by statfs type: ext2/3/4,
 * xfs, btrfs, tmpfs, f2fs, zfs, bcachefs and overlayfs.
 */
const LOCAL_FILE_SYSTEM_TYPES = new Set([0xef53, 0x58465342, 0x9123683e, 0x01021994, 0xf2f52010, 0x2fc12fc1, 0xca451a4e, 0x794c7630]);

/** The margin for a file system of this statfs type. */
export function settleMsFor(fileSystemType: number): number {
  return LOCAL_FILE_SYSTEM_TYPES.has(fileSystemType) ? LOCAL_SETTLE_MS : SETTLE_MS;
}

/** The format of encode(); an other one is ignored, the memory starting empty. */
const VERSION = 2;

/**
 * What the notes may hold, in characters: about 2,000,000 blocks at some 60 characters
 * each, which bounds the writer thread's memory of them (and stays well under V8's
 * longest string, 2^29 characters, past which saving them would throw). A larger backend
 * has the rest of its blocks looked for in each run.
 */
export const MAX_NOTES_CHARACTERS = 128 * 1024 * 1024;

/**
 * Written keys waiting to be looked at again (takeWritten), about 100 bytes each while
 * they wait: 500,000 take some 50 MB and 6 s to look at.
 */
export const MAX_WRITTEN_KEYS = 500_000;

/**
 * A folder's signature and the names found after it was seen with it. A folder is kept as
 * encode() wrote it, one string "signature/name/name…" ('/' cannot be in a name), until
 * this run learns something about it: decoding the benchmark's 24,700 folders into a Set of
 * names each took about 100 ms of the writer thread and as much garbage collection, before
 * its first lookup, and most folders are only ever asked about.
 */
type Remembered = string | { readonly signature: string; readonly names: Set<string> };

const SEPARATOR = '/';

export class FolderMemory {
  /** Keys this run wrote, whose folders' signatures therefore changed. */
  private written: string[] = [];
  /** Whether encode() would give other bytes than those decoded (nothing to save otherwise). */
  private dirty = false;

  private constructor(private readonly folders: Map<string, Remembered>) {}

  static empty(): FolderMemory {
    return new FolderMemory(new Map());
  }

  /** The memory encode() wrote; an empty one for bytes of another version or damaged ones (a cache only costs speed). */
  static decode(bytes: Uint8Array): FolderMemory {
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
    } catch (error) {
      if (error instanceof SyntaxError) return FolderMemory.empty();
      throw error;
    }
    const encoded = encodedFolders(parsed);
    if (!encoded) return FolderMemory.empty();
    const folders = new Map<string, Remembered>();
    for (const folder in encoded) {
      const remembered = encoded[folder];
      // A signature, then at least one name.
      if (typeof remembered !== 'string' || !(remembered.indexOf(SEPARATOR) > 0)) return FolderMemory.empty();
      folders.set(folder, remembered);
    }
    return new FolderMemory(folders);
  }

  /**
   * The memory as bytes for decode(), holding folders up to `budget` characters; the ones
   * beyond it are left out, and their keys looked for as if never seen.
   */
  encode(budget = MAX_NOTES_CHARACTERS): Buffer {
    const folders: Record<string, string> = {};
    let used = 0;
    for (const [folder, remembered] of this.folders) {
      const encoded = encodedFolder(remembered);
      used += folder.length + encoded.length;
      if (used > budget) break;
      folders[folder] = encoded;
    }
    return Buffer.from(JSON.stringify({ version: VERSION, folders }));
  }

  /** The signature key's folder must still have for key to be there without a lookup; '' when key is not remembered. */
  signatureOf(key: string): string {
    const [folder, name] = split(key);
    return signatureFor(this.folders.get(folder), name);
  }

  /**
   * Key was there after its folder was seen with `signature` ('' when that signature had
   * not settled, and nothing is learnt). A new signature replaces the folder's old one and
   * the names remembered with it.
   */
  found(key: string, signature: string): void {
    if (signature === '') return;
    const [folder, name] = split(key);
    if (signatureFor(this.folders.get(folder), name) === signature) return;
    const remembered = this.live(folder);
    if (remembered?.signature === signature) remembered.names.add(name);
    else this.folders.set(folder, { signature, names: new Set([name]) });
    this.dirty = true;
  }

  /** Whether anything was learnt or forgotten since decode(). */
  get changed(): boolean {
    return this.dirty;
  }

  /**
   * Key was written to the backend: its folder's signature changed. Past MAX_WRITTEN_KEYS
   * waiting keys its folder is forgotten at once instead of looked at again, so that the
   * next run learns it from its own lookups.
   */
  wrote(key: string): void {
    if (this.written.length < MAX_WRITTEN_KEYS) this.written.push(key);
    else if (this.folders.delete(split(key)[0])) this.dirty = true;
  }

  /** How many written keys takeWritten() would give back (at most MAX_WRITTEN_KEYS). */
  get writtenCount(): number {
    return this.written.length;
  }

  /**
   * The keys of the folders of the `count` oldest keys written since the last call,
   * written ones and remembered ones, for the caller to look for again (and so teach the
   * memory their folders' new signatures); those folders are forgotten meanwhile, their
   * signatures being stale.
   */
  takeWritten(count = this.written.length): string[] {
    const keys = this.written.slice(0, count);
    this.written = this.written.slice(count);
    for (const folder of new Set(keys.map((key) => split(key)[0]))) {
      for (const name of namesOf(this.folders.get(folder))) keys.push(`${folder}/${name}`);
      if (this.folders.delete(folder)) this.dirty = true;
    }
    return keys;
  }

  /**
   * Keeps every folder learnt about as the string encode() writes again, a fraction of
   * the memory of a Set of names; the next change to a folder makes it live again.
   */
  compact(): void {
    for (const [folder, remembered] of this.folders) {
      if (typeof remembered !== 'string') this.folders.set(folder, encodedFolder(remembered));
    }
  }

  /** The folder's memory as a signature and a set of names, to change it. */
  private live(folder: string): Exclude<Remembered, string> | undefined {
    const remembered = this.folders.get(folder);
    if (typeof remembered !== 'string') return remembered;
    const [signature = '', ...names] = remembered.split(SEPARATOR);
    const live = { signature, names: new Set(names) };
    this.folders.set(folder, live);
    return live;
  }
}

/** A folder's memory as "signature/name/name…". */
function encodedFolder(remembered: Remembered): string {
  return typeof remembered === 'string' ? remembered : [remembered.signature, ...remembered.names].join(SEPARATOR);
}

/** The names remembered in a folder, without making it live. */
function namesOf(remembered: Remembered | undefined): Iterable<string> {
  if (remembered === undefined) return [];
  return typeof remembered === 'string' ? remembered.split(SEPARATOR).slice(1) : remembered.names;
}

function split(key: string): [folder: string, name: string] {
  const slash = key.lastIndexOf('/');
  return [key.slice(0, slash), key.slice(slash + 1)];
}

/** The signature name was remembered with in a folder; '' when it was not. */
function signatureFor(remembered: Remembered | undefined, name: string): string {
  if (remembered === undefined) return '';
  if (typeof remembered !== 'string') return remembered.names.has(name) ? remembered.signature : '';
  const signatureEnd = remembered.indexOf(SEPARATOR);
  return holdsName(remembered, signatureEnd, name) ? remembered.slice(0, signatureEnd) : '';
}

/** Whether "signature/name/name…" holds name among the names after signatureEnd. */
function holdsName(remembered: string, signatureEnd: number, name: string): boolean {
  for (let at = remembered.indexOf(name, signatureEnd + 1); at !== -1; at = remembered.indexOf(name, at + 1)) {
    const end = at + name.length;
    if (remembered[at - 1] === SEPARATOR && (end === remembered.length || remembered[end] === SEPARATOR)) return true;
  }
  return false;
}

/** The folders of encode()'s object, unchecked; undefined for anything else. */
function encodedFolders(value: unknown): Record<string, unknown> | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { version, folders } = value as { version?: unknown; folders?: unknown };
  return version === VERSION && typeof folders === 'object' && folders !== null ? (folders as Record<string, unknown>) : undefined;
}
