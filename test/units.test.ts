/** Unit tests for the small pieces: chunker, exclude patterns, source paths, folder tags, the walk's backlog, owner tables, snapshot reads, sparse writes. */
import { createCipheriv, createHash } from 'node:crypto';
import { mkdir, open, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type FileEntry, FileContent, NO_XATTRS, type SymlinkEntry, describeSource, encodeSource, sourcePathsOf, sourceRootOf } from '../src/archive/index.js';
import { FolderMemory, MAX_WRITTEN_KEYS } from '../src/backend/folder-memory.js';
import { countOf, formatBytes } from '../src/cli/format.js';
import { Backlog } from '../src/commands/backlog.js';
import { FolderTags } from '../src/commands/folder-tags.js';
import { type ExistingEntry, keepsExisting } from '../src/commands/restore-policy.js';
import { closeFile, createFile, setLength, writeSparse } from '../src/commands/restore-target.js';
import { type Chunker, type ChunkSizes, ContentDefinedChunker, GearBoundaries, gearTable } from '../src/chunker/index.js';
import { idMapper, namesFor, parseNameDatabase } from '../src/owners/index.js';
import { Listing } from '../src/pipeline/source-reader.js';
import { SourcePaths, compileExcludes } from '../src/selection/index.js';
import { type BlockId, asId } from '../src/store/ids.js';
import { aclText } from '../src/xattrs/acl.js';
import { NAMED_USER_ACL, makeTempDir, posixAcl, seededBytes } from './support.js';

const SMALL: ChunkSizes = { min: 1024, average: 4096, max: 16384 };
const smallChunker = new ContentDefinedChunker(new GearBoundaries(gearTable(Buffer.from('test secret')), SMALL));

async function chunksOf(content: Buffer, expectedSize = content.length, chunker: Chunker = smallChunker): Promise<Buffer[]> {
  const dir = await makeTempDir('chunker');
  try {
    await writeFile(join(dir.path, 'f'), content);
    const handle = await open(join(dir.path, 'f'), 'r');
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of chunker.chunks(handle, expectedSize)) chunks.push(Buffer.from(chunk));
      return chunks;
    } finally {
      await handle.close();
    }
  } finally {
    await dir.remove();
  }
}

const digests = (chunks: Buffer[]) => new Set(chunks.map((c) => createHash('sha256').update(c).digest('hex')));

test('content-defined chunks rebuild the file and respect min and max sizes', async () => {
  const content = seededBytes(5, 1_000_000);
  const chunks = await chunksOf(content);
  assert.ok(Buffer.concat(chunks).equals(content));
  for (const chunk of chunks.slice(0, -1)) assert.ok(chunk.length >= SMALL.min && chunk.length <= SMALL.max, `size ${chunk.length}`);
  const average = content.length / chunks.length;
  assert.ok(average > SMALL.average / 2 && average < SMALL.average * 2, `average ${average}`);
  assert.equal(await chunksOf(Buffer.alloc(0)), []);
  assert.equal((await chunksOf(Buffer.from('tiny'))).map(String), ['tiny']);
});

test('chunk boundaries do not depend on the size stat reported', async () => {
  const content = seededBytes(8, 300_000);
  const reference = (await chunksOf(content)).map((c) => c.length);
  for (const expected of [0, 100, 16_385, 299_999, 10_000_000]) {
    assert.equal((await chunksOf(content, expected)).map((c) => c.length), reference, `expected size ${expected}`);
  }
});

test('an insertion at the front or in the middle changes only the chunks around it', async () => {
  const content = seededBytes(9, 2_000_000);
  const before = digests(await chunksOf(content));
  for (const at of [0, 1_000_000]) {
    const edited = Buffer.concat([content.subarray(0, at), seededBytes(10, 1024), content.subarray(at)]);
    const after = await chunksOf(edited);
    const fresh = after.filter((c) => !before.has(createHash('sha256').update(c).digest('hex')));
    assert.ok(fresh.length <= 3, `${fresh.length} of ${after.length} chunks new after inserting at ${at}`);
  }
});

test('chunk boundaries are those recorded for a fixed secret and content (they decide dedup with older archives)', () => {
  const content = createCipheriv('aes-256-ctr', Buffer.alloc(32, 7), Buffer.alloc(16, 0)).update(Buffer.alloc(256 * 1024));
  const boundaries = new GearBoundaries(gearTable(Buffer.alloc(32, 1)), { min: 2048, average: 8192, max: 32768 });
  // Recorded with the implementation of 2026-12-01 (a class method), before the cut became a closure.
  const recorded = [
    8932, 11193, 10789, 9082, 7492, 9093, 10005, 8375, 11871, 8596, 6868, 9599, 13840, 9040, 10251, 9646, 9253, 8910, 8346, 9859,
    9757, 11712, 9125, 9393, 3046, 13167, 9446, 5458,
  ];
  assert.equal(boundaries.split(content).map((chunk) => chunk.length), recorded);
});

test('the gear table depends on the secret', () => {
  assert.not.equal(gearTable(Buffer.from('a')), gearTable(Buffer.from('b')));
  assert.equal(gearTable(Buffer.from('a')), gearTable(Buffer.from('a')));
});

test('excludes: names match at any depth, paths match from the root, ** spans folders', () => {
  const excluded = compileExcludes(['*.tmp', 'node_modules', 'build/**', '/cache', '.git/']);
  for (const path of ['a.tmp', 'x/y/b.tmp', 'node_modules', 'src/node_modules', 'build/out/x.o', 'cache', '.git', 'sub/.git']) {
    assert.ok(excluded(path), `${path} should be excluded`);
  }
  for (const path of ['a.tmpx', 'src/build/x', 'sub/cache', 'keep.txt', 'node_modules_not']) {
    assert.not.ok(excluded(path), `${path} should be kept`);
  }
  assert.not.ok(compileExcludes([])('anything'));
});

/** A listing of these names (FolderTags looks at nothing else). */
const listingOf = (...names: string[]) => new Listing(names, new BigInt64Array(0), new Map(), Buffer.alloc(32));

test('source paths: one folder is the root; several paths (or a file) lie under /, the folders on the way holding only the way down', () => {
  const folder = { dev: 1n, isDirectory: () => true };
  const file = { dev: 1n, isDirectory: () => false };
  const one = SourcePaths.of([{ path: '/home/ann', info: folder }]);
  assert.equal([one.root, one.isWhole, one.sourcePath, one.keeps('anything/at/all')], ['/home/ann', true, '/home/ann', true]);
  assert.equal([sourceRootOf(one.sourcePath), sourcePathsOf(one.sourcePath)], ['/home/ann', ['/home/ann']]);
  assert.not.ok(one.isBelowGiven(''));
  assert.ok(one.isBelowGiven('a'));

  const usb = { dev: 2n, isDirectory: () => true };
  const several = SourcePaths.of([
    { path: '/home/ann/docs', info: folder },
    { path: '/etc/fstab', info: file },
    { path: '/home/ann/docs/usb', info: usb },
  ]);
  assert.equal([several.root, several.isWhole, several.paths], ['/', false, ['/etc/fstab', '/home/ann/docs', '/home/ann/docs/usb']]);
  const kept = ['', 'etc', 'etc/fstab', 'home', 'home/ann', 'home/ann/docs', 'home/ann/docs/x/y', 'etc/hosts', 'home/bob', 'home/ann/docs2', 'homer'].filter((path) => several.keeps(path));
  assert.equal(kept, ['', 'etc', 'etc/fstab', 'home', 'home/ann', 'home/ann/docs', 'home/ann/docs/x/y']);
  assert.equal(['home', 'home/ann/docs', 'home/ann/docs/x', 'home/ann/docs/usb', 'home/ann/docs/usb/x'].map((path) => several.isBelowGiven(path)), [false, false, true, false, true]);
  assert.equal(['home', 'home/ann/docs/x', 'home/ann/docs/usb/x'].map((path) => several.deviceFor(path)), [undefined, 1n, 2n]);
  assert.equal([sourceRootOf(several.sourcePath), sourcePathsOf(several.sourcePath), describeSource(several.sourcePath)], ['/', several.paths, several.paths.join(' ')]);
  // The same paths in another order are the same source.
  const reordered = SourcePaths.of([{ path: '/home/ann/docs/usb', info: usb }, { path: '/home/ann/docs', info: folder }, { path: '/etc/fstab', info: file }]);
  assert.is(reordered.sourcePath, several.sourcePath);
  assert.equal(reordered.digestFields(), several.digestFields());
  // A list from --files-from may be long: the description names the first three.
  assert.is(describeSource(encodeSource('/', ['/a', '/b', '/c', '/d', '/e'])), '/a /b /c (and 2 more)');
  // A lone file lies under / too.
  assert.equal(SourcePaths.of([{ path: '/etc/fstab', info: file }]).paths, ['/etc/fstab']);
  assert.is(SourcePaths.of([{ path: '/etc/fstab', info: file }]).root, '/');
});

test('folder tags: a name of --exclude-if-present or a signed CACHEDIR.TAG leaves a folder out; a tag that cannot be read leaves it in, with a warning', async () => {
  const dir = await makeTempDir('tags');
  try {
    for (const folder of ['signed', 'unsigned', 'dangling']) await mkdir(join(dir.path, folder));
    await writeFile(join(dir.path, 'signed', 'CACHEDIR.TAG'), 'Signature: 8a477f597d28d172789f06886806bc55\n# a cache\n');
    await writeFile(join(dir.path, 'unsigned', 'CACHEDIR.TAG'), 'Signature: something else\n');
    await symlink('nowhere', join(dir.path, 'dangling', 'CACHEDIR.TAG'));
    const warnings: string[] = [];
    const tags = new FolderTags({ excludeCaches: true, excludeIfPresent: ['.nobackup'] }, { warning: (message) => warnings.push(message) });

    assert.ok(await tags.isTagged(join(dir.path, 'signed'), listingOf('a', 'CACHEDIR.TAG')));
    assert.not.ok(await tags.isTagged(join(dir.path, 'unsigned'), listingOf('CACHEDIR.TAG')), 'a tag without the signature');
    assert.ok(await tags.isTagged(dir.path, listingOf('a', '.nobackup')), 'a name of --exclude-if-present, whatever it is');
    assert.not.ok(await tags.isTagged(dir.path, listingOf('a', 'b')));
    assert.equal(warnings, []);
    assert.not.ok(await tags.isTagged(join(dir.path, 'dangling'), listingOf('CACHEDIR.TAG')), 'an unreadable tag leaves its folder in');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /dangling\/CACHEDIR\.TAG: cannot be read \(.+\); its folder is backed up$/);
    assert.ok(tags.mayBeTagged(listingOf('CACHEDIR.TAG')) && tags.mayBeTagged(listingOf('.nobackup')));
    assert.not.ok(tags.mayBeTagged(listingOf('a', 'b')));

    const withoutCaches = new FolderTags({ excludeCaches: false, excludeIfPresent: [] }, { warning: (message) => warnings.push(message) });
    assert.not.ok(withoutCaches.mayBeTagged(listingOf('CACHEDIR.TAG')), 'without --exclude-caches the tag is a name like any other');
    assert.not.ok(await withoutCaches.isTagged(join(dir.path, 'signed'), listingOf('CACHEDIR.TAG')));
  } finally {
    await dir.remove();
  }
});

test('backlog: room() waits while the tracked units reach the bound, and goes on as work settles, failed or not', async () => {
  const backlog = new Backlog(3);
  const settle: (() => void)[] = [];
  const pending = () => new Promise<void>((resolve) => settle.push(resolve));
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  assert.ok(backlog.isEmpty);
  const first = backlog.track(pending());
  const heavy = backlog.track(pending(), 2);
  let roomed = false;
  const room = backlog.room().then(() => (roomed = true));
  await turn();
  assert.not.ok(roomed, 'three units tracked: no room under a bound of three');
  settle[0]?.();
  await first;
  await turn();
  assert.ok(roomed, 'room once a unit settled');
  await room;

  const failed = backlog.track(Promise.reject(new Error('lost'))).then(() => 'settled', (error: Error) => error.message);
  let roomedAgain = false;
  const roomAgain = backlog.room().then(() => (roomedAgain = true));
  await turn();
  assert.equal(await failed, 'lost', 'the failure reaches whoever awaits the work');
  await turn();
  assert.ok(roomedAgain, 'a failed piece of work frees its units too');
  await roomAgain;
  assert.not.ok(backlog.isEmpty);
  settle[1]?.();
  await heavy;
  assert.ok(backlog.isEmpty);
});

test('owners: passwd parsing, name tables and mapping by name with numeric fallback', () => {
  const local = parseNameDatabase('root:x:0:0::/root:/bin/sh\n# comment\nann:x:2001:2001::/home/ann:/bin/sh\nbroken line\n');
  assert.is(local.idByName.get('ann'), 2001);
  assert.equal([...namesFor([0, 2001, 4242], local)], [[0, 'root'], [2001, 'ann']]);
  const map = idMapper(new Map([[1000, 'ann'], [1001, 'bob']]), local);
  assert.is(map(1000), 2001, 'known name maps to the local id');
  assert.is(map(1001), 1001, 'unknown local name keeps the archive number');
  assert.is(map(5), 5, 'id without a name keeps its number');
});

test('folder memory: what encode wrote decodes to the same answers; other or damaged bytes give an empty memory', () => {
  const memory = FolderMemory.empty();
  memory.found('blocks/ab/cd/one', '1:2:3:4');
  memory.found('blocks/ab/cd/two', '1:2:3:4');
  memory.found('blocks/ef/01/three', '5:6:7:8');
  const decoded = FolderMemory.decode(memory.encode());
  assert.is(decoded.signatureOf('blocks/ab/cd/one'), '1:2:3:4');
  assert.is(decoded.signatureOf('blocks/ab/cd/two'), '1:2:3:4');
  assert.is(decoded.signatureOf('blocks/ef/01/three'), '5:6:7:8');
  assert.is(decoded.signatureOf('blocks/ef/01/four'), '');
  for (const part of ['on', 'ne', 'o', 'one/two', '1:2:3:4']) assert.is(decoded.signatureOf(`blocks/ab/cd/${part}`), '', `${part} is not a name`);
  assert.not.ok(decoded.changed);
  decoded.found('blocks/ab/cd/two', '1:2:3:4');
  assert.not.ok(decoded.changed, 'a name found again teaches nothing');
  const damaged = [
    'not json',
    JSON.stringify({ version: 1, folders: { 'blocks/ab/cd': ['1:2:3:4', 'one'] } }),
    JSON.stringify({ version: 2, folders: { 'blocks/ab/cd': '1:2:3:4/one', 'blocks/ef/01': ['5:6:7:8', 'two'] } }),
    JSON.stringify({ version: 2, folders: { 'blocks/ab/cd': '1:2:3:4/one', 'blocks/ef/01': '5:6:7:8' } }),
    JSON.stringify({ version: 2, folders: { 'blocks/ab/cd': '/one' } }),
    JSON.stringify({ version: 2, folders: null }),
    'null',
  ];
  for (const text of damaged) assert.is(FolderMemory.decode(Buffer.from(text)).signatureOf('blocks/ab/cd/one'), '', text);
});

test('folder memory: notes over their budget keep the folders that fit and leave out the rest', () => {
  const memory = FolderMemory.empty();
  for (const folder of ['00', '01', '02', '03']) memory.found(`blocks/ab/${folder}/name`, '1:2:3:4');
  // Each folder takes "blocks/ab/00" and "1:2:3:4/name": 24 characters.
  const kept = FolderMemory.decode(memory.encode(2 * 24 + 23));
  assert.equal(
    ['00', '01', '02', '03'].map((folder) => kept.signatureOf(`blocks/ab/${folder}/name`)),
    ['1:2:3:4', '1:2:3:4', '', ''],
  );
  assert.is(FolderMemory.decode(memory.encode(4 * 24)).signatureOf('blocks/ab/03/name'), '1:2:3:4', 'all four fit in 96');
});

test('folder memory: past its bound of written keys, a folder written to is forgotten at once', () => {
  const memory = FolderMemory.empty();
  memory.found('blocks/ab/cd/one', '1:2:3:4');
  for (let i = 0; i < MAX_WRITTEN_KEYS; i++) memory.wrote(`blocks/00/00/${i}`);
  assert.is(memory.signatureOf('blocks/ab/cd/one'), '1:2:3:4');
  memory.wrote('blocks/ab/cd/two');
  assert.is(memory.signatureOf('blocks/ab/cd/one'), '', 'forgotten: its signature changed');
  const written = memory.takeWritten();
  assert.is(written.length, MAX_WRITTEN_KEYS);
  assert.not.ok(written.includes('blocks/ab/cd/two'), 'not looked at again at the end');
});

test('folder memory: compacted folders answer as before and go on learning', () => {
  const memory = FolderMemory.empty();
  memory.found('blocks/ab/cd/one', '1:2:3:4');
  memory.found('blocks/ab/cd/two', '1:2:3:4');
  memory.compact();
  assert.is(memory.signatureOf('blocks/ab/cd/one'), '1:2:3:4');
  assert.is(memory.signatureOf('blocks/ab/cd/two'), '1:2:3:4');
  assert.is(memory.signatureOf('blocks/ab/cd/tw'), '');
  memory.found('blocks/ab/cd/three', '1:2:3:4');
  assert.equal(['one', 'two', 'three'].map((name) => memory.signatureOf(`blocks/ab/cd/${name}`)), ['1:2:3:4', '1:2:3:4', '1:2:3:4']);
  assert.is(FolderMemory.decode(memory.encode()).signatureOf('blocks/ab/cd/three'), '1:2:3:4');
});

test('folder memory: a decoded folder learns new names, takes a new signature, and is forgotten once written to', () => {
  const first = FolderMemory.empty();
  first.found('blocks/ab/cd/one', '1:2:3:4');
  first.found('blocks/ef/01/three', '5:6:7:8');
  const memory = FolderMemory.decode(first.encode());
  memory.found('blocks/ab/cd/two', '1:2:3:4');
  assert.ok(memory.changed);
  assert.is(memory.signatureOf('blocks/ab/cd/one'), '1:2:3:4', 'the decoded name is kept');
  assert.is(memory.signatureOf('blocks/ab/cd/two'), '1:2:3:4');
  memory.found('blocks/ef/01/four', '9:9:9:9');
  assert.is(memory.signatureOf('blocks/ef/01/three'), '', 'a new signature drops the names seen with the old one');
  assert.is(memory.signatureOf('blocks/ef/01/four'), '9:9:9:9');
  const again = FolderMemory.decode(memory.encode());
  assert.is(again.signatureOf('blocks/ab/cd/two'), '1:2:3:4');
  again.wrote('blocks/ab/cd/five');
  again.wrote('blocks/ef/01/six');
  assert.is(again.writtenCount, 2);
  assert.equal(again.takeWritten(1).sort(), ['blocks/ab/cd/five', 'blocks/ab/cd/one', 'blocks/ab/cd/two'], 'the oldest written key and its folder');
  assert.is(again.signatureOf('blocks/ef/01/four'), '9:9:9:9', 'a folder written to later is left for the next take');
  assert.equal(again.takeWritten(), ['blocks/ef/01/six', 'blocks/ef/01/four']);
  assert.is(again.signatureOf('blocks/ab/cd/one'), '', 'a folder written to is looked into again');
  assert.is(again.signatureOf('blocks/ef/01/four'), '');
});

test('counts take the singular only for one', () => {
  assert.is(countOf(1, 'file'), '1 file');
  assert.is(countOf(0, 'file'), '0 files');
  assert.is(countOf(2, 'entry', 'entries'), '2 entries');
});

test('byte counts and rates print as whole bytes below 1 KiB, one decimal above', () => {
  assert.is(formatBytes(0), '0 B');
  assert.is(formatBytes(2.5188916876574305), '3 B');
  assert.is(formatBytes(1536), '1.5 KiB');
  assert.is(formatBytes(3 * 1024 ** 3), '3.0 GiB');
});

test('file content: ranged reads across chunk boundaries by binary search', async () => {
  const content = seededBytes(9, 10_000);
  const lengths = [1000, 3000, 1, 5999];
  const blocks = new Map<string, Buffer>();
  let offset = 0;
  const chunks = lengths.map((length, index) => {
    const id = asId(Buffer.alloc(32, index + 1), 'block');
    blocks.set(id.toString('hex'), content.subarray(offset, offset + length));
    offset += length;
    return { id, length };
  });
  const fetched: number[] = [];
  const entry: FileEntry = { type: 'file', name: 'f', mode: 0o644, uid: 0, gid: 0, mtimeNs: 0n, xattrs: NO_XATTRS, size: 10_000, linkGroup: 0, chunks };
  const file = new FileContent(entry, {
    readBlock: async (id: BlockId) => {
      fetched.push(id[0] as number);
      return blocks.get(id.toString('hex')) as Buffer;
    },
  });
  for (const [start, length] of [[0, 10], [990, 20], [3999, 2], [4000, 6000], [9990, 100], [0, 10_000], [10_000, 5]] as const) {
    assert.ok(Buffer.concat(await file.read(start, length)).equals(content.subarray(start, Math.min(start + length, 10_000))), `read ${start}+${length}`);
  }
  fetched.length = 0;
  await file.read(1500, 10);
  assert.equal(fetched, [2], 'only the covering block is fetched');
});

test('sparse writes of chunks at any offsets give back the content; only pages of zeros are skipped', async () => {
  const dir = await makeTempDir('sparse');
  try {
    for (let seed = 1; seed <= 20; seed++) {
      // Runs of zeros and of data of random lengths (some shorter than a page), cut into chunks of random lengths.
      const random = seededBytes(seed, 4096);
      let pick = 0;
      const next = (limit: number) => ((random[pick++ % random.length] as number) * 257 + (random[pick++ % random.length] as number)) % limit;
      const runs: Buffer[] = [];
      for (let total = 0; total < 200_000; ) {
        const run = next(2) === 0 ? Buffer.alloc(next(20_000)) : seededBytes(seed * 100 + runs.length, 1 + next(9_000));
        runs.push(run);
        total += run.length;
      }
      const content = Buffer.concat(runs);
      const path = join(dir.path, `f${seed}`);
      const fd = await createFile(path);
      try {
        for (let position = 0; position < content.length; ) {
          const length = Math.min(1 + next(30_000), content.length - position);
          await writeSparse(fd, content.subarray(position, position + length), position);
          position += length;
        }
        setLength(fd, content.length);
      } finally {
        closeFile(fd);
      }
      assert.ok((await readFile(path)).equals(content), `seed ${seed}`);
    }
  } finally {
    await dir.remove();
  }
});


test('restore --overwrite: what each policy keeps, times compared to the microsecond (floored before 1970), extended attributes as set', () => {
  const file: FileEntry = { name: 'f', mode: 0o644, uid: 1000, gid: 100, mtimeNs: 1_600_000_000_123_456_789n, xattrs: NO_XATTRS, type: 'file', size: 10, linkGroup: 0, chunks: [] };
  const restored: ExistingEntry = { kind: 'file', size: 10, mode: 0o644, uid: 0, gid: 0, mtimeNs: 1_600_000_000_123_456_000n };
  const owner = { uid: 1000, gid: 100 };
  const asUser = { xattrs: NO_XATTRS };
  const asRoot = { owner, xattrs: NO_XATTRS };
  assert.not.ok(keepsExisting('if-changed', file, undefined, asUser), 'nothing there');
  assert.not.ok(keepsExisting('always', file, restored, asUser));
  assert.ok(keepsExisting('never', file, { ...restored, kind: 'other' }, asUser), 'never keeps even a folder in the way');
  assert.ok(keepsExisting('if-changed', file, restored, asUser), 'as a restore left it, when not root');
  assert.not.ok(keepsExisting('if-changed', file, restored, asRoot), 'as root, the owner is compared too');
  assert.ok(keepsExisting('if-changed', file, { ...restored, ...owner }, asRoot));
  for (const [field, value] of [['size', 9], ['mode', 0o600], ['mtimeNs', 1_600_000_000_123_457_000n], ['kind', 'symlink']] as const) {
    assert.not.ok(keepsExisting('if-changed', file, { ...restored, [field]: value }, asUser), `${field} differs`);
  }
  assert.ok(keepsExisting('if-newer', file, { ...restored, size: 1, mtimeNs: file.mtimeNs - 500n }, asUser), 'same microsecond: not newer');
  assert.not.ok(keepsExisting('if-newer', file, { ...restored, mtimeNs: file.mtimeNs - 1000n }, asUser), 'the archive\'s is newer');
  const old: FileEntry = { ...file, mtimeNs: -1_500n };
  assert.ok(keepsExisting('if-changed', old, { ...restored, mtimeNs: -2_000n }, asUser), '-1.5 µs is in the microsecond from -2');
  assert.not.ok(keepsExisting('if-changed', old, { ...restored, mtimeNs: -1_000n }, asUser));
  const link: SymlinkEntry = { name: 'l', mode: 0o777, uid: 0, gid: 0, mtimeNs: 0n, xattrs: NO_XATTRS, type: 'symlink', target: 'a/b' };
  const existingLink: ExistingEntry = { ...restored, kind: 'symlink', linkTarget: 'a/b' };
  assert.ok(keepsExisting('if-changed', link, existingLink, asUser), 'a symlink to the same target, whatever its time');
  assert.not.ok(keepsExisting('if-changed', link, { ...existingLink, linkTarget: 'a/c' }, asUser));
  assert.not.ok(keepsExisting('if-changed', link, { ...restored, linkTarget: undefined }, asUser), 'a file where the link goes');
  const comment = { name: 'user.comment', value: Buffer.from('kept') };
  const label = { name: 'security.selinux', value: Buffer.from('a label the target gave it') };
  const withComment = { xattrs: [comment] };
  assert.not.ok(keepsExisting('if-changed', file, restored, withComment), 'an attribute the restore sets is missing');
  assert.not.ok(keepsExisting('if-changed', file, { ...restored, xattrs: [{ ...comment, value: Buffer.from('edited') }] }, withComment), 'or has another value');
  assert.ok(keepsExisting('if-changed', file, { ...restored, xattrs: [label, comment] }, withComment), 'one the file has beyond them does not count');
});

test('an ACL in text as GNU tar writes it (numeric ids); a value that is not an ACL of version 2 gives none', () => {
  assert.is(aclText(NAMED_USER_ACL), 'user::rw-,user:1234:r--,group::r--,mask::r--,other::---');
  assert.is(aclText(posixAcl([[0x01, 7], [0x08, 5, 100], [0x04, 1], [0x10, 5], [0x20, 0]])), 'user::rwx,group:100:r-x,group::--x,mask::r-x,other::---');
  const otherVersion = Buffer.from(NAMED_USER_ACL);
  otherVersion.writeUInt32LE(3, 0);
  const unknownTag = posixAcl([[0x40, 7]]);
  for (const bad of [otherVersion, unknownTag, NAMED_USER_ACL.subarray(0, 10), Buffer.alloc(0)]) assert.is(aclText(bad), undefined, bad.toString('hex'));
});

test.run();
