/**
 * What both FUSE transports read files through: a FileReader per file being read, by
 * path, and readahead of the next files of a folder.
 */
import { shownName } from '../src/filenames/index.js';
import type { BlockCache } from '../src/store/block-cache.js';
import { FileReader } from './file-reader.js';
import type { Listing } from './folder-cache.js';
import { FolderReadahead } from './folder-readahead.js';
import { OnDemandCache } from '../src/store/on-demand-cache.js';
import type { MountView } from './view.js';

/**
 * Files read at about the same time (a parallel copy, several readers); one that falls
 * out is made again on its next read, losing only its readahead position.
 */
const READERS_KEPT = 64;

/**
 * The folder readahead reaches this many entries for each block of `--readahead`. A file
 * the readahead has handed to the kernel is copied without a READ, so the reader is seen
 * again only at the first file past the reach, and waits there for its block: a cold
 * `tar` of the benchmark's tree took 7.4–8.1 s with 256 entries, 7.9–8.9 s with 128 and
 * 8.7–11.7 s with 16 (four alternating rounds, 2026-12-07); 1,024 no better than 256.
 */
const FOLDER_ENTRIES_PER_BLOCK = 16;

/** The folder readahead's first blocks take at most this share of the block cache, so a folder of large files does not push out what its reader uses. */
const FOLDER_SHARE_OF_CACHE = 1 / 8;

/**
 * A folder listed within this long of a file being read is taken for the next folder of a
 * tree being copied (listed), and its files are fetched ahead before the first is read.
 */
const COPYING_WITHIN_MS = 1000;

export interface ReadSettings {
  readonly cache: BlockCache;
  /** Blocks to fetch ahead of a reader moving forward through a file; it also sets how many files ahead in its folder. */
  readonly readahead: number;
}

/** A reader per file being read, by path (what both transports name a file by). */
export class Readers {
  private readonly readers = new OnDemandCache<FileReader>({ max: READERS_KEPT });
  private readonly folderAhead: FolderReadahead;
  /** Told the content of each file of one block that the folder readahead fetched, with its path. */
  private wholeFileListener: ((path: string, content: Buffer) => void) | undefined;
  /** When a file was last read (performance.now()). */
  private lastRead = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly view: MountView,
    private readonly settings: ReadSettings,
  ) {
    this.folderAhead = new FolderReadahead(settings.cache, FOLDER_ENTRIES_PER_BLOCK * settings.readahead, FOLDER_SHARE_OF_CACHE * settings.cache.maxBytes);
  }

  /** Hands `listener` the content of the one-block files that the folder readahead fetches. */
  onWholeFileFetched(listener: (path: string, content: Buffer) => void): void {
    this.wholeFileListener = listener;
  }

  /** Up to `length` bytes at `position` (fewer only at the end of the file), as views into blocks. */
  async read(path: string, length: number, position: number): Promise<Buffer[]> {
    this.lastRead = performance.now();
    // One reader however many reads of a new file arrive together.
    const reader = await this.readers.get(path, async () => {
      const { file, folder, position: inFolder } = await this.view.file(path);
      this.readAhead(path.slice(0, path.lastIndexOf('/')), folder, inFolder);
      return new FileReader(path, file, this.settings.cache, this.settings.readahead);
    });
    return reader.read(position, length);
  }

  /**
   * The folder at `path` has been listed whole. tar, cp -a and rsync list a folder, then
   * read its files: while files are being read (a tree being copied), the folder readahead
   * starts now rather than at the first file's read, which then finds its block fetched.
   * An `ls` with nothing being read fetches nothing: blocks are fetched for reads and
   * for readahead of reads that move forward (SPEC §5), not for listings. Settles once the
   * readahead has started, and never rejects: it only saves waiting, and a folder or block
   * that cannot be fetched is reported by the read that needs it.
   */
  async listed(path: string): Promise<void> {
    if (performance.now() - this.lastRead > COPYING_WITHIN_MS) return;
    const folder = await this.view.listing(path).catch(() => undefined);
    if (folder) this.readAhead(path === '/' ? '' : path, folder, -1);
  }

  private readAhead(folderPath: string, folder: Listing, position: number): void {
    const listener = this.wholeFileListener;
    this.folderAhead.reading(folder, position, listener && ((entry, content) => listener(`${folderPath}/${shownName(entry.name)}`, content)));
  }
}
