/**
 * Hostile archives, written with Preserve's own encoder and stored with the key (what an
 * attacker who holds the key, or a buggy writer, could produce): unsafe names, a symlink
 * and then a file through it, sizes that disagree with the blocks, extreme owners and
 * times, names longer than any file system allows, and very deep nesting. Restore never
 * writes outside its target, the mount never shows an unsafe name, and the decoder refuses
 * each malformed tree with a FormatError.
 */
import { mkdir, open, readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type ArchiveMetadata, type Entry, NO_XATTRS, decodeTree, encodeTree } from '../src/archive/index.js';
import { FormatError } from '../src/errors/index.js';
import type { Repository } from '../src/repository/index.js';
import { asId } from '../src/store/ids.js';
import { type TestRepo, assertOk, openTestRepository, withTestRepo } from './cli-support.js';
import { mustRunMountTests, withMount } from './mount-support.js';

const ATTRIBUTES = { mode: 0o644, uid: 0, gid: 0, mtimeNs: 1_600_000_000_000_000_000n, xattrs: NO_XATTRS } as const;
/** Names the decoder must refuse, each put in a folder of its own. */
const UNSAFE_NAMES = ['..', '.', '', '/etc/passwd', 'a/../../b', 'nul\0byte'];

/** Builds entries and archives straight from the encoder, bypassing create's checks. */
class HostileWriter {
  constructor(private readonly repository: Repository) {}

  async file(name: string, content: string, extra: Partial<Entry> = {}): Promise<Entry> {
    const id = await this.repository.blocks.put(Buffer.from(content));
    return { ...ATTRIBUTES, name, type: 'file', size: content.length, linkGroup: 0, chunks: [{ id, length: content.length }], ...extra } as Entry;
  }

  /** A folder whose entries are encoded as given: unsorted, repeated or unsafe if so given. */
  async folder(name: string, entries: readonly Entry[]): Promise<Entry> {
    const id = await this.repository.trees.put(encodeTree(entries));
    return { ...ATTRIBUTES, mode: 0o755, name, type: 'directory', tree: id };
  }

  symlink(name: string, target: string): Entry {
    return { ...ATTRIBUTES, mode: 0o777, name, type: 'symlink', target };
  }

  async archive(name: string, entries: readonly Entry[]): Promise<void> {
    const root = await this.folder('', entries);
    if (root.type !== 'directory') throw new Error('a folder entry is a directory');
    const metadata: ArchiveMetadata = {
      name,
      sourcePath: '/hostile',
      hostname: 'attacker',
      createdAtNs: BigInt(Date.now()) * 1_000_000n,
      root,
      totals: { files: 0, directories: 0, symlinks: 0, bytes: 0, storedBytes: 0, skipped: 0, xattrEntries: 0 },
      userNames: new Map(),
      groupNames: new Map(),
      linkGroupSizes: new Map(),
    };
    await this.repository.flush();
    await this.repository.catalog.write(metadata);
  }
}

/** Writes the archives the tests share and returns the folder that must stay empty. */
async function writeHostileArchives(repo: TestRepo): Promise<string> {
  const outside = join(repo.dir, 'outside');
  await mkdir(outside);
  const w = new HostileWriter(await openTestRepository(repo));
  const evil = await Promise.all(UNSAFE_NAMES.map(async (name, i) => w.folder(`evil-${i}`, [await w.file(name, 'escaped!\n')])));
  const { chunks } = (await w.file('x', 'ten bytes!')) as Entry & { type: 'file' };
  const [small] = chunks;
  // 16384 chunks each said to hold 64 MiB, all pointing at one 10-byte block: "1 TiB".
  const huge = await w.file('huge.bin', '', { size: 2 ** 40, chunks: Array.from({ length: 16384 }, () => ({ id: small?.id, length: 64 * 2 ** 20 })) } as Partial<Entry>);
  const extremes = await w.file('extremes.txt', 'odd\n', { uid: 2 ** 31 + 7, gid: 0, mode: 0o7777, mtimeNs: 2n ** 63n - 1n } as Partial<Entry>);
  // chown, stat and FUSE take 32-bit ids: 2^32 + 5 would show as 5, 2^40 as 0 (root).
  const wideOwner = await w.folder('wide-owner', [await w.file('owned.txt', 'x', { uid: 2 ** 32 + 5, gid: 2 ** 40 } as Partial<Entry>)]);
  const longNames = await w.folder('long-names', [await w.file('m'.repeat(2000), 'long\n'), await w.file('n'.repeat(300), 'long\n')]);
  await w.archive('hostile', [...evil, extremes, huge, longNames, wideOwner, await w.file('ok.txt', 'fine\n')].sort((a, b) => (a.name < b.name ? -1 : 1)));
  // A symlink to outside the target, and in a later archive a folder of that name with a file in it.
  await w.archive('door-link', [w.symlink('door', outside)]);
  await w.archive('door-folder', [await w.folder('door', [await w.file('pwned.txt', 'through the link\n')])]);
  // The same within one folder: the decoder refuses a repeated name.
  await w.archive('door-both', [w.symlink('door', outside), await w.folder('door', [await w.file('pwned.txt', 'x')])]);
  let deep = await w.file('bottom.txt', 'deep\n');
  // 300 levels of 15-character names: a path of 4800 characters, beyond PATH_MAX (4096).
  for (let depth = 0; depth < 300; depth++) deep = await w.folder('nesting-level-1', [deep]);
  await w.archive('deep', [deep]);
  // One folder holding the same tree twice, 64 times over: 2^64 paths from 65 objects,
  // down to a file whose block was never stored.
  const missing = (await w.file('leaf.bin', 'never stored')) as Entry & { type: 'file' };
  let bomb = await w.folder('x', [{ ...missing, chunks: missing.chunks.map((c) => ({ ...c, id: asId(Buffer.alloc(32, 9), 'block') })) }]);
  for (let level = 0; level < 64; level++) bomb = await w.folder('x', [{ ...bomb, name: 'a' }, { ...bomb, name: 'b' }]);
  await w.archive('bomb', [bomb]);
  return outside;
}

test('the decoder refuses unsafe, repeated and unordered names with a FormatError', () => {
  const entry = (name: string): Entry => ({ ...ATTRIBUTES, name, type: 'symlink', target: 'x' });
  const refuses = (entries: Entry[]) =>
    assert.throws(() => decodeTree(encodeTree(entries), 'tree t'), (error: unknown) => error instanceof FormatError, entries.map((e) => JSON.stringify(e.name)).join());
  for (const name of UNSAFE_NAMES) refuses([entry(name)]);
  refuses([entry('a'), entry('a')]);
  refuses([entry('b'), entry('a')]);
});

test('restore of hostile archives never writes outside its target, restores what is sound, and exits 1', () =>
  withTestRepo('hostile-restore', async (repo) => {
    const outside = await writeHostileArchives(repo);
    const target = join(repo.dir, 'target');
    const hostile = await repo.run('restore', 'hostile', target);
    assert.is(hostile.status, 1, hostile.stderr);
    for (let i = 0; i < UNSAFE_NAMES.length; i++) assert.match(hostile.stderr, new RegExp(`target/evil-${i}: tree [0-9a-f]{64} is malformed: entry with `));
    assert.match(hostile.stderr, /huge\.bin: block [0-9a-f]{64} is malformed: it holds 10 bytes where the folder's entry says 67108864/);
    assert.is(await readFile(join(target, 'ok.txt'), 'utf8'), 'fine\n');
    assert.match(hostile.stderr, /target\/wide-owner: tree [0-9a-f]{64} is malformed: uid of "owned.txt" 4294967301 exceeds 4294967295/);
    assert.match(hostile.stderr, /target\/long-names\/m{2000}: ENAMETOOLONG/);
    assert.not.ok((await readdir(target)).includes('huge.bin'), 'no file of the wrong size is left');
    for (let i = 0; i < UNSAFE_NAMES.length; i++) assert.equal(await readdir(join(target, `evil-${i}`)), []);
    assertOk(await repo.run('restore', 'door-link', target), 'restore door-link');
    const through = await repo.run('restore', 'door-folder', target);
    assert.is(through.status, 1);
    assert.match(through.stderr, /door: something other than a folder is in the way/);
    const both = await repo.run('restore', 'door-both', join(repo.dir, 'target-2'));
    assert.is(both.status, 1);
    assert.match(both.stderr, /is out of order or repeated/);
    const selected = await repo.run('restore', 'door-link', join(repo.dir, 'target-3'), 'door/pwned.txt');
    assert.is(selected.status, 2, 'a path through a symlink is not in the archive');
    const escape = await repo.run('restore', 'hostile', join(repo.dir, 'target-4'), '../outside');
    assert.is(escape.status, 2);
    const deep = await repo.run('restore', 'deep', join(repo.dir, 'target-deep'));
    assert.is(deep.status, 1, deep.stderr);
    assert.match(deep.stderr, /ENAMETOOLONG/);
    assert.equal(await readdir(outside), [], 'nothing was written outside the targets');
  }));

test('verify and diff handle hostile archives without crashing, naming what is wrong', () =>
  withTestRepo('hostile-verify', async (repo) => {
    await writeHostileArchives(repo);
    const verify = await repo.run('verify', 'hostile');
    assert.is(verify.status, 1, verify.stderr);
    assert.match(verify.stdout, /holds 10 bytes where the folder's entry says 67108864/);
    assert.match(verify.stdout, /; 8 problems/);
    assertOk(await repo.run('verify', 'deep'), 'verify of 300 nested folders');
    // A walk per path would never end (2^64 of them): that verify ends at all, having walked 66 folders, shows each was walked once.
    const bomb = await repo.run('verify', 'bomb');
    assert.is(bomb.status, 1, bomb.stderr);
    assert.match(bomb.stdout, /block 0909[0-9]{60}: object blocks\/09\/09\/0909[0-9]+ is missing from the backend\n(  used by bomb:\/x\/[ab\/]+\/leaf\.bin\n){20}  used by … and more\n/);
    assert.match(bomb.stdout, /checked 1 archive: 66 folders, 1 of 1 block; 1 problem$/m);
    const diff = await repo.run('diff', 'door-link', 'door-folder');
    assertOk(diff, 'diff');
    assert.equal(diff.stdout.trim().split('\n'), ['- door', '+ door/', '+ door/pwned.txt']);
  }));

(mustRunMountTests ? test : test.skip)('the mount shows no unsafe name, answers EIO for what is malformed, and serves the rest', () =>
  withTestRepo('hostile-mount', async (repo) => {
    await writeHostileArchives(repo);
    await withMount(repo, ['hostile'], async (mountpoint) => {
      const root = await readdir(mountpoint);
      assert.equal(root, ['evil-0', 'evil-1', 'evil-2', 'evil-3', 'evil-4', 'evil-5', 'extremes.txt', 'huge.bin', 'long-names', 'ok.txt', 'wide-owner']);
      const code = (work: Promise<unknown>) => work.then(() => 'ok', (error: NodeJS.ErrnoException) => error.code);
      for (let i = 0; i < UNSAFE_NAMES.length; i++) assert.is(await code(readdir(join(mountpoint, `evil-${i}`))), 'EIO', `evil-${i}`);
      assert.is((await stat(join(mountpoint, 'huge.bin'))).size, 2 ** 40);
      const handle = await open(join(mountpoint, 'huge.bin'), 'r');
      try {
        assert.is(await code(handle.read(Buffer.alloc(100), 0, 100, 2 ** 39)), 'EIO');
      } finally {
        await handle.close();
      }
      assert.is(await readFile(join(mountpoint, 'extremes.txt'), 'utf8'), 'odd\n');
      assert.is(await readFile(join(mountpoint, 'ok.txt'), 'utf8'), 'fine\n');
      assert.is(await code(readdir(join(mountpoint, 'wide-owner'))), 'EIO');
      const extremes = await stat(join(mountpoint, 'extremes.txt'));
      assert.equal([extremes.uid, extremes.mode & 0o7777], [2 ** 31 + 7, 0o7777]);
    });
  }));

test.run();
