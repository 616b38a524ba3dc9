/**
 * The pieces of create's pipeline, on real files and a real folder backend: the source
 * workers (folder scans, small files read and sealed), the list of files read kept for the
 * re-check, the mtime cache's batches of records, the content store's bounded memory of
 * stored ids, the write-behind queue, and the helper that makes a folder backend's batches
 * durable.
 */
import { readdirSync } from 'node:fs';
import { lstat, mkdir, open, readdir, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FileBackend, openBackends } from '../src/backend/index.js';
import { FileSystemSyncer } from '../src/backend/file-system-sync.js';
import { FileCache, FolderRecord, fingerprintOf } from '../src/cache/index.js';
import { ContentDefinedChunker, type ChunkSizes, GearBoundaries, gearTable } from '../src/chunker/index.js';
import { MASTER_KEY_LENGTH, decrypt, deriveKeys, inlineSealer } from '../src/crypto/index.js';
import { BackendWriteError } from '../src/errors/index.js';
import { nameFromBytes } from '../src/filenames/index.js';
import { childPath, inWalkOrder } from '../src/pipeline/child-path.js';
import { type FileRead, FilesRead, FilesReadListError } from '../src/pipeline/files-read.js';
import { ScannedStats } from '../src/pipeline/entry-stats.js';
import { SourceReader } from '../src/pipeline/source-reader.js';
import { ContentStore } from '../src/store/content-store.js';
import { asId } from '../src/store/ids.js';
import { WriteBehind } from '../src/store/write-behind.js';
import { Coalesced } from '../src/threads/coalesced.js';
import { makeTempDir, seededBytes } from './support.js';

const SMALL: ChunkSizes = { min: 1024, average: 4096, max: 16384 };
const keys = deriveKeys(seededBytes(9, MASTER_KEY_LENGTH));
const gear = gearTable(keys.chunker.sivKey);

async function withTemp(label: string, body: (path: string) => Promise<void>): Promise<void> {
  const dir = await makeTempDir(label);
  try {
    await body(dir.path);
  } finally {
    await dir.remove();
  }
}

test('a whole file split in memory gives the chunks the streaming chunker gives', () =>
  withTemp('split', async (dir) => {
    const content = seededBytes(5, 300_000);
    await writeFile(join(dir, 'f'), content);
    const boundaries = new GearBoundaries(gear, SMALL);
    const handle = await open(join(dir, 'f'), 'r');
    const streamed: Buffer[] = [];
    try {
      for await (const chunk of new ContentDefinedChunker(boundaries).chunks(handle, content.length)) streamed.push(Buffer.from(chunk));
    } finally {
      await handle.close();
    }
    assert.ok(streamed.length > 10);
    assert.equal(boundaries.split(content).map((c) => c.toString('hex')), streamed.map((c) => c.toString('hex')));
  }));

test('the path of an entry is the folder and the name joined by one slash, also in the root folder', () => {
  assert.is(childPath('/', 'etc'), '/etc');
  assert.is(childPath('/home/ann', 'notes.txt'), '/home/ann/notes.txt');
  assert.is(childPath('/home/ann', '..hidden'), '/home/ann/..hidden');
  assert.is(childPath('/home/ann', 'a b'), join('/home/ann', 'a b'));
});

test("paths in the walk's order: a folder before what it holds, then its entries by the bytes of their names, each with all it holds", () => {
  const latin1 = nameFromBytes(Buffer.from([0x61, 0xe9])); // "a" and a byte that is not UTF-8
  const walk = ['/r', '/r/a', '/r/a/b', '/r/a/b/c', '/r/a/z', '/r/a-c', '/r/a.d/e', `/r/${latin1}`, `/r/${latin1}/x`, '/r/b'];
  const shuffled = [walk[7], walk[2], walk[9], walk[0], walk[5], walk[8], walk[1], walk[4], walk[6], walk[3]] as string[];
  assert.equal(shuffled.sort(inWalkOrder), walk);
  // As plain strings, '-' and '.' sort before '/': "/r/a-c" would come before "/r/a/b".
  assert.ok('/r/a-c' < '/r/a/b');
  assert.is(inWalkOrder('/r/a', '/r/a'), 0);
});

test('coalesced requests: a task carries at most the weight allowed (one request at least), and the waiting ones go in the order asked for', async () => {
  const tasks: number[][] = [];
  const answerAll = async (requests: readonly number[]) => {
    tasks.push([...requests]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    return requests.map((request) => request * 10);
  };
  const byWeight = new Coalesced(answerAll, { maxInFlight: 1, maxWeight: 5, weigh: (request: number) => request });
  const answers = await Promise.all([1, 2, 2, 2, 9, 1].map((request) => byWeight.ask(request)));
  assert.equal(answers, [10, 20, 20, 20, 90, 10]);
  // The first goes alone (nothing else was waiting), then 2+2 (a third 2 would weigh 6), then 2, 9 alone however heavy, then 1.
  assert.equal(tasks, [[1], [2, 2], [2], [9], [1]]);

  tasks.length = 0;
  const ordered = new Coalesced(answerAll, { maxInFlight: 1, order: (a: number, b: number) => a - b });
  await Promise.all([5, 3, 9, 1, 4].map((request) => ordered.ask(request)));
  assert.equal(tasks, [[5], [1, 3, 4, 9]]);
});

test('coalesced requests: a task that fails rejects every request it carried, and the next task still goes', async () => {
  const failing = new Coalesced(async (requests: readonly string[]) => {
    if (requests.includes('bad')) throw new Error('the worker failed');
    return requests.map((request) => request.toUpperCase());
  }, { maxInFlight: 1 });
  const outcomes = await Promise.allSettled(['ok', 'bad', 'also'].map((request) => failing.ask(request)));
  assert.equal(outcomes.map((outcome) => outcome.status), ['fulfilled', 'rejected', 'rejected']);
  assert.is(await failing.ask('later'), 'LATER');
});

test('source reader: a folder scan gives every name with its lstat, and a digest of them', () =>
  withTemp('scan', async (dir) => {
    await writeFile(join(dir, 'file'), 'x');
    await mkdir(join(dir, 'sub'));
    await symlink('missing', join(dir, 'dangling'));
    const reader = new SourceReader({ blockKeys: keys.block, gear, sizes: SMALL });
    try {
      const listing = await reader.scan(dir, false);
      assert.equal([...listing.names].sort(), ['dangling', 'file', 'sub']);
      for (const [i, name] of listing.names.entries()) {
        const stats = listing.stats(i) as ScannedStats;
        const expected = await lstat(join(dir, name), { bigint: true });
        assert.equal(fingerprintOf(stats), fingerprintOf(expected), name);
        assert.is(stats.isFile(), expected.isFile(), name);
        assert.is(stats.isDirectory(), expected.isDirectory(), name);
        assert.is(stats.isSymbolicLink(), expected.isSymbolicLink(), name);
      }
      // The digest covers every name and all of its metadata.
      assert.ok((await reader.scan(dir, false)).digest.equals(listing.digest), 'nothing changed, same digest');
      await utimes(join(dir, 'file'), 1_500_000_000, 1_500_000_000);
      assert.not.ok((await reader.scan(dir, false)).digest.equals(listing.digest), 'an mtime changed');
      // With --dereference a dangling link is kept as a link.
      const dereferenced = await reader.scan(dir, true);
      assert.ok((dereferenced.stats(dereferenced.names.indexOf('dangling')) as ScannedStats).isSymbolicLink());
      await reader.scan(join(dir, 'not-there'), false).then(
        () => assert.unreachable('a missing folder cannot be scanned'),
        (error: NodeJS.ErrnoException) => assert.is(error.code, 'ENOENT'),
      );
      // A large folder's scan goes alone, with the same answer, failures included.
      const alone = await reader.scan(dir, false, true);
      assert.equal(alone.names, (await reader.scan(dir, false)).names);
      assert.ok(alone.digest.equals((await reader.scan(dir, false)).digest), 'same digest scanned alone');
      await reader.scan(join(dir, 'not-there'), false, true).then(
        () => assert.unreachable('a missing folder cannot be scanned alone either'),
        (error: NodeJS.ErrnoException) => assert.is(error.code, 'ENOENT'),
      );
    } finally {
      await reader.close();
    }
  }));

test('source reader: small files come back sealed, and as changed when they are no longer what the walk saw', () =>
  withTemp('small', async (dir) => {
    const contents = [seededBytes(1, 50_000), Buffer.alloc(0), seededBytes(2, 999)];
    const paths = contents.map((_, i) => join(dir, `f${i}`));
    await Promise.all(paths.map((path, i) => writeFile(path, contents[i] as Buffer)));
    const reader = new SourceReader({ blockKeys: keys.block, gear, sizes: SMALL });
    try {
      const fingerprints = await Promise.all(paths.map(async (path) => fingerprintOf(await lstat(path, { bigint: true }))));
      const outcomes = await Promise.all(paths.map((path, i) => reader.read(path, fingerprints[i] as ReturnType<typeof fingerprintOf>)));
      outcomes.forEach((outcome, i) => {
        if (outcome.kind !== 'sealed') throw new Error(`file ${i}: ${outcome.kind}`);
        const plaintext = Buffer.concat(outcome.chunks.map((c) => decrypt(keys.block, c.id, Buffer.alloc(0), c.ciphertext, 'block')));
        assert.ok(plaintext.equals(contents[i] as Buffer), `file ${i}`);
      });
      await writeFile(paths[0] as string, 'rewritten');
      assert.is((await reader.read(paths[0] as string, fingerprints[0] as ReturnType<typeof fingerprintOf>)).kind, 'changed');
      const gone = await reader.read(join(dir, 'gone'), { size: 1, mtimeNs: 0n, ctimeNs: 0n, inode: 0n });
      assert.ok(gone.kind === 'failed' && gone.error.code === 'ENOENT');
    } finally {
      await reader.close();
    }
  }));

test('write-behind: everything added is stored by flush, and only new objects count as stored', () =>
  withTemp('write-behind', async (dir) => {
    const backend = new FileBackend(dir);
    try {
      await backend.put('blocks/00/00/old', Buffer.from('old'));
      const queue = new WriteBehind(backend, { batchObjects: 3, batchBytes: 1 << 20, parallelBatches: 2 });
      const objects = Array.from({ length: 10 }, (_, i) => ({ key: `blocks/00/01/k${i}`, data: seededBytes(i + 1, 100 + i) }));
      for (const { key, data } of objects) await queue.add(key, data);
      await queue.add('blocks/00/00/old', Buffer.from('new'));
      await queue.flush();
      for (const { key, data } of objects) assert.ok((await backend.get(key)).equals(data), key);
      assert.is((await backend.get('blocks/00/00/old')).toString(), 'old');
      assert.is(queue.storedBytes, objects.reduce((sum, o) => sum + o.data.length, 0));
    } finally {
      await backend.close();
    }
  }));

test('content store: ids it no longer remembers are looked for or written again, never taken for missing or stored', () =>
  withTemp('content-store-bound', async (dir) => {
    const backend = new FileBackend(dir);
    const store = new ContentStore(backend, inlineSealer(keys.block), 'block', 4);
    try {
      const contents = Array.from({ length: 10 }, (_, i) => seededBytes(i + 100, 200 + i));
      const ids = [];
      for (const content of contents) ids.push(await store.put(content));
      await store.flush();
      const stored = store.storedBytes;
      // The first ones have been forgotten: stored again, they are found there, not counted.
      for (const content of contents) await store.put(content);
      await store.flush();
      assert.is(store.storedBytes, stored);
      for (const [i, id] of ids.entries()) assert.ok((await store.get(id)).equals(contents[i] as Buffer), `block ${i}`);
      // More ids than it remembers in one question: every answer comes from the backend's.
      const absent = (await inlineSealer(keys.block).seal(seededBytes(999, 50))).id as (typeof ids)[number];
      assert.equal(await store.hasMany([...ids, absent]), [...ids.map(() => true), false]);
    } finally {
      await backend.close();
    }
  }));

/** Files as a walk notes them, some with names that are not UTF-8 and numbers at the ends of their ranges. */
function filesReadSample(count: number): FileRead[] {
  return Array.from({ length: count }, (_, i) => ({
    path: i % 1000 === 7 ? `/data/${nameFromBytes(Buffer.from([0x6c, 0x61, 0x74, 0xe9, 0x2d, 0xff]))}/${i}` : `/data/folder-${i % 50}/file-${i}.txt`,
    fingerprint: { size: i * 4099 + (i % 3 === 0 ? 2 ** 50 : 0), mtimeNs: BigInt(i) * 1_000_003n - (i % 2 === 0 ? 2n ** 69n : 0n), ctimeNs: BigInt(i) + (i % 5 === 0 ? 2n ** 69n - 1n - BigInt(i) : 0n), inode: 2n ** 64n - 1n - BigInt(i) },
  }));
}

test('files read: every file comes back as added, in slices, also past the memory bound, and no file is left in TMPDIR', () => {
  const files = filesReadSample(40_000);
  const list = new FilesRead(64 * 1024);
  try {
    for (const file of files) list.add(file);
    assert.is(list.length, files.length);
    const slices = [...list.slices(7_000)];
    assert.equal(
      slices.map((slice) => slice.length),
      [7_000, 7_000, 7_000, 7_000, 7_000, 5_000],
    );
    assert.equal(slices.flat(), files);
    // Read twice: the slices read the file again.
    assert.equal([...list.slices(40_000)][0], files);
    assert.equal(readdirSync(tmpdir()).filter((name) => name.startsWith('preserve-files-read-')), []);
  } finally {
    list.close();
  }
});

test('files read: a TMPDIR that cannot take the list stops the backup with a sentence naming it (exit 1)', () => {
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = '/nonexistent/preserve-test';
  const list = new FilesRead(0);
  try {
    assert.throws(
      () => {
        for (const file of filesReadSample(40_000)) list.add(file);
      },
      (error: unknown) => error instanceof FilesReadListError && error.exitStatus === 1 && /list of files read.*\/nonexistent\/preserve-test \(TMPDIR\): ENOENT/.test(error.message),
    );
  } finally {
    list.close();
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
});

/** A folder's cache record with `count` files, each of one block. */
function folderRecordOf(count: number): FolderRecord {
  const block = asId(Buffer.alloc(32, 7), 'block');
  const files = new Map(Array.from({ length: count }, (_, i) => [`file-${i}`, { fingerprint: { size: i, mtimeNs: BigInt(i), ctimeNs: BigInt(i), inode: BigInt(i) }, chunks: [{ id: block, length: i + 1 }] }]));
  const summary = { listing: Buffer.alloc(32, 1), tree: asId(Buffer.alloc(32, 2), 'tree'), subfolderTrees: [], fileCount: count, bytes: 0, uids: [], gids: [], symlinks: [], blocks: [block], xattrEntries: 0 };
  return FolderRecord.of(summary, files);
}

/** The bytes of the LevelDB write-ahead logs in `folder`: a batch written shows there at once. */
async function levelLogBytes(folder: string): Promise<number> {
  const names = (await readdir(folder)).filter((name) => name.endsWith('.log'));
  return (await Promise.all(names.map(async (name) => (await stat(join(folder, name))).size))).reduce((sum, size) => sum + size, 0);
}

test('mtime cache: a batch of records goes to the database once it holds 1 MiB, without waiting for 256 folders; one remembered is found before it is written', () =>
  withTemp('file-cache-batches', async (dir) => {
    const folder = join(dir, 'db');
    const cache = await FileCache.open(folder);
    try {
      cache.remember('/source/narrow', folderRecordOf(1));
      assert.is((await cache.lookup('/source/narrow'))?.files().size, 1);
      const before = await levelLogBytes(folder);
      cache.remember('/source/wide', folderRecordOf(30_000));
      let written = before;
      for (let tries = 0; tries < 100 && written - before < 1024 * 1024; tries++) {
        await sleep(20);
        written = await levelLogBytes(folder);
      }
      assert.ok(written - before >= 1024 * 1024, `the database's log grew by ${written - before} bytes`);
      assert.is((await cache.lookup('/source/wide'))?.files().get('file-29999')?.chunks[0]?.length, 30_000);
    } finally {
      await cache.close();
    }
  }));

/** A copy of `bytes` in memory of its own (no shared pool), as a ciphertext from the cipher is. */
function owned(bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafeSlow(bytes.length);
  out.set(bytes);
  return out;
}

test('write-behind: large objects it owns move to the file backend writer as they are; the rest is copied and left as it was', () =>
  withTemp('write-behind-hand-over', async (dir) => {
    const backend = new FileBackend(dir);
    try {
      const queue = new WriteBehind(backend, { batchObjects: 4, batchBytes: 1 << 20, parallelBatches: 2 });
      const shared = owned(seededBytes(40, 200_000));
      const objects = [
        ...Array.from({ length: 5 }, (_, i) => ({ key: `blocks/00/02/large${i}`, data: owned(seededBytes(20 + i, 100_000 + i)), moves: true })),
        { key: 'blocks/00/02/small', data: owned(seededBytes(30, 1000)), moves: false },
        { key: 'blocks/00/02/view', data: shared.subarray(1000, 150_000), moves: false },
      ];
      const expected = objects.map(({ data }) => Buffer.from(data));
      for (const { key, data } of objects) await queue.add(key, data);
      await queue.flush();
      for (const [i, { key, data, moves }] of objects.entries()) {
        assert.ok((await backend.get(key)).equals(expected[i] as Buffer), key);
        assert.is(data.length, moves ? 0 : (expected[i] as Buffer).length, `${key} ${moves ? 'moved' : 'copied'}`);
      }
      assert.is(queue.storedBytes, expected.reduce((sum, data) => sum + data.length, 0));
    } finally {
      await backend.close();
    }
  }));

test('write-behind: a mirror gives every member the whole objects, taking none of them', () =>
  withTemp('write-behind-mirror', async (dir) => {
    const roots = [join(dir, 'one'), join(dir, 'two')];
    const urls = roots.map((root) => pathToFileURL(root).href);
    const mirror = await openBackends(urls, { createIfMissing: true, tolerateFailures: false, onWarning: (message) => assert.unreachable(message) });
    try {
      const queue = new WriteBehind(mirror, { batchObjects: 2, batchBytes: 1 << 20, parallelBatches: 2 });
      const objects = Array.from({ length: 3 }, (_, i) => ({ key: `blocks/00/03/large${i}`, data: owned(seededBytes(50 + i, 100_000)) }));
      const expected = objects.map(({ data }) => Buffer.from(data));
      for (const { key, data } of objects) await queue.add(key, data);
      await queue.flush();
      for (const root of roots) {
        const member = new FileBackend(root);
        for (const [i, { key }] of objects.entries()) assert.ok((await member.get(key)).equals(expected[i] as Buffer), `${root} ${key}`);
        await member.close();
      }
      for (const [i, { data }] of objects.entries()) assert.ok(data.equals(expected[i] as Buffer), 'the buffer added is left as it was');
    } finally {
      await mirror.close?.();
    }
  }));

test('write-behind: a failure to store is thrown by flush and by every later add', () =>
  withTemp('write-behind-fails', async (dir) => {
    // tmp/ is a file, so no temporary object can be written.
    await writeFile(join(dir, 'tmp'), 'in the way');
    const backend = new FileBackend(dir);
    try {
      const queue = new WriteBehind(backend, { batchObjects: 2, batchBytes: 1 << 20, parallelBatches: 1 });
      await queue.add('blocks/00/00/a', Buffer.from('a'));
      await queue.add('blocks/00/00/b', Buffer.from('b'));
      await queue.flush().then(
        () => assert.unreachable('flush should fail'),
        (error: unknown) => assert.instance(error, BackendWriteError),
      );
      await queue.add('blocks/00/00/c', Buffer.from('c')).then(
        () => assert.unreachable('add after a failure should fail'),
        (error: unknown) => assert.instance(error, BackendWriteError),
      );
      assert.not.ok(await backend.has('blocks/00/00/a'));
    } finally {
      await backend.close();
    }
  }));

test('file system sync: answers each request, and says which folder when sync fails', () =>
  withTemp('syncfs', async (dir) => {
    const good = new FileSystemSyncer(dir);
    const bad = new FileSystemSyncer(join(dir, 'not-there'));
    try {
      await Promise.all([good.sync(), good.sync(), good.sync()]);
      await bad.sync().then(
        () => assert.unreachable('sync of a missing folder should fail'),
        (error: Error) => assert.match(error.message, join(dir, 'not-there')),
      );
      await good.sync();
    } finally {
      good.close();
      bad.close();
    }
  }));

test.run();
