/**
 * create's fidelity and incremental behaviour: deduplication around edits, the mtime
 * cache (per backend, robust to deleted blocks, cleaned, never backed up, folders reused
 * whole only when nothing in or below them changed), a backend folder inside the tree, and files
 * that change while the backup runs.
 */
import { execFile, spawn } from 'node:child_process';
import { appendFile, cp, lstat, mkdir, readdir, readFile, rm, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Level } from 'level';
import { FolderMemory, SETTLE_MS } from '../src/backend/folder-memory.js';
import { DEFAULT_CHUNK_SIZES } from '../src/chunker/index.js';
import { FileCache, FolderRecord } from '../src/cache/index.js';
import { assertOk, objectFiles, type TestRepo, withTestRepo } from './cli-support.js';
import { PRESERVE_BIN, describeTree, makeOld, seededBytes } from './support.js';

const exec = promisify(execFile);

async function storedBytes(repo: TestRepo, backend = repo.backend): Promise<Map<string, number>> {
  const result = await repo.run('list', '--json', '--backend', backend);
  return new Map((JSON.parse(result.stdout) as { name: string; storedBytes: number }[]).map((a) => [a.name, a.storedBytes]));
}

const MiB = 1024 * 1024;
/** What one edit may store anew: at most two chunks around it, plus folder objects. */
const AROUND_ONE_EDIT = 2 * DEFAULT_CHUNK_SIZES.max + MiB / 2;

test('inserting bytes at the front or middle of a large file stores only the chunks around the edit', () =>
  withTestRepo('dedup-edit', async (repo) => {
    const big = seededBytes(21, 32 * MiB);
    await writeFile(join(repo.source, 'big.bin'), big);
    assertOk(await repo.run('create', 'original', repo.source), 'create');
    await writeFile(join(repo.source, 'big.bin'), Buffer.concat([seededBytes(22, 1024), big]));
    assertOk(await repo.run('create', 'front', repo.source), 'create front');
    await writeFile(join(repo.source, 'big.bin'), Buffer.concat([big.subarray(0, 16 * MiB), seededBytes(23, 1024), big.subarray(16 * MiB)]));
    assertOk(await repo.run('create', 'middle', repo.source), 'create middle');
    const stored = await storedBytes(repo);
    for (const name of ['front', 'middle']) assert.ok((stored.get(name) ?? Infinity) < AROUND_ONE_EDIT, `${name} stored ${stored.get(name)} bytes`);
    const target = join(repo.dir, 'restored');
    assertOk(await repo.run('restore', 'middle', target, 'big.bin'), 'restore');
    assert.ok((await readFile(join(target, 'big.bin'))).equals(await readFile(join(repo.source, 'big.bin'))));
  }));

test('a large file edited after a cached backup reuses the blocks the backend has and stores again those it lost', () =>
  withTestRepo('edit-reuse', async (repo) => {
    const path = join(repo.source, 'big.bin');
    const big = seededBytes(24, 8 * MiB);
    const writeOld = async (content: Buffer, time: number) => {
      await writeFile(path, content);
      await utimes(path, time, time); // old enough to be cached
    };
    await writeOld(big, 1_500_000_000);
    assertOk(await repo.run('create', 'one', repo.source, '--rescan-delay', '0'), 'create one');
    // The blocks found again are not encrypted anew; they must still be the right ones.
    await writeOld(Buffer.concat([seededBytes(25, 1024), big]), 1_500_000_100);
    assertOk(await repo.run('create', 'two', repo.source, '--rescan-delay', '0'), 'create two');
    assert.ok(((await storedBytes(repo)).get('two') ?? Infinity) < AROUND_ONE_EDIT, 'only the chunks around the edit are new');
    await assertRestores(repo, 'two', path);
    // Every block disappears: the cache's earlier block list must not stand in for them.
    for (const file of await objectFiles(repo.backend, 'blocks')) await unlink(file);
    await writeOld(Buffer.concat([seededBytes(26, 1024), big]), 1_500_000_200);
    assertOk(await repo.run('create', 'three', repo.source, '--rescan-delay', '0'), 'create three');
    assertOk(await repo.run('verify', 'three'), 'verify three');
    await assertRestores(repo, 'three', path);
  }));

/** Restores the one file at `path` of the source from archive `name` and compares it with the source. */
async function assertRestores(repo: TestRepo, name: string, path: string): Promise<void> {
  const target = join(repo.dir, `restore-${name}`);
  const inArchive = relative(repo.source, path);
  assertOk(await repo.run('restore', name, target, inArchive), `restore ${name}`);
  assert.ok((await readFile(join(target, inArchive))).equals(await readFile(path)), `${inArchive} of ${name} restores`);
}

test('a second create of an unchanged tree reads no file and stores no block', () =>
  withTestRepo('unchanged', async (repo) => {
    await makeOld(repo.source);
    const first = await repo.run('create', 'one', repo.source, '--rescan-delay', '0');
    assertOk(first, 'create one');
    assert.match(first.stdout, /11 files \(\d+ read, 0 unchanged\)/);
    const blocks = await objectFiles(repo.backend, 'blocks');
    const second = await repo.run('create', 'two', repo.source);
    assertOk(second, 'create two');
    assert.match(second.stdout, /11 files \(0 read, \d+ unchanged\)/);
    assert.equal(await objectFiles(repo.backend, 'blocks'), blocks);
    assert.is((await storedBytes(repo)).get('two'), 0);
    await writeFile(join(repo.source, 'docs', 'readme.txt'), 'changed\n');
    const third = await repo.run('create', 'three', repo.source, '--rescan-delay', '0');
    assert.match(third.stdout, /11 files \(1 read, \d+ unchanged\)/);
  }));

test('a file dated after 2262 (beyond 64 bits of nanoseconds) is backed up, verified and restored with its time', () =>
  withTestRepo('far-future', async (repo) => {
    const source = join(repo.dir, 'future');
    const path = join(source, 'future.txt');
    await mkdir(source);
    await writeFile(path, 'from the future\n');
    // 2300-01-01, and 0.25 s: ext4 keeps such times, and nanoseconds since 1970 need 65 bits.
    const seconds = 10_413_792_000.25;
    await utimes(path, seconds, seconds);
    assertOk(await repo.run('create', 'one', source, '--rescan-delay', '0'), 'create one');
    const second = await repo.run('create', 'two', source, '--rescan-delay', '0');
    assertOk(second, 'create two');
    // A file modified "after" the run started may still change within that mtime: never taken from the cache.
    assert.match(second.stdout, /1 file \(1 read, 0 unchanged\)/);
    assertOk(await repo.run('verify', 'two'), 'verify');
    const target = join(repo.dir, 'restored');
    assertOk(await repo.run('restore', 'two', target), 'restore');
    assert.is((await lstat(join(target, 'future.txt'))).mtimeMs, seconds * 1000);
  }));

test('a file, a folder and a symlink dated before 1970 restore with their times, which restore --overwrite if-changed then finds unchanged', () =>
  withTestRepo('before-1970', async (repo) => {
    const source = join(repo.dir, 'old');
    await mkdir(join(source, 'folder'), { recursive: true });
    await writeFile(join(source, 'folder', 'old.txt'), 'from 1960\n');
    await symlink('folder/old.txt', join(source, 'link'));
    // 1960-01-01 plus 1.5 µs, 0.25 s and 0.75 s: negative times, one within a microsecond.
    await exec('touch', ['-m', '-d', '1960-01-01 00:00:00.0000015', join(source, 'folder', 'old.txt')]);
    await exec('touch', ['-h', '-m', '-d', '1960-01-01 00:00:00.25', join(source, 'link')]);
    await exec('touch', ['-m', '-d', '1960-01-01 00:00:00.75', join(source, 'folder')]);
    assertOk(await repo.run('create', 'old', source), 'create');
    const target = join(repo.dir, 'restored');
    assertOk(await repo.run('restore', 'old', target), 'restore');
    const restored = await describeTree(target);
    assert.equal(restored, await describeTree(source));
    assert.ok((restored.get('folder/old.txt')?.mtimeUs ?? 0n) < 0n, 'before 1970, not the time of the restore');
    const again = await repo.run('restore', 'old', target, '--overwrite', 'if-changed');
    assertOk(again, 'restore --overwrite if-changed');
    assert.match(again.stdout, /restored 0 files, .*; kept 2 files and symlinks already there/);
  }));

test('the cache never hides blocks another backend, or a damaged one, lacks', () =>
  withTestRepo('two-backends', async (repo) => {
    const source = await describeTree(repo.source);
    assertOk(await repo.run('create', 'a', repo.source), 'create on the first backend');
    const second = join(repo.dir, 'second-backend');
    const other = await repo.run('create', 'b', repo.source, '--backend', second);
    assertOk(other, 'create on the second backend');
    assert.match(other.stdout, /\(\d+ read, 0 unchanged\)/, 'another backend has a cache of its own');
    // Half of the first backend's blocks disappear; a copy of what is left becomes a third.
    const blockFiles = await objectFiles(repo.backend, 'blocks');
    for (const file of blockFiles.filter((_, i) => i % 2 === 0)) await unlink(file);
    const third = join(repo.dir, 'half-copy');
    await cp(repo.backend, third, { recursive: true });
    for (const [name, backend] of [['a2', repo.backend], ['c', third], ['b2', second]] as const) {
      assertOk(await repo.run('create', name, repo.source, '--backend', backend), `create ${name}`);
      assertOk(await repo.run('verify', name, '--backend', backend), `verify ${name}`);
      const target = join(repo.dir, `restore-${name}`);
      assertOk(await repo.run('restore', name, target, '--backend', backend), `restore ${name}`);
      assert.equal(await describeTree(target), source, `restore of ${name}`);
    }
  }));

test('folders of the backend remembered in the cache never hide blocks deleted since', () =>
  withTestRepo('folder-memory', async (repo) => {
    await makeOld(repo.source);
    const source = await describeTree(repo.source);
    assertOk(await repo.run('create', 'one', repo.source, '--rescan-delay', '0'), 'create one');
    // The backend's folders settle; the next run finds every block in them and notes it.
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS + 100));
    assertOk(await repo.run('create', 'two', repo.source, '--rescan-delay', '0'), 'create two');
    const blockFiles = await objectFiles(repo.backend, 'blocks');
    const memory = await rememberedFolders(repo);
    const remembered = blockFiles.filter((file) => memory.signatureOf(relative(repo.backend, file)) !== '');
    assert.is(remembered.length, blockFiles.length, 'every block is remembered');
    for (const file of blockFiles.filter((_, i) => i % 2 === 0)) await unlink(file);
    const three = await repo.run('create', 'three', repo.source, '--rescan-delay', '0');
    assertOk(three, 'create three');
    assert.equal(await objectFiles(repo.backend, 'blocks'), blockFiles, 'the deleted blocks are stored again');
    assertOk(await repo.run('verify', 'three'), 'verify three');
    const target = join(repo.dir, 'restored');
    assertOk(await repo.run('restore', 'three', target), 'restore three');
    assert.equal(await describeTree(target), source);
  }));

/** The folder memory create keeps in the test repo's cache for its backend. */
async function rememberedFolders(repo: TestRepo): Promise<FolderMemory> {
  const cacheDir = join(repo.dir, 'cache');
  const [database] = await readdir(cacheDir);
  const cache = await FileCache.open(join(cacheDir, database as string));
  try {
    const notes = await cache.readBackendNotes();
    return FolderMemory.decode(notes.get(pathToFileURL(repo.backend).href) ?? Buffer.from('none'));
  } finally {
    await cache.close();
  }
}

test('cache records of files and folders no longer in the tree are cleaned out; the cache folder is never backed up', () =>
  withTestRepo('cache-clean', async (repo) => {
    const cacheDir = join(repo.source, 'inner-cache');
    const run = (name: string) => repo.run('create', name, repo.source, '--cache-dir', cacheDir, '--rescan-delay', '0');
    await makeOld(repo.source);
    assertOk(await run('one'), 'create one');
    await unlink(join(repo.source, 'private.txt'));
    await rm(join(repo.source, 'dir with spaces'), { recursive: true });
    assertOk(await run('two'), 'create two');
    const [database] = await readdir(cacheDir);
    const db = new Level<string, Buffer>(join(cacheDir, database as string), { valueEncoding: 'buffer' });
    try {
      const records = new Map(await db.iterator().all());
      assert.ok(records.has(join(repo.source, 'docs', 'nested', 'deeper')));
      assert.not.ok(records.has(join(repo.source, 'dir with spaces')), 'record of a deleted folder is gone');
      const root = FolderRecord.decode(records.get(repo.source) as Buffer);
      assert.ok(root?.files().has('big.bin'));
      assert.not.ok(root?.files().has('private.txt'), 'a deleted file is gone from its folder record');
      assert.not.ok([...records.keys()].some((key) => key.startsWith(cacheDir)));
    } finally {
      await db.close();
    }
    const target = join(repo.dir, 'restored');
    assertOk(await repo.run('restore', 'two', target), 'restore');
    assert.not.ok((await readdir(target)).includes('inner-cache'));
  }));

test('a backend folder inside the tree being backed up is left out, so a backup never stores the backend itself', () =>
  withTestRepo('backend-inside', async (repo) => {
    const inner = join(repo.source, 'inner-backend');
    const run = (name: string) => repo.run('create', name, repo.source, '--backend', `file://${inner}`, '--rescan-delay', '0');
    const first = await run('one');
    assertOk(first, 'create one');
    const second = await run('two');
    assertOk(second, 'create two');
    // The same 11 files both times: the objects of the first run are not files of the second.
    for (const created of [first, second]) assert.match(created.stdout, /created: 11 files/);
    const target = join(repo.dir, 'restored');
    assertOk(await repo.run('restore', 'two', target, '--backend', inner), 'restore');
    assert.not.ok((await readdir(target)).includes('inner-backend'));
  }));

test('a folder reused whole from the cache still shows changes below it, other options, missing blocks and link warnings', () =>
  withTestRepo('reuse', async (repo) => {
    await makeOld(repo.source);
    const run = (name: string, ...args: string[]) => repo.run('create', name, repo.source, '--rescan-delay', '0', ...args);
    assertOk(await run('one'), 'create one');
    const two = await run('two');
    assertOk(two, 'create two');
    assert.match(two.stdout, /\(0 read, \d+ unchanged\)/);
    assert.match(two.stderr, /dangling -> does\/not\/exist: the link is backed up, but what it points to is excluded or missing/);
    const same = await repo.run('diff', 'one', 'two');
    assertOk(same, 'diff');
    assert.is(same.stdout, '', 'the reused trees are the trees a full walk writes');
    const restoresAsSource = async (name: string, excluded: (path: string) => boolean = () => false) => {
      const expected = new Map([...(await describeTree(repo.source))].filter(([path]) => !excluded(path)));
      assert.equal(await describeTree(await restored(repo, name)), expected, `restore of ${name}`);
    };
    // A file changed two folders down: its folder and those above it are written anew.
    await writeFile(join(repo.source, 'docs', 'nested', 'deeper', 'note.md'), 'changed deep down\n');
    assertOk(await run('three'), 'create three');
    await restoresAsSource('three');
    // The same listings under other options are walked again.
    assertOk(await run('four', '--exclude', '*.txt'), 'create four');
    await restoresAsSource('four', (path) => path.endsWith('.txt'));
    // Every block gone from the backend: nothing can be reused, everything is stored again.
    for (const file of await objectFiles(repo.backend, 'blocks')) await unlink(file);
    const five = await run('five');
    assertOk(five, 'create five');
    // All but the empty file, which has no blocks, and two more links to a file read once.
    assert.match(five.stdout, /11 files \(8 read, 1 unchanged\)/);
    assertOk(await repo.run('verify', 'five'), 'verify five');
    await restoresAsSource('five');
  }));

/** Runs create, calling `during` once stderr shows `signal`; resolves with the exit status and output. */
function createWatching(repo: TestRepo, args: string[], signal: RegExp, during: () => Promise<void>) {
  return new Promise<{ status: number; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [PRESERVE_BIN, 'create', '--keyfile', repo.keyfile, '--backend', repo.backend, '--verbose', ...args], {
      env: { ...process.env, PRESERVE_CACHE_DIR: join(repo.dir, 'cache') },
    });
    let stdout = '';
    let stderr = '';
    let triggered = false;
    child.stdout.on('data', (data) => (stdout += data));
    child.stderr.on('data', (data) => {
      stderr += data;
      if (!triggered && signal.test(stderr)) {
        triggered = true;
        during().catch(reject);
      }
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status: status ?? 1, stdout, stderr }));
  });
}

test('a file changed after it was read is read again after the rescan', () =>
  withTestRepo('rescan', async (repo) => {
    const path = join(repo.source, 'docs', 'readme.txt');
    // Just written, so that its read makes the re-check wait (a file left alone for longer does not).
    await writeFile(path, 'written just before the backup\n');
    const result = await createWatching(repo, ['edited', repo.source, '--rescan-delay', '3000'], /pausing \d+ ms, then checking the \d+ files read for changes/, () =>
      writeFile(path, 'edited during the backup\n'),
    );
    assertOk(result, 'create');
    assert.match(result.stderr, /1 file changed during the backup \(.*readme\.txt\); reading again/);
    const target = join(repo.dir, 'restored');
    assertOk(await repo.run('restore', 'edited', target, 'docs/readme.txt'), 'restore');
    assert.is(await readFile(join(target, 'docs', 'readme.txt'), 'utf8'), 'edited during the backup\n');
  }));

test('the re-check of the files read waits only after reading a file that had just changed', () =>
  withTestRepo('rescan-wait', async (repo) => {
    const delayMs = 400;
    // Nothing in the tree has changed for longer than the delay (ctime included).
    await new Promise((done) => setTimeout(done, delayMs + 100));
    const quiet = await repo.run('create', 'quiet', repo.source, '--rescan-delay', String(delayMs), '--verbose');
    assertOk(quiet, 'create quiet');
    assert.match(quiet.stderr, /preserve: checking the \d+ files read for changes/);
    assert.not.match(quiet.stderr, /pausing/);
    await writeFile(join(repo.source, 'docs', 'readme.txt'), 'just changed\n');
    const fresh = await repo.run('create', 'fresh', repo.source, '--rescan-delay', '3000', '--verbose');
    assertOk(fresh, 'create fresh');
    assert.match(fresh.stderr, /preserve: pausing \d+ ms, then checking the \d+ files read for changes/);
  }));

test('a file that keeps changing while it is read is reported and left out', () =>
  withTestRepo('churn', async (repo) => {
    await rm(join(repo.source, 'big.bin'));
    const path = join(repo.source, 'churning.bin');
    await writeFile(path, seededBytes(30, 64 * MiB));
    // Appended to without a pause, so that no read of it can find it still: rewriting it whole
    // left it still between rewrites (while the next 64 MiB were made) and empty just after
    // each truncation, long enough for a read to slip in (a flaky test).
    const more = seededBytes(31, 4096);
    let writing = true;
    const writer = (async () => {
      while (writing) await appendFile(path, more);
    })();
    let result;
    try {
      result = await repo.run('create', 'churn', repo.source, '--rescan-delay', '0');
    } finally {
      writing = false;
      await writer;
    }
    assert.is(result.status, 1, result.stderr);
    assert.match(result.stderr, /churning\.bin: it changed while being read, 3 times in a row/);
    assert.match(result.stderr, /1 entry could not be read/);
  }));

test('--exclude-caches leaves out folders with a true CACHEDIR.TAG, --exclude-if-present those holding the name; the folder backed up is kept', () =>
  withTestRepo('exclude-tags', async (repo) => {
    const signature = 'Signature: 8a477f597d28d172789f06886806bc55';
    await mkdir(join(repo.source, 'cache', 'deep'), { recursive: true });
    await writeFile(join(repo.source, 'cache', 'CACHEDIR.TAG'), `${signature}\n# a cache\n`);
    await writeFile(join(repo.source, 'cache', 'deep', 'junk.bin'), seededBytes(40, 1000));
    await mkdir(join(repo.source, 'not-a-cache'));
    await writeFile(join(repo.source, 'not-a-cache', 'CACHEDIR.TAG'), 'Signature: something else\n');
    await writeFile(join(repo.source, 'docs', 'nested', '.nobackup'), '');
    await makeOld(repo.source);
    const tags = ['--exclude-caches', '--exclude-if-present', '.nobackup'];
    const archived = async (name: string) => {
      const listed = await repo.run('list', name, '--json');
      assertOk(listed, `list ${name}`);
      return listed.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { path: string }).path);
    };

    assertOk(await repo.run('create', 'tagged', repo.source, ...tags, '--rescan-delay', '0'), 'create tagged');
    const tagged = await archived('tagged');
    assert.not.ok(tagged.some((path) => path === 'cache' || path.startsWith('cache/')), 'the cache folder is left out whole');
    assert.not.ok(tagged.some((path) => path.startsWith('docs/nested')), 'the folder holding .nobackup is left out whole');
    assert.ok(tagged.includes('not-a-cache/CACHEDIR.TAG'), 'a tag without the signature leaves its folder in');
    assert.ok(tagged.includes('docs/readme.txt'));

    // The same flags again: nothing is read, and the archive holds the same entries.
    const again = await repo.run('create', 'again', repo.source, ...tags, '--rescan-delay', '0');
    assertOk(again, 'create again');
    assert.match(again.stdout, /\(0 read, \d+ unchanged\)/);
    assert.equal(await archived('again'), tagged);

    assertOk(await repo.run('create', 'untagged', repo.source, '--rescan-delay', '0'), 'create untagged');
    assert.ok((await archived('untagged')).includes('cache/deep/junk.bin'), 'without the flags, the cache is backed up');
    assertOk(await repo.run('create', 'itself', join(repo.source, 'cache'), ...tags, '--rescan-delay', '0'), 'create itself');
    assert.equal(await archived('itself'), ['CACHEDIR.TAG', 'deep', 'deep/junk.bin']);
  }));

test('--exclude-file patterns, and warnings for links whose targets are not backed up', () =>
  withTestRepo('exclude-file', async (repo) => {
    const patterns = join(repo.dir, 'excludes');
    await writeFile(patterns, '# build output\n*.bin\n\nnested\n');
    const created = await repo.run('create', 'x', repo.source, '--exclude-file', patterns, '--rescan-delay', '0');
    assertOk(created, 'create');
    assert.match(created.stderr, /link-to-folder -> docs\/nested: the link is backed up, but what it points to is excluded or missing/);
    assert.match(created.stderr, /dangling -> does\/not\/exist: the link is backed up, but what it points to is excluded or missing/);
    const facts = await describeTree(await restored(repo, 'x'));
    assert.not.ok(facts.has('big.bin'));
    assert.not.ok(facts.has('docs/nested'));
    assert.ok(facts.has('docs/readme.txt'));
    const missing = await repo.run('create', 'y', repo.source, '--exclude-file', join(repo.dir, 'nope'));
    assert.is(missing.status, 2);
    assert.match(missing.stderr, /cannot read exclude file .*nope: ENOENT/);
  }));

test('--exclude-larger-than leaves out larger files only; the cache keeps runs with and without it apart; a bad size is exit 2', () =>
  withTestRepo('exclude-larger', async (repo) => {
    // The fixture's big.bin is 3 MiB and 12,345 bytes; every other file is under 1 KiB.
    const everything = await describeTree(repo.source);
    assertOk(await repo.run('create', 'all', repo.source), 'create without the option');
    assert.ok((await describeTree(await restored(repo, 'all'))).has('big.bin'));
    assertOk(await repo.run('create', 'small', repo.source, '--exclude-larger-than', '3M'), 'create');
    const small = await describeTree(await restored(repo, 'small'));
    // The run before left every folder in the cache as unchanged: reused whole, they would still hold big.bin.
    assert.equal([...everything.keys()].filter((path) => !small.has(path)), ['big.bin']);
    assert.ok(small.has('docs/link-to-file') && small.has('link-to-folder') && small.has('docs/nested'), 'links and folders are kept');
    assertOk(await repo.run('create', 'roomier', repo.source, '--exclude-larger-than', '3100K'), 'create under a larger bound');
    assert.ok((await describeTree(await restored(repo, 'roomier'))).has('big.bin'));
    for (const size of ['0', 'big', '-1']) {
      const refused = await repo.run('create', 'bad', repo.source, '--exclude-larger-than', size);
      assert.is(refused.status, 2, size);
      assert.match(refused.stderr, /--exclude-larger-than <size>' argument .* is invalid\. expected a size such as 500K, 100M or 2G/);
    }
  }));

test('create --dry-run stores nothing and reports what the real run then does', () =>
  withTestRepo('dry-run', async (repo) => {
    assertOk(await repo.run('create', 'first', repo.source), 'create');
    await writeFile(join(repo.source, 'new.bin'), seededBytes(31, 2 * MiB));
    const backendFiles = () => readdir(repo.backend, { recursive: true });
    const before = (await backendFiles()).sort();
    const dry = await repo.run('create', 'second', repo.source, '--dry-run');
    assertOk(dry, 'dry run');
    const planned = /^dry run: archive "second" would hold (.*) and add (.*) to the backend; nothing was stored \([\d.]+ s\)$/m.exec(dry.stdout);
    assert.ok(planned, dry.stdout);
    assert.equal((await backendFiles()).sort(), before);
    assert.equal(
      (JSON.parse((await repo.run('list', '--json')).stdout) as { name: string }[]).map((a) => a.name),
      ['first'],
    );
    const real = await repo.run('create', 'second', repo.source);
    assertOk(real, 'create');
    // Files, what was read and what was not, folders, symlinks, bytes, and the bytes stored: all as the dry run said.
    assert.ok(real.stdout.includes(`created: ${planned[1]} (${planned[2]} newly stored)`), `${real.stdout} against ${planned[0]}`);
    assert.not.match(planned[2] as string, /^0 B$/);
    const refused = await repo.run('create', 'third', '-', '--dry-run');
    assert.is(refused.status, 2);
    assert.match(refused.stderr, /^preserve: --dry-run is for paths: a stream read for nothing could not be read again$/m);
  }));

async function restored(repo: TestRepo, name: string, ...args: string[]): Promise<string> {
  const target = join(repo.dir, `restored-${name}-${args.join('')}`);
  const result = await repo.run('restore', name, target, ...args);
  assert.is(result.status, 0, result.stderr);
  return target;
}

test('restore --dereference writes what links point to; --hard-dereference separates hardlinks', () =>
  withTestRepo('restore-deref', async (repo) => {
    await symlink('..', join(repo.source, 'docs', 'nested', 'up'));
    await symlink(join(repo.source, 'docs', 'readme.txt'), join(repo.source, 'absolute-link'));
    await symlink('/etc/hostname', join(repo.source, 'outside-link'));
    assertOk(await repo.run('create', 'd', repo.source, '--rescan-delay', '0'), 'create');
    const deref = join(repo.dir, 'deref');
    const result = await repo.run('restore', 'd', deref, '--dereference');
    assertOk(result, 'restore --dereference');
    const facts = await describeTree(deref);
    for (const link of ['docs/link-to-file', 'absolute-link']) {
      assert.is(facts.get(link)?.type, 'file', link);
      assert.is(await readFile(join(deref, link), 'utf8'), 'hello, preserve\n');
    }
    assert.is(facts.get('link-to-folder')?.type, 'directory');
    assert.is(facts.get('link-to-folder/deeper/note.md')?.sha256, facts.get('docs/nested/deeper/note.md')?.sha256);
    assert.is(facts.get('dangling')?.type, 'symlink');
    assert.is(facts.get('outside-link')?.type, 'symlink');
    assert.match(result.stderr, /dangling -> does\/not\/exist: kept as a symlink, its target is not in the archive/);
    assert.match(result.stderr, /outside-link -> \/etc\/hostname: kept as a symlink, its target is not in the archive/);
    assert.match(result.stderr, /up -> \.\.: kept as a symlink, it points to a folder that contains it/);
    const separate = await describeTree(await restored(repo, 'd', '--hard-dereference'));
    for (const path of ['docs/linked-c', 'docs/nested/linked-b']) {
      assert.is(separate.get(path)?.linkedTo, undefined, `${path} is a file of its own`);
      assert.is(separate.get(path)?.sha256, separate.get('docs/linked-a')?.sha256);
    }
  }));

test.run();
