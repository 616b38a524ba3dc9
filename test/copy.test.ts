/**
 * copy: archives to another backend, with another key or the same; what is there already
 * is left alone; an archive whose data is damaged is reported and not copied, the others
 * are; bad requests are exit 2.
 */
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertOk, flipByte, objectFilesOf, type TestRepo, withTestRepo } from './cli-support.js';
import { describeTree, runPreserve, seededBytes } from './support.js';

interface Listed {
  readonly name: string;
  readonly created: string;
  readonly hostname: string;
  readonly paths: string[];
  readonly files: number;
  readonly bytes: number;
}

async function listed(backend: string, keyfile: string): Promise<Listed[]> {
  const result = await runPreserve(['list', '--json', '--keyfile', keyfile, '--backend', backend]);
  assertOk(result, `list ${backend}`);
  return (JSON.parse(result.stdout) as Listed[]).map(({ name, created, hostname, paths, files, bytes }) => ({ name, created, hostname, paths, files, bytes }));
}

async function restoredFrom(repo: TestRepo, backend: string, keyfile: string, name: string): Promise<string> {
  const target = join(repo.dir, `restored-${name}-${backend.length}`);
  assertOk(await runPreserve(['restore', name, target, '--keyfile', keyfile, '--backend', backend]), `restore ${name}`);
  return target;
}

test('copy to a backend with another key: every archive, as it was, restorable there; a second copy adds nothing; later archives follow without reading the blocks copied before', () =>
  withTestRepo('copy-other-key', async (repo) => {
    assertOk(await repo.run('create', 'monday', repo.source), 'create monday');
    await writeFile(join(repo.source, 'new.bin'), seededBytes(41, 1024 * 1024));
    assertOk(await repo.run('create', 'tuesday', repo.source), 'create tuesday');
    const other = join(repo.dir, 'other');
    const otherKey = join(repo.dir, 'other-key');
    assertOk(await runPreserve(['keygen', '--keyfile', otherKey]), 'keygen');

    const copied = await repo.run('copy', '--to', other, '--to-keyfile', otherKey);
    assertOk(copied, 'copy');
    assert.match(copied.stdout, /^copied "monday": \d+ files, .* added to file:\/\/.*other\)$/m);
    assert.match(copied.stdout, /^copied "tuesday": /m);
    assert.equal(await listed(other, otherKey), await listed(repo.backend, repo.keyfile));
    assert.equal(await describeTree(await restoredFrom(repo, other, otherKey, 'tuesday')), await describeTree(repo.source));
    assertOk(await runPreserve(['verify', '--keyfile', otherKey, '--backend', other]), 'verify the copy');
    // Encrypted with the other key: nothing of the source's backend is there under the same name.
    const blockFiles = async (backend: string) => (await readdir(join(backend, 'blocks'), { recursive: true })).filter((path) => path.includes('/'));
    const sourceBlocks = new Set(await blockFiles(repo.backend));
    const copiedBlocks = await blockFiles(other);
    assert.ok(copiedBlocks.length > 0);
    assert.equal(copiedBlocks.filter((path) => sourceBlocks.has(path)), []);

    const files = async () => (await readdir(other, { recursive: true })).sort();
    const before = await files();
    const again = await repo.run('copy', '--to', other, '--to-keyfile', otherKey);
    assertOk(again, 'copy again');
    assert.match(again.stdout, /^"monday" is on .* already$/m);
    assert.equal(await files(), before);

    assertOk(await repo.run('create', 'wednesday', repo.source), 'create wednesday');
    // A block copied on tuesday is not read again (the map of copied blocks says what it
    // became): damaged on the source since, it does not stop wednesday's copy.
    for (const file of await objectFilesOf(repo, 'wednesday', 'new.bin')) await flipByte(file, 100);
    const later = await repo.run('copy', 'wednesday', '--to', other, '--to-keyfile', otherKey);
    assertOk(later, 'copy wednesday');
    // Nothing changed since tuesday: wednesday's blocks are all there already.
    assert.match(later.stdout, /^copied "wednesday": .*\((\d+) B added/m);
    assert.equal(await describeTree(await restoredFrom(repo, other, otherKey, 'wednesday')), await describeTree(repo.source));
    assert.equal((await listed(other, otherKey)).map((archive) => archive.name), ['monday', 'tuesday', 'wednesday']);
  }));

test('copy with the same key keeps every id; a damaged archive is reported and left out, the others copied; bad requests are exit 2', () =>
  withTestRepo('copy-same-key', async (repo) => {
    assertOk(await repo.run('create', 'whole', repo.source), 'create');
    await writeFile(join(repo.source, 'new.bin'), seededBytes(42, 512 * 1024));
    assertOk(await repo.run('create', 'damaged', repo.source), 'create');
    for (const file of await objectFilesOf(repo, 'damaged', 'new.bin')) await flipByte(file, 100);
    const other = join(repo.dir, 'other');
    const copied = await repo.run('copy', '--to', other);
    assert.is(copied.status, 1, copied.stderr);
    assert.match(copied.stderr, /^preserve: damaged: .*authenticat/m);
    assert.match(copied.stderr, /^preserve: 1 archive could not be read and was not copied$/m);
    assert.equal((await listed(other, repo.keyfile)).map((archive) => archive.name), ['whole']);
    assert.equal(await describeTree(await restoredFrom(repo, other, repo.keyfile, 'whole')), await describeTree(await restoredFrom(repo, repo.backend, repo.keyfile, 'whole')));
    // The same key: the tree ids of the copy are the source's.
    const sourceTrees = (await readdir(join(repo.backend, 'trees'), { recursive: true })).sort();
    const copiedTrees = (await readdir(join(other, 'trees'), { recursive: true })).sort();
    assert.ok(copiedTrees.length > 0 && copiedTrees.every((path) => sourceTrees.includes(path)), 'trees under the same names');

    const refusals: [string[], RegExp][] = [
      [['copy', 'nosuch', '--to', join(repo.dir, 'fresh')], /no archive named "nosuch"/],
      [['copy', '--to', repo.backend], /is the backend the archives are on; --to names where to copy them$/m],
      [['copy', '--to', other, '--to-keyfile', join(repo.dir, 'missing-key')], /missing-key/],
      [['copy'], /required option '--to <url>' not specified/],
    ];
    for (const [args, message] of refusals) {
      const refused = await repo.run(args[0] as string, ...args.slice(1));
      assert.is(refused.status, 2, `${args.join(' ')}: ${refused.stderr}`);
      assert.match(refused.stderr, message);
    }
    // Refused before the destination was made.
    assert.not.ok((await readdir(repo.dir)).includes('fresh'));
    const otherKey = join(repo.dir, 'other-key');
    assertOk(await runPreserve(['keygen', '--keyfile', otherKey]), 'keygen');
    const wrongKey = await repo.run('copy', '--to', other, '--to-keyfile', otherKey);
    assert.is(wrongKey.status, 2);
    assert.match(wrongKey.stderr, /^preserve: the keyfile does not match the backend .*other: no archive name decrypts with it; give its key with --to-keyfile$/m);
  }));

test.run();
