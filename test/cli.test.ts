/**
 * End-to-end tests of the CLI on real temp folders: create, list (archives, and what one
 * holds), restore (all and a subset), verify, diff, rename, keygen, and every error the core issue names, checking exit
 * statuses, messages and that nothing is lost or half-written.
 */
import { execFile } from 'node:child_process';
import { access, appendFile, chmod, lstat, mkdir, open, readFile, readdir, rm, stat, symlink, truncate, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setAttribute } from 'fs-xattr';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { BlockSource } from '../src/archive/index.js';
import { restoreArchive } from '../src/commands/index.js';
import { idToHex } from '../src/store/ids.js';
import { assertOk, flipByte, objectFiles, objectFilesOf, openTestRepository, runAs, withTestRepo } from './cli-support.js';
import { describeTree, makeTempDir, PROJECT_ROOT, runPreserve } from './support.js';

const exec = promisify(execFile);
const isRoot = process.getuid?.() === 0;

test('create, list and restore reproduce every byte and attribute', () =>
  withTestRepo('roundtrip', async (repo) => {
    const created = await repo.run('create', 'first', repo.source);
    assertOk(created, 'create');
    assert.match(created.stdout, /archive "first" created: 11 files/);
    const listed = await repo.run('list', '--json');
    const [record] = JSON.parse(listed.stdout) as { name: string; files: number; bytes: number; source: string }[];
    assert.is(record?.name, 'first');
    assert.is(record?.source, repo.source);
    assert.is(record?.files, 11);
    const table = await repo.run('list');
    assert.match(table.stdout, /^NAME\s+CREATED\s+FILES\s+SIZE\s+ADDED\s+SOURCE\n/);
    assert.match(table.stdout, /first\s+\d{4}-\d\d-\d\dT[\d:]+Z\s+11\s+3\.0 MiB\s+3\.0 MiB\s/);
    const target = join(repo.dir, 'restored');
    assertOk(await repo.run('restore', 'first', target), 'restore');
    assert.equal(await describeTree(target), await describeTree(repo.source));
  }));

test('restore of chosen paths brings back only them and their parent folders', () =>
  withTestRepo('subset', async (repo) => {
    assertOk(await repo.run('create', 'a', repo.source), 'create');
    const target = join(repo.dir, 'part');
    assertOk(await repo.run('restore', 'a', target, 'docs/nested', '/big.bin'), 'restore');
    const restored = await describeTree(target);
    assert.equal([...restored.keys()].sort(), ['big.bin', 'docs', 'docs/nested', 'docs/nested/deeper', 'docs/nested/deeper/note.md', 'docs/nested/linked-b']);
    const source = await describeTree(repo.source);
    for (const path of ['big.bin', 'docs/nested/deeper/note.md', 'docs/nested']) assert.equal(restored.get(path), source.get(path), path);
    const missing = await repo.run('restore', 'a', join(repo.dir, 'none'), 'no/such/path');
    assert.is(missing.status, 2);
    assert.match(missing.stderr, /has no entry "no\/such\/path"/);
    await assert.not.ok(await access(join(repo.dir, 'none', 'no')).then(() => true, () => false));
  }));

test("restore --exclude and --exclude-file leave out what matches and all under it; the config file's exclude is create's only", () =>
  withTestRepo('restore-exclude', async (repo) => {
    assertOk(await repo.run('create', 'a', repo.source), 'create');
    const patterns = join(repo.dir, 'patterns');
    await writeFile(patterns, '# one per line\n\nbig.bin\n');
    const config = join(repo.dir, 'config.json');
    await writeFile(config, JSON.stringify({ exclude: ['private.txt'] }));
    const target = join(repo.dir, 'some');
    const args = ['--exclude', '*.md', '--exclude', 'docs/nested', '--exclude', 'linked-a', '--exclude-file', patterns, '--config', config];
    assertOk(await repo.run('restore', 'a', target, ...args), 'restore');
    const restored = await describeTree(target);
    const source = await describeTree(repo.source);
    const left = ['big.bin', 'docs/linked-a', 'docs/nested', 'docs/nested/deeper', 'docs/nested/deeper/note.md', 'docs/nested/linked-b'];
    assert.equal([...restored.keys()].sort(), [...source.keys()].filter((path) => !left.includes(path)).sort());
    assert.ok(restored.has('private.txt'), "the config file's exclude does not apply to restore");
    // The hardlink group's first member was left out: the next one is written with the content.
    assert.is(restored.get('docs/linked-c')?.linkedTo, undefined);
    assert.equal({ ...restored.get('docs/linked-c'), linkedTo: 'docs/linked-a' }, source.get('docs/linked-c'));
    for (const path of restored.keys()) if (path !== 'docs/linked-c') assert.equal(restored.get(path), source.get(path), path);

    const chosen = await repo.run('restore', 'a', join(repo.dir, 'chosen'), 'docs/nested/deeper', 'docs/readme.txt', '--exclude', 'nested');
    assertOk(chosen, 'restore of a path under an excluded folder');
    assert.match(chosen.stderr, /docs\/nested\/deeper: excluded by --exclude, nothing restored from it/);
    assert.equal([...(await describeTree(join(repo.dir, 'chosen'))).keys()], ['docs', 'docs/readme.txt']);

    const deref = await repo.run('restore', 'a', join(repo.dir, 'deref'), '--dereference', '--exclude', 'docs/nested');
    assertOk(deref, 'restore --dereference');
    assert.match(deref.stderr, /link-to-folder -> docs\/nested: kept as a symlink, its target is excluded/);
    assert.is((await lstat(join(repo.dir, 'deref', 'link-to-folder'))).isSymbolicLink(), true);

    const unreadable = await repo.run('restore', 'a', join(repo.dir, 'never'), '--exclude-file', join(repo.dir, 'no-such-file'));
    assert.is(unreadable.status, 2);
    assert.match(unreadable.stderr, /cannot read exclude file .*no-such-file/);
    assert.not.ok(await access(join(repo.dir, 'never')).then(() => true, () => false), 'nothing written');
  }));

test('restore --include and --include-file restore only what matches, all under it and the folders on the way; --exclude and --delete still apply', () =>
  withTestRepo('restore-include', async (repo) => {
    assertOk(await repo.run('create', 'a', repo.source), 'create');
    const patterns = join(repo.dir, 'includes');
    await writeFile(patterns, '# wanted\ndir with spaces\n');
    const target = join(repo.dir, 'some');
    await mkdir(join(target, 'dir with spaces'), { recursive: true });
    await writeFile(join(target, 'dir with spaces', 'stray'), 'in a folder restored whole');
    await writeFile(join(target, 'beside'), 'in a folder on the way');
    const args = ['--include', '*.md', '--include', 'docs/linked-a', '--include-file', patterns, '--include', 'ünïcødé-目录', '--exclude', 'ファイル.txt', '--delete'];
    assertOk(await repo.run('restore', 'a', target, ...args), 'restore --include');
    const restored = await describeTree(target);
    const source = await describeTree(repo.source);
    const wanted = ['dir with spaces', 'dir with spaces/file with spaces.txt', 'docs', 'docs/linked-a', 'docs/nested', 'docs/nested/deeper', 'docs/nested/deeper/note.md', 'ünïcødé-目录'];
    assert.equal([...restored.keys()].sort(), [...wanted, 'beside'].sort());
    for (const path of wanted.filter((path) => path !== 'docs/linked-a')) assert.equal(restored.get(path), source.get(path), path);
    assert.equal({ ...restored.get('docs/linked-a'), linkedTo: undefined }, { ...source.get('docs/linked-a'), linkedTo: undefined });

    const chosen = join(repo.dir, 'chosen');
    assertOk(await repo.run('restore', 'a', chosen, 'docs', 'big.bin', '--include', '*.md'), 'restore of paths with --include');
    assert.equal([...(await describeTree(chosen)).keys()], ['docs', 'docs/nested', 'docs/nested/deeper', 'docs/nested/deeper/note.md']);

    const none = join(repo.dir, 'none');
    const nothing = await repo.run('restore', 'a', none, '--include', '*.nothing');
    assertOk(nothing, 'restore --include that matches nothing');
    assert.match(nothing.stderr, /nothing in the archive matched --include/);
    assert.equal(await readdir(none), []);
    const unreadable = await repo.run('restore', 'a', none, '--include-file', join(repo.dir, 'no-such-file'));
    assert.is(unreadable.status, 2);
    assert.match(unreadable.stderr, /cannot read include file .*no-such-file/);
  }));

test('restore over an earlier restore replaces its files, hardlinks and symlinks', () =>
  withTestRepo('restore-again', async (repo) => {
    assertOk(await repo.run('create', 'a', repo.source), 'create');
    const target = join(repo.dir, 'again');
    assertOk(await repo.run('restore', 'a', target), 'first restore');
    await writeFile(join(target, 'docs', 'readme.txt'), 'changed since the restore\n');
    await unlink(join(target, 'docs', 'link-to-file'));
    await writeFile(join(target, 'docs', 'link-to-file'), 'a file where a link was\n');
    assertOk(await repo.run('restore', 'a', target), 'second restore');
    assert.equal(await describeTree(target), await describeTree(repo.source));
  }));

test('restore --overwrite if-changed fetches only what an interrupted restore left unwritten; if-newer and never keep newer work; a bad value is exit 2', () =>
  withTestRepo('restore-overwrite', async (repo) => {
    assertOk(await repo.run('create', 'a', repo.source), 'create');
    const target = join(repo.dir, 'again');
    assertOk(await repo.run('restore', 'a', target), 'first restore');
    // As a restore killed midway leaves it: one file not yet made, one cut short; and
    // files changed since in one attribute each: size (the time put back), time, mode.
    await unlink(join(target, 'docs', 'readme.txt'));
    await truncate(join(target, 'big.bin'), 1000);
    await exec('touch', ['-r', join(repo.source, 'big.bin'), join(target, 'big.bin')]); // to the nanosecond, as Date is not
    await writeFile(join(target, 'private.txt'), 'SECRET-ISH\n');
    await chmod(join(target, 'docs', 'nested', 'deeper', 'note.md'), 0o600);
    const repository = await openTestRepository(repo);
    const fetched = new Set<string>();
    const counting: BlockSource = {
      readBlock: (id, length) => {
        fetched.add(idToHex(id));
        return repository.readBlock(id, length);
      },
    };
    const snapshot = await repository.snapshot('a');
    const reporter = { info: () => undefined, warning: () => undefined, problem: (path: string, error: unknown) => assert.unreachable(`${path}: ${String(error)}`) };
    const options = { target, paths: [], excludes: [], includes: [], numericOwner: false, dereference: false, hardDereference: false, sparse: false, deleteUnarchived: false, dryRun: false, noXattrs: false };
    const before = await describeTree(target);
    const foreseen = await restoreArchive(snapshot, counting, { ...options, overwrite: 'if-changed', dryRun: true }, reporter);
    assert.is(fetched.size, 0, 'a dry run fetches no block');
    assert.equal(await describeTree(target), before, 'and changes nothing');
    const summary = await restoreArchive(snapshot, counting, { ...options, overwrite: 'if-changed' }, reporter);
    assert.equal(foreseen, summary, 'the dry run foresaw it');
    const changed = await Promise.all(['big.bin', 'docs/readme.txt', 'private.txt', 'docs/nested/deeper/note.md'].map((path) => snapshot.lookup(path)));
    const changedBlocks = changed.flatMap((entry) => (entry?.type === 'file' ? entry.chunks.map((chunk) => idToHex(chunk.id)) : []));
    assert.equal([...fetched].sort(), [...new Set(changedBlocks)].sort(), 'only the four files\' blocks');
    assert.is(summary.files, 6, 'the four files, and the two later links of the hardlink group, linked anew');
    assert.is(summary.kept, 8, 'three files, the hardlink group\'s first file, three symlinks and the file of mode 4755');
    assert.equal(await describeTree(target), await describeTree(repo.source));

    const newer = join(target, 'private.txt');
    await writeFile(newer, 'edited after the restore\n');
    await utimes(join(target, 'empty'), new Date('2000-01-01'), new Date('2000-01-01'));
    await writeFile(join(target, 'empty'), 'older than the archive');
    await utimes(join(target, 'empty'), new Date('2000-01-01'), new Date('2000-01-01'));
    const ifNewer = await repo.run('restore', 'a', target, '--overwrite', 'if-newer');
    assertOk(ifNewer, 'restore --overwrite if-newer');
    assert.match(ifNewer.stdout, /restored 1 file, .*; kept 13 files and symlinks already there/);
    assert.is(await readFile(newer, 'utf8'), 'edited after the restore\n', 'a file newer than the archive\'s is kept');
    assert.is(await readFile(join(target, 'empty'), 'utf8'), '', 'an older one is replaced');

    await unlink(join(target, 'docs', 'link-to-file'));
    const never = await repo.run('restore', 'a', target, '--overwrite', 'never');
    assertOk(never, 'restore --overwrite never');
    assert.match(never.stdout, /restored 0 files, .* 1 symlink .*; kept 13 files and symlinks already there/);
    assert.is(await readFile(newer, 'utf8'), 'edited after the restore\n');
    assert.is(await readFile(join(target, 'docs', 'link-to-file'), 'utf8'), 'hello, preserve\n', 'what was missing is restored');

    const bad = await repo.run('restore', 'a', join(repo.dir, 'never-made'), '--overwrite', 'sometimes');
    assert.is(bad.status, 2);
    assert.match(bad.stderr, /argument 'sometimes' is invalid\. Allowed choices are always, if-changed, if-newer, never/);
    assert.not.ok(await access(join(repo.dir, 'never-made')).then(() => true, () => false), 'nothing written');
  }));

test('restore --delete removes what the archive lacks from restored folders, never through a symlink, and leaves what --exclude matches', () =>
  withTestRepo('restore-delete', async (repo) => {
    assertOk(await repo.run('create', 'a', repo.source), 'create');
    const target = join(repo.dir, 'again');
    assertOk(await repo.run('restore', 'a', target), 'first restore');
    const outside = join(repo.dir, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'precious'), 'not the restore\'s to delete\n');
    await writeFile(join(target, 'extra.txt'), 'made after the backup\n');
    await mkdir(join(target, 'docs', 'new folder', 'inside'), { recursive: true });
    await writeFile(join(target, 'docs', 'new folder', 'inside', 'file'), 'x');
    await symlink(outside, join(target, 'docs', 'nested', 'link-out'));
    await writeFile(join(target, 'docs', 'scratch.tmp'), 'excluded, so left alone\n');

    const docsOnly = join(repo.dir, 'docs-only');
    await mkdir(docsOnly);
    await writeFile(join(docsOnly, 'beside'), 'in a folder on the way to the path restored');
    assertOk(await repo.run('restore', 'a', docsOnly, 'docs/nested', '--delete'), 'restore of a path with --delete');
    assert.is(await readFile(join(docsOnly, 'beside'), 'utf8'), 'in a folder on the way to the path restored');

    const before = await describeTree(target);
    const dryRun = await repo.run('restore', 'a', target, '--delete', '--exclude', '*.tmp', '--dry-run', '--verbose');
    assertOk(dryRun, 'restore --delete --dry-run');
    assert.match(dryRun.stdout, /^dry run: would restore .*; delete 3 entries not in the archive; nothing was written\n/);
    for (const path of ['extra.txt', 'docs/new folder', 'docs/nested/link-out']) assert.ok(dryRun.stderr.includes(`would delete ${join(target, path)}\n`), path);
    assert.equal(await describeTree(target), before, 'the dry run changed nothing');
    const nowhere = join(repo.dir, 'nowhere');
    assertOk(await repo.run('restore', 'a', nowhere, '--dry-run', '--delete'), 'a dry run into a folder that does not exist');
    assert.not.ok(await access(nowhere).then(() => true, () => false), 'is not made');

    const result = await repo.run('restore', 'a', target, '--delete', '--exclude', '*.tmp');
    assertOk(result, 'restore --delete');
    assert.match(result.stdout, /; deleted 3 entries not in the archive/);
    assert.is(dryRun.stdout.replace('dry run: would restore', 'restored').replace('; delete ', '; deleted ').replace('; nothing was written', ''), result.stdout, 'the dry run foresaw it');
    assert.is(await readFile(join(outside, 'precious'), 'utf8'), 'not the restore\'s to delete\n', 'the link was removed, not what it points to');
    assert.is(await readFile(join(target, 'docs', 'scratch.tmp'), 'utf8'), 'excluded, so left alone\n');
    const again = await repo.run('restore', 'a', target, '--delete');
    assertOk(again, 'restore --delete without the exclude');
    assert.match(again.stdout, /; deleted 1 entry not in the archive/);
    assert.equal(await describeTree(target), await describeTree(repo.source));
  }));

test('restore --sparse leaves runs of zeros as holes, with the same bytes and attributes; without it every byte is written', () =>
  withTestRepo('sparse', async (repo) => {
    const MiB = 1024 * 1024;
    // A disk image: 64 MiB, data at 10 MB (across a page boundary) and 4 bytes at the very end.
    const image = join(repo.source, 'disk.img');
    await writeFile(image, '');
    await truncate(image, 64 * MiB);
    const handle = await open(image, 'r+');
    await handle.write(Buffer.from('data across a page boundary'), 0, 27, 10_000_000 - 4090);
    await handle.write(Buffer.from('tail'), 0, 4, 64 * MiB - 4);
    await handle.close();
    await writeFile(join(repo.source, 'all-zeros'), Buffer.alloc(3 * MiB + 5));
    assertOk(await repo.run('create', 'a', repo.source), 'create');
    const sparse = join(repo.dir, 'sparse');
    const dense = join(repo.dir, 'dense');
    assertOk(await repo.run('restore', 'a', sparse, '--sparse'), 'restore --sparse');
    assertOk(await repo.run('restore', 'a', dense), 'restore');
    const source = await describeTree(repo.source);
    assert.equal(await describeTree(sparse), source);
    assert.equal(await describeTree(dense), source);
    const used = async (path: string) => (await stat(path)).blocks * 512;
    assert.ok((await used(join(sparse, 'disk.img'))) <= 64 * 1024, `disk.img takes ${await used(join(sparse, 'disk.img'))} bytes sparse`);
    assert.is(await used(join(sparse, 'all-zeros')), 0);
    assert.ok((await used(join(dense, 'disk.img'))) >= 64 * MiB, 'written whole without --sparse');
  }));

test('restore fetches a block that identical files share once, and every file gets its bytes', () =>
  withTestRepo('shared-block', async (repo) => {
    const source = join(repo.dir, 'copies');
    await mkdir(source);
    for (let i = 0; i < 40; i++) await writeFile(join(source, `copy-${i}.txt`), 'one content in forty files\n');
    await writeFile(join(source, 'other.txt'), 'another content\n');
    assertOk(await repo.run('create', 'copies', source), 'create');
    const repository = await openTestRepository(repo);
    const fetches = new Map<string, number>();
    const counting: BlockSource = {
      readBlock: (id, length) => {
        fetches.set(idToHex(id), (fetches.get(idToHex(id)) ?? 0) + 1);
        return repository.readBlock(id, length);
      },
    };
    const target = join(repo.dir, 'restored');
    const options = { target, paths: [], excludes: [], includes: [], numericOwner: false, dereference: false, hardDereference: false, sparse: false, overwrite: 'always' as const, deleteUnarchived: false, dryRun: false, noXattrs: false };
    const reporter = { info: () => undefined, warning: () => undefined, problem: (path: string, error: unknown) => assert.unreachable(`${path}: ${String(error)}`) };
    const summary = await restoreArchive(await repository.snapshot('copies'), counting, options, reporter);
    assert.is(summary.files, 41);
    assert.equal([...fetches.values()], [1, 1], 'two blocks, each fetched once');
    assert.equal(await describeTree(target), await describeTree(source));
  }));

test('restore of more entries than the walk queues ahead, in folders of a few files each, brings back every one', () =>
  withTestRepo('many-folders', async (repo) => {
    const source = join(repo.dir, 'many');
    for (let folder = 0; folder < 100; folder++) {
      await mkdir(join(source, `folder-${folder}`, 'inner'), { recursive: true });
      for (let file = 0; file < 3; file++) await writeFile(join(source, `folder-${folder}`, `file-${file}`), `${folder}/${file}\n`);
      await writeFile(join(source, `folder-${folder}`, 'inner', 'last'), `${folder}\n`);
    }
    assertOk(await repo.run('create', 'many', source), 'create');
    const target = join(repo.dir, 'many-restored');
    assertOk(await repo.run('restore', 'many', target), 'restore');
    const restored = await describeTree(target);
    assert.is([...restored.values()].filter((facts) => facts.type === 'file').length, 400);
    assert.equal(restored, await describeTree(source));
  }));

test('a second archive of unchanged data stores only its new folder objects', () =>
  withTestRepo('dedup', async (repo) => {
    assertOk(await repo.run('create', 'one', repo.source), 'create one');
    const blocksBefore = await objectFiles(repo.backend, 'blocks');
    assertOk(await repo.run('create', 'two', repo.source), 'create two');
    assert.equal(await objectFiles(repo.backend, 'blocks'), blocksBefore);
    const list = JSON.parse((await repo.run('list', '--json')).stdout) as { name: string; storedBytes: number }[];
    assert.equal(list.map((a) => a.name), ['one', 'two']);
    assert.is(list[1]?.storedBytes, 0, 'unchanged tree: even the folder objects are shared');
    assert.match((await repo.run('list')).stdout, /^two\s+\S+\s+11\s+3\.0 MiB\s+0 B\s/m, 'the table shows what each archive added');
  }));

test('an existing archive name is refused before any work', () =>
  withTestRepo('duplicate', async (repo) => {
    assertOk(await repo.run('create', 'same', repo.source), 'create');
    await writeFile(join(repo.source, 'new-file'), 'new content that is not stored yet');
    const before = await objectFiles(repo.backend, '');
    const again = await repo.run('create', 'same', repo.source);
    assert.is(again.status, 2);
    assert.match(again.stderr, /an archive named "same" already exists/);
    assert.equal(await objectFiles(repo.backend, ''), before);
  }));

test('verify passes on a clean backend and names the block and file after corruption; with --sample 0 it looks for every block, fetching none', () =>
  withTestRepo('verify', async (repo) => {
    assertOk(await repo.run('create', 'v', repo.source), 'create');
    const clean = await repo.run('verify');
    assertOk(clean, 'verify');
    assert.match(clean.stdout, /checked 1 archive: \d+ folders, (\d+) of \1 blocks; 0 problems/);
    const sampled = await repo.run('verify', 'v', '--sample', '50');
    assertOk(sampled, 'verify --sample');
    const [, checked, referenced] = /(\d+) of (\d+) blocks/.exec(sampled.stdout) ?? [];
    assert.is(Number(checked), Math.ceil(Number(referenced) / 2));
    const [blockFile] = await objectFilesOf(repo, 'v', 'docs/readme.txt');
    await flipByte(blockFile as string, 3);
    const corrupt = await repo.run('verify', 'v');
    assert.is(corrupt.status, 1);
    assert.match(corrupt.stdout, /block [0-9a-f]{64}: block [0-9a-f]{64} failed authentication/);
    assert.match(corrupt.stdout, /used by v:\/docs\/readme\.txt/);
    await unlink(blockFile as string);
    const missing = await repo.run('verify');
    assert.is(missing.status, 1);
    assert.match(missing.stdout, /is missing from the backend/);
    // Fetching none, verify still looks for every block, and names the files of a missing one.
    const lookedFor = await repo.run('verify', '--sample', '0');
    assert.is(lookedFor.status, 1);
    assert.match(lookedFor.stdout, /^block [0-9a-f]{64}: object blocks\/.* is missing from the backend$/m);
    assert.match(lookedFor.stdout, /used by v:\/docs\/readme\.txt/);
    assert.match(lookedFor.stdout, /checked 1 archive: \d+ folders, 0 of (\d+) blocks \(the other \1 looked for on the backend\); 1 problem/);
    for (const bad of ['101', '-1', '']) {
      const badSample = await repo.run('verify', '--sample', bad);
      assert.is(badSample.status, 2, bad);
      assert.match(badSample.stderr, /expected a percentage from 0 to 100/);
    }
  }));

test('restore leaves out a file whose block is corrupt, restores the rest, exits 1', () =>
  withTestRepo('restore-corrupt', async (repo) => {
    assertOk(await repo.run('create', 'c', repo.source), 'create');
    await flipByte(((await objectFilesOf(repo, 'c', 'docs/readme.txt'))[0]) as string, 0);
    const target = join(repo.dir, 'out');
    const result = await repo.run('restore', 'c', target);
    assert.is(result.status, 1);
    assert.match(result.stderr, /docs\/readme\.txt: block [0-9a-f]{64} failed authentication/);
    assert.match(result.stderr, /1 entry could not be restored/);
    const restored = await describeTree(target);
    const source = await describeTree(repo.source);
    assert.not.ok(restored.has('docs/readme.txt'), 'never written with wrong bytes');
    source.delete('docs/readme.txt');
    restored.delete('docs'); // its mtime is still the source's; only the missing child differs
    source.delete('docs');
    assert.equal(restored, source);
  }));

test('diff lists added, removed and changed entries, as text and JSON', () =>
  withTestRepo('diff', async (repo) => {
    assertOk(await repo.run('create', 'before', repo.source), 'create before');
    await writeFile(join(repo.source, 'added.txt'), 'new');
    await rm(join(repo.source, 'docs', 'nested', 'deeper'), { recursive: true });
    await appendFile(join(repo.source, 'big.bin'), 'more');
    await chmod(join(repo.source, 'private.txt'), 0o600);
    await unlink(join(repo.source, 'dangling'));
    await symlink('elsewhere', join(repo.source, 'dangling'));
    await setAttribute(join(repo.source, 'docs', 'readme.txt'), 'user.comment', 'read me second');
    assertOk(await repo.run('create', 'after', repo.source), 'create after');
    const diff = await repo.run('diff', 'before', 'after');
    assertOk(diff, 'diff');
    assert.equal(diff.stdout.trim().split('\n'), [
      '+ added.txt',
      'M big.bin (content, mtime)',
      'M dangling (target, mtime)',
      '- docs/nested/deeper/',
      '- docs/nested/deeper/note.md',
      'M docs/readme.txt (xattrs)',
      // chmod sets the mask of the file's ACL (an extended attribute) too.
      'M private.txt (mode, xattrs)',
    ]);
    const json = JSON.parse((await repo.run('diff', 'before', 'after', '--json')).stdout) as { kind: string; path: string }[];
    assert.equal(json.map((c) => `${c.kind} ${c.path}`).slice(0, 2), ['added added.txt', 'changed big.bin']);
    assert.is((await repo.run('diff', 'before', 'before')).stdout, '');
  }));

test('list NAME shows every entry of the archive in find order, as text and JSON Lines; list NAME PATH only what PATH holds', () =>
  withTestRepo('list-entries', async (repo) => {
    assertOk(await repo.run('create', 'one', repo.source), 'create');
    const source = await describeTree(repo.source);
    const json = await repo.run('list', 'one', '--json');
    assertOk(json, 'list --json');
    const listed = json.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.equal(listed.map((entry) => entry.path), [...source.keys()]);
    for (const entry of listed) {
      const facts = source.get(entry.path as string);
      const expected = { type: facts?.type, mode: facts?.mode, uid: facts?.uid, gid: facts?.gid, size: facts?.type === 'file' ? facts.size : 0, mtimeUs: facts?.mtimeUs, target: facts?.target };
      const actual = { type: entry.type, mode: entry.mode, uid: entry.uid, gid: entry.gid, size: entry.size, mtimeUs: BigInt(entry.mtimeNs as string) / 1000n, target: entry.target };
      assert.equal(actual, expected, entry.path as string);
    }

    const text = await repo.run('list', 'one');
    assertOk(text, 'list');
    const lines = text.stdout.trim().split('\n');
    assert.is(lines.length, source.size);
    assert.ok(lines.some((line) => /^-rwsr-xr-x \S+ +\S+ +\d+ \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ setuid-tool$/.test(line)), text.stdout);
    assert.ok(lines.some((line) => /^drwxr-x--- .* dir with spaces\/$/.test(line)), 'a folder ends with /');
    assert.ok(lines.some((line) => /^-rw-r-----\+ .* private\.txt$/.test(line)), 'an entry with an ACL has + after its mode, as in ls -l');
    assert.equal(listed.find((entry) => entry.path === 'docs/readme.txt')?.xattrs, ['user.binary', 'user.comment'], "--json names an entry's extended attributes");
    assert.ok(lines.some((line) => /^lrwxrwxrwx .* docs\/link-to-file -> readme\.txt$/.test(line)), 'a symlink shows its target');
    assert.ok(lines.some((line) => / +3158073 .* big\.bin$/.test(line)), 'sizes');

    const chosen = await repo.run('list', 'one', 'docs/nested', '--json');
    assertOk(chosen, 'list one docs/nested');
    const chosenPaths = chosen.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { path: string }).path);
    assert.equal(chosenPaths, ['docs/nested', 'docs/nested/deeper', 'docs/nested/deeper/note.md', 'docs/nested/linked-b']);

    const missing = await repo.run('list', 'one', 'docs', 'no/such/path');
    assert.is(missing.status, 2);
    assert.match(missing.stderr, /archive "one" has no entry "no\/such\/path"/);
    assert.is(missing.stdout, '', 'nothing listed before the error');
    assert.is((await repo.run('list', 'two')).status, 2);
  }));

test('list of a folder wider than one printed run (4,096 entries) shows each entry once, in find order, a subfolder at the run\'s edge too', () =>
  withTestRepo('list-wide', async (repo) => {
    // f-0000 … f-4099, and f-4094-dir as the 4,096th entry: a run ends there and the walk goes down.
    const wide = join(repo.source, 'wide');
    await mkdir(join(wide, 'f-4094-dir'), { recursive: true });
    await writeFile(join(wide, 'f-4094-dir', 'inside'), 'x');
    await Promise.all(Array.from({ length: 4100 }, (_, k) => writeFile(join(wide, `f-${String(k).padStart(4, '0')}`), String(k))));
    assertOk(await repo.run('create', 'wide', repo.source), 'create');
    const listed = await repo.run('list', 'wide', 'wide', '--json');
    assertOk(listed, 'list --json');
    const paths = listed.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { path: string }).path);
    assert.equal(paths, ['wide', ...[...(await describeTree(wide)).keys()].map((path) => `wide/${path}`)]);
    assert.is(paths.indexOf('wide/f-4094-dir'), 4096);
    assert.is((await repo.run('list', 'wide', 'wide')).stdout.trim().split('\n').length, paths.length, 'as many lines as text');
  }));

test('keygen writes 256 hex characters with mode 0600 and never overwrites', async () => {
  const dir = await makeTempDir('keygen');
  try {
    const keyfile = join(dir.path, 'key');
    assertOk(await runPreserve(['keygen', '--keyfile', keyfile]), 'keygen');
    const text = await readFile(keyfile, 'utf8');
    assert.match(text, /^[0-9a-f]{256}\n$/);
    assert.is((await stat(keyfile)).mode & 0o777, 0o600);
    const again = await runPreserve(['keygen', '--keyfile', keyfile]);
    assert.is(again.status, 2);
    assert.match(again.stderr, /already exists; refusing to overwrite/);
    assert.is(await readFile(keyfile, 'utf8'), text);
    const noPath = await runPreserve(['keygen'], { PRESERVE_KEYFILE: '' });
    assert.is(noPath.status, 2);
  } finally {
    await dir.remove();
  }
});

test('malformed, missing and exposed keyfiles', () =>
  withTestRepo('keyfile', async (repo) => {
    const bad = join(repo.dir, 'bad-key');
    const cases: [string, RegExp][] = [
      ['abc\n', /expected 256 hex characters, found 3/],
      [`${'g'.repeat(256)}\n`, /characters other than hex digits/],
      [`${'a'.repeat(258)}`, /found 258/],
    ];
    for (const [content, message] of cases) {
      await writeFile(bad, content, { mode: 0o600 });
      const result = await runPreserve(['list', '--keyfile', bad, '--backend', repo.backend]);
      assert.is(result.status, 2, content);
      assert.match(result.stderr, message);
      assert.not.match(result.stderr, /\n\s+at /, 'no stack trace');
    }
    const missing = await runPreserve(['list', '--keyfile', join(repo.dir, 'nope'), '--backend', repo.backend]);
    assert.is(missing.status, 2);
    assert.match(missing.stderr, /cannot read keyfile .*nope: ENOENT/);
    await writeFile(join(repo.dir, 'crlf-key'), `${'ab'.repeat(128)}\r\n`, { mode: 0o600 });
    assertOk(await runPreserve(['create', '--keyfile', join(repo.dir, 'crlf-key'), '--backend', join(repo.dir, 'b2'), 'x', repo.source]), 'CRLF keyfile');
    await chmod(repo.keyfile, 0o644);
    const exposed = await repo.run('create', 'exposed', repo.source);
    assertOk(exposed, 'create with exposed key');
    assert.match(exposed.stderr, /warning: keyfile .* is readable by others \(mode 644\)/);
  }));

test('the wrong keyfile, an unknown archive and a missing backend are usage errors', () =>
  withTestRepo('errors', async (repo) => {
    assertOk(await repo.run('create', 'mine', repo.source), 'create');
    const otherKey = join(repo.dir, 'other-key');
    assertOk(await runPreserve(['keygen', '--keyfile', otherKey]), 'keygen');
    for (const args of [['list'], ['create', 'x', repo.source], ['restore', 'mine', join(repo.dir, 'o')]]) {
      const [command, ...rest] = args as [string, ...string[]];
      const result = await runPreserve([command, '--keyfile', otherKey, '--backend', repo.backend, ...rest]);
      assert.is(result.status, 2, args.join(' '));
      assert.match(result.stderr, /keyfile does not match the backend/);
    }
    const unknown = await repo.run('restore', 'nope', join(repo.dir, 'o'));
    assert.is(unknown.status, 2);
    assert.match(unknown.stderr, /there is no archive named "nope"/);
    const noBackend = await runPreserve(['list', '--keyfile', repo.keyfile, '--backend', join(repo.dir, 'absent')]);
    assert.is(noBackend.status, 2);
    assert.match(noBackend.stderr, /backend folder .*absent does not exist/);
    assert.not.ok(await access(join(repo.dir, 'absent')).then(() => true, () => false));
    const fresh = await runPreserve(['create', '--keyfile', repo.keyfile, '--backend', `file://${join(repo.dir, 'new-backend')}`, 'n', repo.source]);
    assertOk(fresh, 'create makes the backend folder');
    const noSource = await repo.run('create', 'ghost', join(repo.dir, 'no-source'));
    assert.is(noSource.status, 2);
    assert.match(noSource.stderr, /^preserve: cannot read source .*no-source: ENOENT/m);
    const badOption = await repo.run('list', '--frobnicate');
    assert.is(badOption.status, 2);
    assert.match(badOption.stderr, /unknown option '--frobnicate'/);
  }));

test('--version and -V print the version in package.json, exit 0', async () => {
  const { version } = JSON.parse(await readFile(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };
  for (const flag of ['--version', '-V']) {
    const result = await runPreserve([flag]);
    assert.is(result.status, 0, result.stderr);
    assert.is(result.stdout, `preserve ${version}\n`, flag);
  }
});

test('an unreadable file and folder are reported and skipped; the archive holds the rest; exit 1', () =>
  withTestRepo('unreadable', async (repo) => {
    await writeFile(join(repo.source, 'locked.txt'), 'no entry');
    await chmod(join(repo.source, 'locked.txt'), 0o000);
    await exec('mkfifo', [join(repo.source, 'a-fifo')]);
    await mkdir(join(repo.source, 'locked-dir'));
    await writeFile(join(repo.source, 'locked-dir', 'inside.txt'), 'unreachable');
    // Root reads any file, so as root the backup runs as nobody, with a world-usable repository.
    if (isRoot) {
      await chmod(repo.dir, 0o777);
      await chmod(repo.keyfile, 0o644);
      await exec('chmod', ['-R', 'a+rX', repo.source]);
      await chmod(join(repo.source, 'locked.txt'), 0o000);
    }
    await chmod(join(repo.source, 'locked-dir'), 0o000);
    const args = ['create', '--keyfile', repo.keyfile, '--backend', repo.backend, 'partial', repo.source];
    const result = await runAs(isRoot ? 65534 : undefined, args);
    assert.is(result.status, 1, result.stderr);
    assert.match(result.stderr, /locked\.txt: EACCES/);
    assert.match(result.stderr, /warning: .*a-fifo: skipped, named pipes are not backed up/);
    assert.match(result.stderr, /locked-dir: EACCES/);
    assert.match(result.stderr, /2 entries could not be read and were left out of the archive/);
    const target = join(repo.dir, 'out');
    assertOk(await repo.run('restore', 'partial', target), 'restore');
    assert.ok((await readFile(join(target, 'big.bin'))).length > 3_000_000);
    assert.not.ok(await access(join(target, 'locked.txt')).then(() => true, () => false));
    assert.not.ok(await access(join(target, 'locked-dir')).then(() => true, () => false));
    await chmod(join(repo.source, 'locked-dir'), 0o755); // so that a non-root run can remove it
  }));

test('restore never writes through a symlink found in the target', () =>
  withTestRepo('symlink-escape', async (repo) => {
    assertOk(await repo.run('create', 's', repo.source), 'create');
    const target = join(repo.dir, 'target');
    const outside = join(repo.dir, 'outside');
    await mkdir(target);
    await mkdir(outside);
    await symlink(outside, join(target, 'docs'));
    const result = await repo.run('restore', 's', target);
    assert.is(result.status, 1);
    assert.match(result.stderr, /docs: something other than a folder is in the way/);
    assert.equal(await readdir(outside), []);
    assert.ok((await lstat(join(target, 'docs'))).isSymbolicLink());
  }));

test('--exclude leaves out matching entries; --dereference stores link targets', () =>
  withTestRepo('select', async (repo) => {
    assertOk(await repo.run('create', 'ex', repo.source, '--exclude', '*.bin', '--exclude', 'docs/nested'), 'create');
    const target = join(repo.dir, 'ex');
    assertOk(await repo.run('restore', 'ex', target), 'restore');
    const restored = await describeTree(target);
    assert.not.ok(restored.has('big.bin'));
    assert.not.ok(restored.has('docs/nested'));
    assert.ok(restored.has('docs/readme.txt'));
    const deref = await repo.run('create', 'deref', repo.source, '--dereference');
    assertOk(deref, 'create --dereference');
    assert.match(deref.stderr, /dangling -> does\/not\/exist: kept as a symlink, its target does not exist/);
    const derefTarget = join(repo.dir, 'deref');
    assertOk(await repo.run('restore', 'deref', derefTarget), 'restore');
    const facts = await describeTree(derefTarget);
    assert.is(facts.get('docs/link-to-file')?.type, 'file');
    assert.is(await readFile(join(derefTarget, 'docs', 'link-to-file'), 'utf8'), 'hello, preserve\n');
    assert.is(facts.get('link-to-folder')?.type, 'directory');
    assert.is(facts.get('link-to-folder/deeper/note.md')?.type, 'file');
    assert.is(facts.get('dangling')?.type, 'symlink');
  }));

if (isRoot) {
  test('--one-file-system keeps a mounted filesystem inside the tree as an empty folder', () =>
    withTestRepo('onefs', async (repo) => {
      const mountpoint = join(repo.source, 'mnt');
      await mkdir(mountpoint);
      await exec('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountpoint]);
      try {
        await writeFile(join(mountpoint, 'on-tmpfs'), 'other filesystem');
        assertOk(await repo.run('create', 'one', repo.source, '--one-file-system'), 'create');
        assertOk(await repo.run('create', 'all', repo.source), 'create');
      } finally {
        await exec('umount', [mountpoint]);
      }
      const one = join(repo.dir, 'one');
      const all = join(repo.dir, 'all');
      assertOk(await repo.run('restore', 'one', one), 'restore');
      assertOk(await repo.run('restore', 'all', all), 'restore');
      assert.equal(await readdir(join(one, 'mnt')), []);
      assert.equal(await readdir(join(all, 'mnt')), ['on-tmpfs']);
    }));

  test('a time beyond what an archive holds (tmpfs keeps 64-bit seconds) is stored at the limit, with a warning', () =>
    withTestRepo('far-time', async (repo) => {
      const source = join(repo.dir, 'far');
      await mkdir(source);
      await exec('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', source]);
      let created;
      try {
        await writeFile(join(source, 'far.txt'), 'far\n');
        await utimes(join(source, 'far.txt'), 1e12, 1e12); // the year 33,658
        created = await repo.run('create', 'far', source, '--rescan-delay', '0');
      } finally {
        await exec('umount', [source]);
      }
      assertOk(created, 'create');
      assert.match(created.stderr, /far\.txt: its modification time is more than 18,700 years from 1970; stored as 590295810358705651711 ns/);
      assertOk(await repo.run('verify', 'far'), 'verify');
      const target = join(repo.dir, 'restored');
      assertOk(await repo.run('restore', 'far', target), 'restore');
      assert.is(await readFile(join(target, 'far.txt'), 'utf8'), 'far\n');
    }));

  test('as root, restore maps owners by name, or by number with --numeric-owner', () =>
    withTestRepo('owners', async (repo) => {
      const user = 'preserve-test-owner';
      await exec('userdel', [user]).catch(() => undefined);
      await exec('groupdel', [user]).catch(() => undefined);
      try {
        await exec('useradd', ['--uid', '23456', '--user-group', '--no-create-home', user]);
        await exec('chown', [`${user}:${user}`, join(repo.source, 'private.txt')]);
        assertOk(await repo.run('create', 'owned', repo.source), 'create');
        await exec('userdel', [user]);
        await exec('useradd', ['--uid', '23999', '--user-group', '--no-create-home', user]);
        const byName = join(repo.dir, 'by-name');
        assertOk(await repo.run('restore', 'owned', byName), 'restore');
        const named = await stat(join(byName, 'private.txt'));
        assert.equal([named.uid, named.gid], [23999, 23999]);
        const byNumber = join(repo.dir, 'by-number');
        assertOk(await repo.run('restore', 'owned', byNumber, '--numeric-owner'), 'restore');
        const numbered = await stat(join(byNumber, 'private.txt'));
        assert.equal([numbered.uid, numbered.gid], [23456, 23456]);
      } finally {
        await exec('userdel', [user]).catch(() => undefined);
        await exec('groupdel', [user]).catch(() => undefined);
      }
    }));
}

test('rename gives an archive a new name with its content and time; a taken, unsafe or unknown name is exit 2 and changes nothing', () =>
  withTestRepo('rename', async (repo) => {
    assertOk(await repo.run('create', 'typo', repo.source), 'create');
    assertOk(await repo.run('create', 'other', repo.source), 'create other');
    const before = JSON.parse((await repo.run('list', '--json')).stdout) as { name: string; created: string; source: string }[];
    const renamed = await repo.run('rename', 'typo', 'home-2026-12-07');
    assertOk(renamed, 'rename');
    assert.match(renamed.stdout, /^renamed archive "typo" to "home-2026-12-07"$/m);
    const after = JSON.parse((await repo.run('list', '--json')).stdout) as { name: string; created: string; source: string }[];
    assert.equal(after.map((a) => [a.name, a.created, a.source]).sort(), before.map((a) => [a.name === 'typo' ? 'home-2026-12-07' : a.name, a.created, a.source]).sort());
    const target = join(repo.dir, 'restored');
    assertOk(await repo.run('restore', 'home-2026-12-07', target), 'restore under the new name');
    assert.equal(await describeTree(target), await describeTree(repo.source));
    assertOk(await repo.run('verify'), 'verify');

    const refusals: [string[], RegExp][] = [
      [['home-2026-12-07', 'other'], /an archive named "other" already exists/],
      [['home-2026-12-07', '../x'], /archive name "\.\.\/x" is not allowed/],
      [['typo', 'again'], /no archive named "typo"/],
    ];
    for (const [args, message] of refusals) {
      const refused = await repo.run('rename', ...args);
      assert.is(refused.status, 2, refused.stderr);
      assert.match(refused.stderr, message);
    }
    const unchanged = JSON.parse((await repo.run('list', '--json')).stdout) as { name: string }[];
    assert.equal(unchanged.map((a) => a.name).sort(), ['home-2026-12-07', 'other']);
  }));

test.run();
