/**
 * Damaged backends: flipped bytes, truncated, deleted and swapped blocks, a damaged folder
 * object and damaged archive objects. verify names every one; restore restores everything
 * else and exits 1; the mount answers EIO for the affected files only; nothing ever
 * returns wrong bytes.
 */
import { copyFile, mkdir, readFile, readdir, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ByteReader, ByteWriter } from '../src/archive/codec.js';
import { type TestRepo, assertOk, flipByte, objectFiles, objectFilesOf, withTestRepo } from './cli-support.js';
import { mustRunMountTests, withMount } from './mount-support.js';
import { describeTree } from './support.js';

/** Files whose blocks are damaged, each in its own way, and a folder whose tree is. */
const DAMAGED_FILES = ['docs/readme.txt', 'private.txt', 'dir with spaces/file with spaces.txt', 'ünïcødé-目录/ファイル.txt'];
const DAMAGED_FOLDER = 'docs/nested/deeper';

/** Damages one archive's objects: flipped, truncated, deleted and swapped blocks, a flipped tree. */
async function damage(repo: TestRepo, archive: string): Promise<string[]> {
  const [flipped, truncated, deleted, swapped] = await Promise.all(DAMAGED_FILES.map(async (path) => (await objectFilesOf(repo, archive, path))[0] as string));
  const [tree] = await objectFilesOf(repo, archive, DAMAGED_FOLDER);
  await flipByte(flipped as string, 2);
  await truncate(truncated as string, 3);
  await unlink(deleted as string);
  // A valid block of another file under this block's name: whole, authentic, and wrong.
  await copyFile(((await objectFilesOf(repo, archive, 'big.bin'))[0]) as string, swapped as string);
  await flipByte(tree as string, 20);
  return [flipped, truncated, deleted, swapped, tree].map((path) => (path as string).slice(repo.backend.length + 1));
}

/** What a restore or copy should hold: the source without the damaged files and the damaged folder's content. */
async function expectedAfterDamage(source: string): Promise<Map<string, unknown>> {
  const facts = await describeTree(source);
  for (const path of [...DAMAGED_FILES, `${DAMAGED_FOLDER}/note.md`]) facts.delete(path);
  return withoutFolders(facts);
}

/** Folder attributes are checked elsewhere; a folder that lost a child may differ in mtime. */
function withoutFolders<T extends { type: string }>(facts: Map<string, T>): Map<string, T> {
  return new Map([...facts].filter(([, entry]) => entry.type !== 'directory'));
}

test('verify names every damaged block and folder with the paths that use them, in every archive; exit 1', () =>
  withTestRepo('damage-verify', async (repo) => {
    assertOk(await repo.run('create', 'a', repo.source), 'create');
    // The same folders again: b shares every tree and block with a.
    assertOk(await repo.run('create', 'b', repo.source), 'create');
    const keys = await damage(repo, 'a');
    const result = await repo.run('verify');
    assert.is(result.status, 1, result.stderr);
    for (const key of keys) assert.match(result.stdout, `${key.slice(key.lastIndexOf('/') + 1)}: `);
    for (const archive of ['a', 'b']) {
      for (const path of DAMAGED_FILES) assert.match(result.stdout, `  used by ${archive}:/${path}\n`);
      assert.match(result.stdout, `  used by ${archive}:/${DAMAGED_FOLDER}\n`);
    }
    assert.match(result.stdout, /is missing from the backend/);
    assert.match(result.stdout, /; 5 problems\n/);
  }));

test('verify lists 20 of the files using a damaged block, then says there are more', () =>
  withTestRepo('damage-verify-shared', async (repo) => {
    const shared = join(repo.dir, 'shared');
    const names = Array.from({ length: 21 }, (_, i) => `copy-${String(i).padStart(2, '0')}.txt`);
    await mkdir(join(shared, 'more'), { recursive: true });
    // Twenty-one files with one content, in two folders: one block, twenty-one uses.
    for (const [i, name] of names.entries()) await writeFile(join(shared, i % 2 ? 'more' : '', name), 'the same words in every copy\n');
    assertOk(await repo.run('create', 'copies', shared), 'create');
    const [block] = await objectFilesOf(repo, 'copies', names[0] as string);
    await unlink(block as string);
    const result = await repo.run('verify');
    assert.is(result.status, 1, result.stderr);
    const listed = result.stdout.split('\n').filter((line) => line.startsWith('  used by '));
    assert.is(listed.length, 21, result.stdout);
    assert.is(new Set(listed).size, 21, 'each path once');
    assert.is(listed[20], '  used by … and more');
    for (const line of listed.slice(0, 20)) assert.match(line, /^ {2}used by copies:\/(more\/)?copy-\d\d\.txt$/);
    assert.match(result.stdout, /1 of 1 block; 1 problem\n/);
  }));

test('verify --repair removes what fails authentication, never what is only missing; a create of the same folders then mends the archive', () =>
  withTestRepo('damage-repair', async (repo) => {
    assertOk(await repo.run('create', 'a', repo.source), 'create');
    const [flipped, truncated, deleted, swapped, tree] = await damage(repo, 'a');
    const exists = (key: string | undefined) => stat(join(repo.backend, key as string)).then(() => true, () => false);
    assert.is((await repo.run('verify')).status, 1);
    assert.ok(await exists(flipped), 'verify alone removes nothing');

    const repair = await repo.run('verify', '--repair');
    assert.is(repair.status, 1, 'the archive is still damaged until a create stores the objects again');
    for (const key of [flipped, truncated, swapped, tree]) {
      assert.ok(repair.stdout.includes(`removed ${key as string}\n`), key);
      assert.not.ok(await exists(key), key);
    }
    assert.not.ok(repair.stdout.includes(`removed ${deleted as string}`));
    assert.match(repair.stdout, /removed 4 objects that failed authentication; the next create of the folders that hold their content stores them again/);

    assertOk(await repo.run('create', 'b', repo.source), 'create of the same folders');
    assertOk(await repo.run('verify'), 'verify after the create');
    const target = join(repo.dir, 'restored');
    assertOk(await repo.run('restore', 'a', target), 'restore of the mended archive');
    assert.equal(await describeTree(target), await describeTree(repo.source));
  }));

test('restore brings back everything undamaged, leaves out the damaged files, and exits 1', () =>
  withTestRepo('damage-restore', async (repo) => {
    assertOk(await repo.run('create', 'a', repo.source), 'create');
    await damage(repo, 'a');
    const target = join(repo.dir, 'restored');
    const result = await repo.run('restore', 'a', target);
    assert.is(result.status, 1, result.stderr);
    for (const path of [...DAMAGED_FILES, DAMAGED_FOLDER]) assert.match(result.stderr, `${target}/${path}: `);
    assert.match(result.stderr, /5 entries could not be restored/);
    assert.equal(withoutFolders(await describeTree(target)), await expectedAfterDamage(repo.source));
    assert.equal(await readdir(join(target, DAMAGED_FOLDER)), []);
  }));

(mustRunMountTests ? test : test.skip)('the mount answers EIO for the damaged files and folder only, and the right bytes for the rest', () =>
  withTestRepo('damage-mount', async (repo) => {
    assertOk(await repo.run('create', 'a', repo.source), 'create');
    await damage(repo, 'a');
    await withMount(repo, ['a'], async (mountpoint) => {
      for (const path of DAMAGED_FILES) {
        assert.is((await stat(join(mountpoint, path))).size, (await stat(join(repo.source, path))).size, `${path}: attributes come from its folder`);
        const read = await readFile(join(mountpoint, path)).then(() => 'read', (error: NodeJS.ErrnoException) => error.code);
        assert.is(read, 'EIO', path);
      }
      const listing = await readdir(join(mountpoint, DAMAGED_FOLDER)).then(() => 'listed', (error: NodeJS.ErrnoException) => error.code);
      assert.is(listing, 'EIO');
      const source = await expectedAfterDamage(repo.source);
      for (const [path, facts] of source) {
        if ((facts as { type: string }).type !== 'file') continue;
        assert.ok((await readFile(join(mountpoint, path))).equals(await readFile(join(repo.source, path))), path);
      }
    });
  }));

/** The parts of an archive object (docs/FORMAT.md §Archive object). */
function splitArchiveObject(bytes: Buffer): { header: Buffer; name: Buffer; metadata: Buffer } {
  const input = new ByteReader(bytes, 'archive object');
  const header = input.raw(8);
  const name = input.bytes(4096);
  return { header, name, metadata: input.rest() };
}

test('damaged archive objects are named and left out by list, verify and restore; the others still work', () =>
  withTestRepo('damage-archives', async (repo) => {
    for (const name of ['good', 'bad-metadata', 'bad-name', 'grafted']) assertOk(await repo.run('create', name, repo.source, '--exclude', 'big.bin'), `create ${name}`);
    const keyOf = async (name: string): Promise<string> => {
      const json = JSON.parse((await repo.run('list', '--json')).stdout) as { name: string; id: string }[];
      return `archives/${json.find((archive) => archive.name === name)?.id}`;
    };
    const [badMetadata, badName, grafted, good] = await Promise.all(['bad-metadata', 'bad-name', 'grafted', 'good'].map(keyOf));
    const bytes = async (key: string | undefined): Promise<Buffer> => readFile(join(repo.backend, key as string));
    await flipByte(join(repo.backend, badMetadata as string), (await bytes(badMetadata)).length - 1);
    await flipByte(join(repo.backend, badName as string), 10);
    // Another archive's metadata, authentic in itself, under this archive's name: aad = ArchiveId refuses it.
    const own = splitArchiveObject(await bytes(grafted));
    const other = splitArchiveObject(await bytes(good));
    await writeFile(join(repo.backend, grafted as string), new ByteWriter().raw(own.header).bytes(own.name).raw(other.metadata).finish());

    const list = await repo.run('list');
    assert.is(list.status, 1, list.stderr);
    assert.match(list.stdout, /^good\s/m);
    for (const key of [badMetadata, badName, grafted]) assert.match(list.stderr, `preserve: ${key}: `);
    assert.match(list.stderr, /3 archive objects are damaged/);
    assert.not.match(list.stderr, /keyfile/);

    const verify = await repo.run('verify');
    assert.is(verify.status, 1);
    for (const key of [badMetadata, badName, grafted]) assert.match(verify.stdout, `archive object ${key}: `);
    assert.match(verify.stdout, /checked 1 archive: .*; 3 problems/);

    for (const name of ['bad-metadata', 'bad-name', 'grafted']) {
      const restore = await repo.run('restore', name, join(repo.dir, name));
      assert.is(restore.status, 1, `${name}: ${restore.stderr}`);
      assert.match(restore.stderr, /failed authentication/);
    }
    assertOk(await repo.run('restore', 'good', join(repo.dir, 'good')), 'restore good');
    if (mustRunMountTests) {
      await withMount(repo, [], async (mountpoint, mount) => {
        assert.equal(await readdir(mountpoint), ['good', 'latest']);
        for (const key of [badMetadata, badName, grafted]) assert.match(mount.stderr, `preserve: ${key}: `);
        assert.equal(await mount.stop(), { code: 1, signal: null }, 'damaged archive objects make the mount end with exit 1');
      });
    }
    assertOk(await repo.run('create', 'later', repo.source), 'create after the damage');
    assert.ok((await objectFiles(repo.backend, 'archives')).length === 5);
  }));

test.run();
