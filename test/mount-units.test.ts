/**
 * The mount's parts without FUSE: the handler wrapper, decryption on worker threads, the
 * byte-bounded block cache with in-flight de-duplication, readahead within a file and
 * across a folder, folder caching and inode numbering.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type BlockSource, type DirectoryEntry, type Entry, type FileEntry, NO_XATTRS, type TreeSource } from '../src/archive/index.js';
import { type BlockId, type TreeId, asId } from '../src/store/ids.js';
import { BlockCache } from '../src/store/block-cache.js';
import { FolderCache, type Listing } from '../mount/folder-cache.js';
import { FolderReadahead } from '../mount/folder-readahead.js';
import { InodeTable, ROOT_INODE } from '../mount/inodes.js';
import { MountView } from '../mount/view.js';
import { Readers } from '../mount/readers.js';
import { FileReader } from '../mount/file-reader.js';
import { FsError, OnceReporter, errno, serve } from '../mount/reply.js';

const BLOCK = 1000;

function blockId(index: number): BlockId {
  return asId(Buffer.alloc(32, index + 1), 'block');
}

/** A block source whose block i is BLOCK bytes of value i, counting fetches per block. */
class CountingBlocks implements BlockSource {
  readonly fetches = new Map<number, number>();
  failing = new Set<number>();

  async readBlock(id: BlockId): Promise<Buffer> {
    const index = (id[0] as number) - 1;
    this.fetches.set(index, (this.fetches.get(index) ?? 0) + 1);
    await new Promise((resolve) => setTimeout(resolve, 1));
    if (this.failing.has(index)) throw new Error(`block ${index} is damaged`);
    return Buffer.alloc(BLOCK, index);
  }

  fetched(): number[] {
    return [...this.fetches.keys()].sort((a, b) => a - b);
  }
}

function fileOf(blocks: number): FileEntry {
  const chunks = Array.from({ length: blocks }, (_, index) => ({ id: blockId(index), length: BLOCK }));
  return { type: 'file', name: 'f', mode: 0o644, uid: 0, gid: 0, mtimeNs: 0n, xattrs: NO_XATTRS, size: blocks * BLOCK, linkGroup: 0, chunks };
}

/** Lets pending timers and promises settle. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));

function collect(): { reporter: OnceReporter; reports: string[] } {
  const reports: string[] = [];
  return { reporter: new OnceReporter((path, error) => reports.push(`${path}: ${(error as Error).message}`)), reports };
}

test('serve answers exactly once: the result, an FsError errno, or EIO reported once', async () => {
  const { reporter, reports } = collect();
  const answers = new Map<string, unknown[][]>();
  const answer = (key: string) => (...args: unknown[]): void => void answers.set(key, [...(answers.get(key) ?? []), args]);
  serve(reporter, '/a', answer('result'), async () => [0, 'value']);
  serve(reporter, '/b', answer('expected failure'), async () => Promise.reject(new FsError('ENOENT', 'no such entry')));
  serve(reporter, '/c', answer('thrown'), () => {
    throw new Error('broken');
  });
  serve(reporter, '/c', answer('rejected'), async () => Promise.reject(new Error('broken')));
  await settle();
  assert.equal(Object.fromEntries(answers), {
    result: [[0, 'value']],
    'expected failure': [[errno('ENOENT')]],
    thrown: [[errno('EIO')]],
    rejected: [[errno('EIO')]],
  });
  assert.equal(reports, ['/c: broken']);
  assert.is(reporter.count, 1);
});

test('the block cache fetches a block once for concurrent readers and keeps it', async () => {
  const source = new CountingBlocks();
  const cache = new BlockCache(source, 10 * BLOCK);
  const reads = await Promise.all([cache.readBlock(blockId(3)), cache.readBlock(blockId(3)), cache.readBlock(blockId(3))]);
  await cache.readBlock(blockId(3));
  assert.ok(reads.every((block) => block.equals(Buffer.alloc(BLOCK, 3))));
  assert.is(source.fetches.get(3), 1);
});

test('a block larger than the whole cache still reaches every reader waiting for it', async () => {
  const source = new CountingBlocks();
  const cache = new BlockCache(source, BLOCK - 1);
  const reads = await Promise.all([cache.readBlock(blockId(7)), cache.readBlock(blockId(7))]);
  assert.ok(reads.every((block) => block.equals(Buffer.alloc(BLOCK, 7))));
  assert.is(source.fetches.get(7), 1, 'the readers shared one fetch');
  await cache.readBlock(blockId(7));
  assert.is(source.fetches.get(7), 2, 'a block that does not fit is not kept');
});

test('a block over the largest the cache keeps reaches every reader waiting for it, and is fetched again later', async () => {
  const source = new CountingBlocks();
  const cache = new BlockCache(source, 10 * BLOCK, BLOCK - 1);
  await Promise.all([cache.readBlock(blockId(4)), cache.readBlock(blockId(4))]);
  assert.is(source.fetches.get(4), 1, 'the readers shared one fetch');
  await cache.readBlock(blockId(4));
  assert.is(source.fetches.get(4), 2, 'a block over maxBlockBytes is not kept');
});

test('the block cache is bounded in bytes and does not keep failures', async () => {
  const source = new CountingBlocks();
  const cache = new BlockCache(source, 3 * BLOCK);
  for (const index of [0, 1, 2, 3]) await cache.readBlock(blockId(index));
  await cache.readBlock(blockId(0));
  assert.is(source.fetches.get(0), 2, 'the least recently used block was evicted');
  source.failing.add(5);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await cache.readBlock(blockId(5));
      assert.unreachable('a damaged block was returned');
    } catch (error) {
      assert.match((error as Error).message, /damaged/);
    }
  }
  assert.is(source.fetches.get(5), 2);
});

test('reading forward fetches the next blocks ahead; a jump does not', async () => {
  const source = new CountingBlocks();
  const file = new FileReader('/f', fileOf(20), new BlockCache(source, 100 * BLOCK), 3);
  const first = Buffer.concat(await file.read(0, 10));
  assert.ok(first.equals(Buffer.alloc(10, 0)));
  await settle();
  assert.equal(source.fetched(), [0, 1, 2, 3]);
  await file.read(BLOCK + 500, BLOCK);
  await settle();
  assert.equal(source.fetched(), [0, 1, 2, 3, 4, 5]);
  await file.read(15 * BLOCK, 10);
  await settle();
  assert.equal(source.fetched(), [0, 1, 2, 3, 4, 5, 15], 'a random read fetches only its own block');
  assert.ok(source.fetches.size === 7 && [...source.fetches.values()].every((count) => count === 1));
});

test('a reader moving forward drops the blocks more than one behind it from the cache; a jump drops nothing', async () => {
  const source = new CountingBlocks();
  const file = new FileReader('/f', fileOf(10), new BlockCache(source, 100 * BLOCK), 1);
  for (let block = 0; block < 6; block++) await file.read(block * BLOCK, BLOCK);
  await settle();
  await file.read(4 * BLOCK, 10); // one behind the last read: still kept
  assert.is(source.fetches.get(4), 1);
  await file.read(0, 10); // a jump back: fetched again, it had been dropped
  assert.is(source.fetches.get(0), 2);
  await file.read(5 * BLOCK, 10);
  await file.read(0, 10); // another jump: nothing was dropped in between
  assert.is(source.fetches.get(0), 2);
  assert.is(source.fetches.get(5), 1);
});

test('a read spanning blocks returns exactly the asked range as views into each block, shorter only at the end', async () => {
  const file = new FileReader('/f', fileOf(4), new BlockCache(new CountingBlocks(), 100 * BLOCK), 0);
  const pieces = await file.read(BLOCK - 2, BLOCK + 4);
  assert.equal(pieces.map((piece) => piece.length), [2, BLOCK, 2], 'one piece per block, no copy');
  const span = Buffer.concat(pieces);
  assert.equal([...span.subarray(0, 3)], [0, 0, 1]);
  assert.equal([...span.subarray(-3)], [1, 2, 2]);
  assert.is(Buffer.concat(await file.read(4 * BLOCK - 5, 100)).length, 5);
  assert.equal(await file.read(4 * BLOCK + 5, 100), []);
});

/** A block cache that only notes in `asked` the blocks fetched ahead (with no listener, no whole file is read). */
function noting(asked: number[]): Pick<BlockCache, 'prefetch' | 'readBlock'> {
  return { prefetch: (chunk) => void asked.push((chunk.id[0] as number) - 1), readBlock: () => Promise.reject(new Error('no listener, so no whole file is read')) };
}

test('reading a file asks for the first block of the files after it in its folder, once each', () => {
  const file = (name: string, firstBlock: number, blocks = 2): Entry => ({
    ...fileOf(blocks),
    name,
    chunks: Array.from({ length: blocks }, (_, index) => ({ id: blockId(firstBlock + index), length: BLOCK })),
  });
  const entries: Entry[] = [
    file('a', 0),
    file('b', 10),
    { type: 'directory', name: 'c', mode: 0o755, uid: 0, gid: 0, mtimeNs: 0n, xattrs: NO_XATTRS, tree: asId(Buffer.alloc(32, 7), 'tree') },
    file('d', 20, 0),
    file('e', 30),
    file('f', 40),
    file('g', 50),
  ];
  const folder: Listing = { entries, positions: new Map(entries.map((entry, position) => [entry.name, position])) };
  const asked: number[] = [];
  const ahead = new FolderReadahead(noting(asked), 4, Infinity);
  ahead.reading(folder, 0);
  assert.equal(asked, [10, 30], 'the files among the next 4 entries; a folder and an empty file have no block');
  ahead.reading(folder, 1);
  ahead.reading(folder, 2);
  assert.equal(asked, [10, 30, 40, 50], 'reading on asks only for what came into reach');
  ahead.reading(folder, 6);
  assert.equal(asked.length, 4, 'nothing follows the last entry');
  ahead.reading(folder, 0);
  assert.equal(asked, [10, 30, 40, 50, 10, 30], 'after a jump back, asked again (the block cache has them)');
});

test('the folder readahead reaches no further than its bytes of first blocks allow', () => {
  const file = (name: string, block: number, length: number): Entry => ({ ...fileOf(1), name, size: length, chunks: [{ id: blockId(block), length }] });
  const entries: Entry[] = [file('a', 0, 10), file('b', 1, 3000), file('c', 2, 100), file('d', 3, 1000), file('e', 4, 5000), file('f', 5, 10)];
  const folder: Listing = { entries, positions: new Map(entries.map((entry, position) => [entry.name, position])) };
  const asked: number[] = [];
  const ahead = new FolderReadahead(noting(asked), 10, 3000);
  ahead.reading(folder, 0);
  assert.equal(asked, [1], "b's block holds the 3,000 bytes by itself: the last entry in reach");
  ahead.reading(folder, 1);
  assert.equal(asked, [1, 2, 3, 4], 'c, d, then e, whose block takes the reach past 3,000 bytes');
  ahead.reading(folder, 4);
  assert.equal(asked, [1, 2, 3, 4, 5], 'the reach moved on with the reader');
});

test("with a listener, the files of one block that follow come whole to it, checked against their entries' lengths", async () => {
  const entry = (name: string, block: number, blocks: number, size = blocks * BLOCK): FileEntry => ({
    ...fileOf(blocks),
    name,
    size,
    chunks: Array.from({ length: blocks }, (_, index) => ({ id: blockId(block + index), length: BLOCK })),
  });
  const entries: Entry[] = [entry('a', 0, 1), entry('b', 1, 1), entry('c', 2, 2), entry('d', 4, 1, BLOCK + 1), entry('e', 5, 1)];
  const folder: Listing = { entries, positions: new Map(entries.map((item, position) => [item.name, position])) };
  const blocks = new CountingBlocks();
  blocks.failing.add(5);
  const whole: [string, number, number][] = [];
  new FolderReadahead(new BlockCache(blocks, 100 * BLOCK), 4, Infinity).reading(folder, 0, (file, content) => whole.push([file.name, content.length, content[0] as number]));
  await settle();
  assert.equal(whole, [['b', BLOCK, 1]], 'not a file of two blocks, one whose size is not its block, nor one whose block fails');
  assert.equal(blocks.fetched(), [1, 2, 4, 5], 'the others are fetched as before');
});

test('a folder is read once however many lookups need it at once', async () => {
  let reads = 0;
  const entries: Entry[] = [{ ...fileOf(1), name: 'a' }];
  const trees: TreeSource = {
    readTree: async () => {
      reads++;
      await settle();
      return entries;
    },
  };
  const folders = new FolderCache(trees);
  const tree = asId(Buffer.alloc(32, 9), 'tree') as TreeId;
  const listings = await Promise.all([folders.list(tree), folders.list(tree), folders.list(tree)]);
  assert.is(reads, 1);
  assert.is(listings[0]?.entries[listings[0].positions.get('a') ?? -1], entries[0]);
});

const treeOf = (name: string): TreeId => asId(Buffer.from(name.padEnd(32, '.')), 'tree') as TreeId;
const folder = (name: string): DirectoryEntry => ({ type: 'directory', name, mode: 0o755, uid: 0, gid: 0, mtimeNs: 0n, xattrs: NO_XATTRS, tree: treeOf(name) });

/** A view of one archive whose root folder is the tree `root`, fetching listings ahead by `entries`. */
function singleArchiveView(trees: TreeSource, root: TreeId, entries?: number): MountView {
  const metadata = {
    name: 'archive',
    sourcePath: '/',
    hostname: 'host',
    createdAtNs: 0n,
    root: { ...folder(''), tree: root },
    totals: { files: 0, directories: 0, symlinks: 0, bytes: 0, storedBytes: 0, skipped: 0, xattrEntries: 0 },
    userNames: new Map(),
    groupNames: new Map(),
    linkGroupSizes: new Map(),
  };
  const archive = { id: asId(Buffer.alloc(32, 1), 'archive'), metadata, owners: { uid: (id: number) => id, gid: (id: number) => id } };
  return new MountView({ archives: [archive], single: true, uid: 0, gid: 0, xattrs: true }, new FolderCache(trees), new InodeTable(), entries);
}

test("listing a folder fetches the listings of its first subfolders and of the ones after it in its parent's reach", async () => {
  const file = (name: string): Entry => ({ ...fileOf(1), name });
  // The root: a, b, a file, then c, d, e; the other folders hold folders x1..x3, then nothing.
  const contents = new Map<string, Entry[]>([
    ['root', [folder('a'), folder('b'), file('f'), folder('c'), folder('d'), folder('e')]],
    ...['a', 'b', 'c', 'd', 'e'].map((name): [string, Entry[]] => [name, [folder(`${name}x1`), folder(`${name}x2`), folder(`${name}x3`)]]),
  ]);
  const read: string[] = [];
  const trees: TreeSource = {
    readTree: async (id) => {
      const name = Buffer.from(id).toString().replace(/\.+$/, '');
      read.push(name);
      return contents.get(name) ?? [];
    },
  };
  const viewReaching = (entries?: number): MountView => singleArchiveView(trees, treeOf('root'), entries);
  const view = viewReaching(2);

  /** The listings fetched by listing `paths` one after the other. */
  const fetchedListing = async (mounted: MountView, ...paths: string[]): Promise<string[]> => {
    read.length = 0;
    for (const path of paths) await mounted.list(path);
    await settle();
    return [...read];
  };
  assert.equal(await fetchedListing(view, '/'), ['root', 'a', 'b'], 'the root and its first two entries, both folders');
  assert.equal(await fetchedListing(view, '/a'), ['ax1', 'ax2'], "a's first two; b was already asked for and the root's next entry is a file");
  assert.equal(await fetchedListing(view, '/b'), ['bx1', 'bx2', 'c'], "b's first two, and c, now two entries past b in the root");
  assert.equal(await fetchedListing(view, '/c'), ['cx1', 'cx2', 'd', 'e'], 'after c: d and e');
  assert.equal(await fetchedListing(viewReaching(), '/', '/a'), ['root', 'a'], 'with no reach, only the folders listed and those on the way');
});

test('a folder listed while files are being read has its files fetched ahead; one listed otherwise, none', async () => {
  // The root holds folders a, b and c, each three files of one block: a's are blocks 0-2, b's 10-12, c's 20-22.
  const filesFrom = (first: number): Entry[] => [0, 1, 2].map((index) => ({ ...fileOf(1), name: `f${index}`, chunks: [{ id: blockId(first + index), length: BLOCK }] }));
  const contents = new Map<string, Entry[]>([
    ['root', [folder('a'), folder('b'), folder('c')]],
    ['a', filesFrom(0)],
    ['b', filesFrom(10)],
    ['c', filesFrom(20)],
  ]);
  const trees: TreeSource = { readTree: async (id) => contents.get(Buffer.from(id).toString().replace(/\.+$/, '')) ?? [] };
  const blocks = new CountingBlocks();
  const readers = new Readers(singleArchiveView(trees, treeOf('root')), { cache: new BlockCache(blocks, 100 * BLOCK), readahead: 1 });
  await readers.listed('/b');
  await settle();
  assert.equal(blocks.fetched(), [], 'no file read yet: a listing alone fetches no block');
  await readers.read('/a/f0', BLOCK, 0);
  await settle();
  assert.equal(blocks.fetched(), [0, 1, 2], "a's file read, and the files after it in a fetched ahead");
  await readers.listed('/b');
  await settle();
  assert.equal(blocks.fetched(), [0, 1, 2, 10, 11, 12], "listed right after a file was read: b's files fetched ahead from the first");
  await new Promise((resolve) => setTimeout(resolve, 1100));
  await readers.listed('/c');
  await settle();
  assert.equal(blocks.fetched(), [0, 1, 2, 10, 11, 12], 'listed over a second after the last read: nothing fetched');
});

test('inode numbers depend only on the archive and the path, and skip 0 and the root', () => {
  const first = new InodeTable();
  const second = new InodeTable();
  const paths = Array.from({ length: 2000 }, (_, index) => `/folder/file-${index}`);
  const numbers = paths.map((path) => first.inodeOf('archive-a', path));
  assert.equal([...paths].reverse().map((path) => second.inodeOf('archive-a', path)).reverse(), numbers);
  assert.is(new Set(numbers).size, numbers.length);
  assert.ok(numbers.every((inode) => inode > ROOT_INODE && inode < 2 ** 32));
  assert.is.not(first.inodeOf('archive-b', '/folder/file-0'), numbers[0]);
});

test.run();
