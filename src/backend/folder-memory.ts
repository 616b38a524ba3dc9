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
const VERSION = 1;

interface Remembered {
  readonly signature: string;
  readonly names: Set<string>;
}

export class FolderMemory {
  /** Keys this run wrote, whose folders' signatures therefore changed. */
  private written: string[] = [];
  /** Whether encode() would give other bytes than those decoded (nothing to save otherwise). */
  private dirty = false;

  private constructor(private readonly folders: Map<string, Remembered>) {}

  static empty(): FolderMemory {
    return new FolderMemory(new Map());
  }

  /**
   * The memory encode() wrote; an empty one for bytes of another version or damaged ones (a
   * cache only costs speed). One loop that checks and builds as it goes: checking everything
   * first and then building from Object.entries took 130 ms against 40 for the benchmark's
   * 24,700 folders (the first decode in a process, which is the one that counts), on the
   * thread whose first lookups wait for it.
   */
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
      const remembered = rememberedFrom(encoded[folder]);
      if (!remembered) return FolderMemory.empty();
      folders.set(folder, remembered);
    }
    return new FolderMemory(folders);
  }

  encode(): Buffer {
    const folders: Record<string, string[]> = {};
    for (const [folder, { signature, names }] of this.folders) folders[folder] = [signature, ...names];
    return Buffer.from(JSON.stringify({ version: VERSION, folders }));
  }

  /** The signature key's folder must still have for key to be there without a lookup; '' when key is not remembered. */
  signatureOf(key: string): string {
    const [folder, name] = split(key);
    const remembered = this.folders.get(folder);
    return remembered?.names.has(name) ? remembered.signature : '';
  }

  /**
   * Key was there after its folder was seen with `signature` ('' when that signature had
   * not settled, and nothing is learnt). A new signature replaces the folder's old one and
   * the names remembered with it.
   */
  found(key: string, signature: string): void {
    if (signature === '') return;
    const [folder, name] = split(key);
    const remembered = this.folders.get(folder);
    if (remembered?.signature === signature) {
      if (remembered.names.has(name)) return;
      remembered.names.add(name);
    } else this.folders.set(folder, { signature, names: new Set([name]) });
    this.dirty = true;
  }

  /** Whether anything was learnt or forgotten since decode(). */
  get changed(): boolean {
    return this.dirty;
  }

  /** Key was written to the backend: its folder's signature changed. */
  wrote(key: string): void {
    this.written.push(key);
  }

  /**
   * The keys of the folders written to since the last call, written ones and remembered
   * ones, for the caller to look for again (and so teach the memory their folders' new
   * signatures); those folders are forgotten meanwhile, their signatures being stale.
   */
  takeWritten(): string[] {
    const keys = this.written;
    this.written = [];
    for (const folder of new Set(keys.map((key) => split(key)[0]))) {
      for (const name of this.folders.get(folder)?.names ?? []) keys.push(`${folder}/${name}`);
      if (this.folders.delete(folder)) this.dirty = true;
    }
    return keys;
  }
}

function split(key: string): [folder: string, name: string] {
  const slash = key.lastIndexOf('/');
  return [key.slice(0, slash), key.slice(slash + 1)];
}

/** The folders of encode()'s object, unchecked; undefined for anything else. */
function encodedFolders(value: unknown): Record<string, unknown> | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { version, folders } = value as { version?: unknown; folders?: unknown };
  return version === VERSION && typeof folders === 'object' && folders !== null ? (folders as Record<string, unknown>) : undefined;
}

/** A folder as encode() wrote it, [signature, ...names], all strings; undefined for anything else. */
function rememberedFrom(entry: unknown): Remembered | undefined {
  if (!Array.isArray(entry) || typeof entry[0] !== 'string') return undefined;
  const names = new Set<string>();
  for (let i = 1; i < entry.length; i++) {
    const name: unknown = entry[i];
    if (typeof name !== 'string') return undefined;
    names.add(name);
  }
  return { signature: entry[0], names };
}
