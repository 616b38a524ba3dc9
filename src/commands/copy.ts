/**
 * copy: archives from one repository into another, which may have another key (restic's
 * `copy`, borg's `transfer`), for a second copy made later than `--backend` twice allows.
 * Every block is read and authenticated with the source's key and stored with the
 * destination's; every folder's tree is written anew, since the ids of what it holds
 * change with the key; the archive object, written last under a shared lock as create
 * writes its own, keeps the source's name, host, source paths, creation time and totals.
 *
 * With the same key on both sides an object's id is the same on both, so a block the
 * destination has is not read at all; with another key, a map kept between runs
 * (BlockIdMap) tells which block each copied one became, to the same end. Trees are read and written again either way (a
 * tree on the destination does not prove its blocks are: they are written side by side),
 * each once per run however many archives share it.
 */
import pLimit from 'p-limit';
import { type ArchiveMetadata, type ArchiveRecord, type ChunkRef, type DirectoryEntry, type Entry, type FileEntry, directoryEntry, encodeTree, fileEntry, readChunk } from '../archive/index.js';
import { isDamagedObject } from '../errors/index.js';
import type { BlockIdMap } from '../cache/index.js';
import { type Repository, withLock } from '../repository/index.js';
import { type BlockId, type TreeId, idToHex } from '../store/ids.js';
import { type ProgressListener, noProgress } from './progress.js';
import type { ProblemReporter } from './reporting.js';

/** Blocks read from the source and stored in the destination at once. */
const PARALLEL_BLOCKS = 16;
/** Subfolders of a folder read ahead of the one being copied, at each level of the walk. */
const FOLDERS_READ_AHEAD = 32;

export type CopyOutcome =
  | { readonly name: string; readonly kind: 'copied'; readonly metadata: ArchiveMetadata; readonly addedBytes: number }
  | { readonly name: string; readonly kind: 'present' }
  | { readonly name: string; readonly kind: 'failed' };

type CopySide = Pick<Repository, 'catalog' | 'trees' | 'blocks' | 'backend' | 'flush' | 'storedBytes' | 'keyFingerprint'>;

/**
 * Copies the archives of `records` that the destination lacks, in order, and says what
 * became of each. An archive whose data cannot be read (a block missing or failing
 * authentication) is reported and not copied; the others are.
 */
export async function copyArchives(
  source: Pick<Repository, 'readTree' | 'readBlock' | 'keyFingerprint'>,
  records: readonly ArchiveRecord[],
  destination: CopySide,
  reporter: ProblemReporter,
  onCopied: (outcome: CopyOutcome) => void,
  { progress = noProgress, copiedBlocks }: { readonly progress?: ProgressListener; readonly copiedBlocks?: Pick<BlockIdMap, 'getMany' | 'set'> } = {},
): Promise<void> {
  const present = new Set((await destination.catalog.list()).archives.map((record) => record.metadata.name));
  await withLock(destination.backend, 'shared', 'copy', (message) => reporter.warning(message), async (lock) => {
    const copier = new TreeCopier(source, destination, progress, copiedBlocks);
    for (const { metadata } of records) {
      if (present.has(metadata.name)) {
        onCopied({ name: metadata.name, kind: 'present' });
        continue;
      }
      const before = destination.storedBytes;
      let root: TreeId;
      try {
        root = await copier.tree(metadata.root.tree);
        await destination.flush();
      } catch (error) {
        if (!isDamagedObject(error)) throw error;
        reporter.problem(metadata.name, error);
        onCopied({ name: metadata.name, kind: 'failed' });
        continue;
      }
      const addedBytes = destination.storedBytes - before;
      const copied: ArchiveMetadata = { ...metadata, root: directoryEntry(metadata.root, root), totals: { ...metadata.totals, storedBytes: addedBytes } };
      // The archive may only reference objects that a gc could not have taken meanwhile.
      await lock.assertHeld();
      await destination.catalog.write(copied);
      onCopied({ name: metadata.name, kind: 'copied', metadata: copied, addedBytes });
    }
  });
}

/** A source folder's entries, and the copies the destination has of its files' blocks (source hex id → copy). */
interface SourceFolder {
  readonly entries: readonly Entry[];
  readonly present: ReadonlyMap<string, BlockId>;
}

class TreeCopier {
  /** Source tree id (hex) → its copy's id, for trees met again in this run (the same folder in every daily archive). */
  private readonly copiedTrees = new Map<string, TreeId>();
  /** Folders read ahead of their turn (readAhead), by source tree id in hex; each taken once. */
  private readonly folderReads = new Map<string, Promise<SourceFolder>>();
  private readonly blockSlots = pLimit(PARALLEL_BLOCKS);
  private readonly sameKey: boolean;

  constructor(
    private readonly source: Pick<Repository, 'readTree' | 'readBlock' | 'keyFingerprint'>,
    private readonly destination: CopySide,
    /** Told of each file copied (those of a tree copied earlier in the run are not copied again). */
    private readonly progress: ProgressListener,
    /** With another key: which block each block copied in an earlier run became. */
    private readonly copiedBlocks: Pick<BlockIdMap, 'getMany' | 'set'> | undefined,
  ) {
    this.sameKey = source.keyFingerprint === destination.keyFingerprint;
  }

  /** The id in the destination of the source's tree `id`, everything under it stored there (or queued). */
  async tree(id: TreeId): Promise<TreeId> {
    const hex = idToHex(id);
    const known = this.copiedTrees.get(hex);
    const readAhead = this.folderReads.get(hex);
    this.folderReads.delete(hex);
    if (known) return known;
    const { entries, present } = await (readAhead ?? this.readFolder(id));
    // The files' blocks are copied while the subfolders are walked one after the other,
    // which holds one folder's entries per level, not the whole archive's; the next few
    // are read ahead meanwhile, so the walk does not wait on one disk or network read
    // after another.
    const filesCopied = Promise.all(entries.map((entry) => (entry.type === 'file' ? this.file(entry, present) : entry)));
    filesCopied.catch(() => undefined);
    const folders = [...entries.entries()].filter((pair): pair is [number, DirectoryEntry] => pair[1].type === 'directory');
    const subfolders = new Map<number, Entry>();
    for (const [n, [k, entry]] of folders.entries()) {
      for (const [, next] of folders.slice(n + 1, n + 1 + FOLDERS_READ_AHEAD)) this.readAhead(next.tree);
      subfolders.set(k, directoryEntry(entry, await this.tree(entry.tree)));
    }
    const copies = (await filesCopied).map((entry, k) => subfolders.get(k) ?? entry);
    const copy = await this.destination.trees.put(encodeTree(copies));
    this.copiedTrees.set(hex, copy);
    return copy;
  }

  /** Starts reading a folder before its turn, unless it is copied or being read already. */
  private readAhead(id: TreeId): void {
    const hex = idToHex(id);
    if (this.copiedTrees.has(hex) || this.folderReads.has(hex)) return;
    const read = this.readFolder(id);
    read.catch(() => undefined); // seen when its turn comes
    this.folderReads.set(hex, read);
  }

  private async readFolder(id: TreeId): Promise<SourceFolder> {
    const entries = await this.source.readTree(id);
    return { entries, present: await this.copiesPresent(entries) };
  }

  /**
   * Of the blocks a folder's files use, those whose copy the destination has (a map's
   * entry only once it is found there): source id in hex → the copy's id. One question to
   * the backend per folder rather than one per block: a folder of small files asks once.
   */
  private async copiesPresent(entries: readonly Entry[]): Promise<Map<string, BlockId>> {
    const sources = new Map<string, BlockId>();
    for (const entry of entries) if (entry.type === 'file') for (const chunk of entry.chunks) sources.set(idToHex(chunk.id), chunk.id);
    const ids = [...sources.values()];
    const copies = this.sameKey ? ids : ((await this.copiedBlocks?.getMany(ids)) ?? []);
    const known = ids.flatMap((id, k) => {
      const copy = copies[k];
      return copy ? [{ source: idToHex(id), copy }] : [];
    });
    const present = await this.destination.blocks.hasMany(known.map(({ copy }) => copy));
    return new Map(known.filter((_, k) => present[k]).map(({ source, copy }) => [source, copy]));
  }

  private async file(entry: FileEntry, present: ReadonlyMap<string, BlockId>): Promise<FileEntry> {
    const chunks = await Promise.all(entry.chunks.map((chunk) => this.blockSlots(() => this.block(chunk, present))));
    this.progress.advance(1, entry.size);
    return fileEntry(entry, entry.size, entry.linkGroup, chunks);
  }

  /** The block's copy: one the destination has already is not read. */
  private async block(chunk: ChunkRef, present: ReadonlyMap<string, BlockId>): Promise<ChunkRef> {
    const copied = present.get(idToHex(chunk.id));
    if (copied) return { id: copied, length: chunk.length };
    const copy = await this.destination.blocks.put(await readChunk(this.source, chunk));
    if (!this.sameKey) await this.copiedBlocks?.set(chunk.id, copy);
    return { id: copy, length: chunk.length };
  }
}
