/**
 * What both FUSE transports read files through: a FileReader per file being read, by
 * path, and readahead of the next files of a folder.
 */
import { shownName } from '../src/filenames/index.js';
import type { BlockCache } from './block-cache.js';
import { FileReader } from './file-reader.js';
import { FolderReadahead } from './folder-readahead.js';
import { OnDemandCache } from './on-demand-cache.js';
import type { MountView } from './view.js';

/**
 * Files read at about the same time (a parallel copy, several readers); one that falls
 * out is made again on its next read, losing only its readahead position.
 */
const READERS_KEPT = 64;

export interface ReadSettings {
  readonly cache: BlockCache;
  /** Blocks to fetch ahead of a reader moving forward through a file, and files ahead in its folder. */
  readonly readahead: number;
}

/** A reader per file being read, by path (what both transports name a file by). */
export class Readers {
  private readonly readers = new OnDemandCache<FileReader>({ max: READERS_KEPT });
  private readonly folderAhead: FolderReadahead;
  /** Told the content of each file of one block that the folder readahead fetched, with its path. */
  private wholeFileListener: ((path: string, content: Buffer) => void) | undefined;

  constructor(
    private readonly view: MountView,
    private readonly settings: ReadSettings,
  ) {
    this.folderAhead = new FolderReadahead(settings.cache, settings.readahead);
  }

  /** Hands `listener` the content of the one-block files that the folder readahead fetches. */
  onWholeFileFetched(listener: (path: string, content: Buffer) => void): void {
    this.wholeFileListener = listener;
  }

  /** Up to `length` bytes at `position` (fewer only at the end of the file), as views into blocks. */
  async read(path: string, length: number, position: number): Promise<Buffer[]> {
    // One reader however many reads of a new file arrive together.
    const reader = await this.readers.get(path, async () => {
      const { file, folder, position: inFolder } = await this.view.file(path);
      const listener = this.wholeFileListener;
      const folderPath = path.slice(0, path.lastIndexOf('/'));
      this.folderAhead.reading(folder, inFolder, listener && ((entry, content) => listener(`${folderPath}/${shownName(entry.name)}`, content)));
      return new FileReader(path, file, this.settings.cache, this.settings.readahead);
    });
    return reader.read(position, length);
  }
}
