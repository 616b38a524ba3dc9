/**
 * create with several paths, or one that is not a folder: each is kept where it lies
 * under '/', the folders on the way holding only what leads to one; the cache and prune
 * know the set of paths whatever their order; tags and --one-file-system's device apply
 * below each path given; a missing path stores nothing.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, symlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertOk, type TestRepo, withTestRepo } from './cli-support.js';
import { describeTree } from './support.js';

const exec = promisify(execFile);

interface ListedArchive {
  readonly name: string;
  readonly source: string;
  readonly paths: string[];
}

async function archives(repo: TestRepo): Promise<ListedArchive[]> {
  return JSON.parse((await repo.run('list', '--json')).stdout) as ListedArchive[];
}

async function restored(repo: TestRepo, name: string, ...args: string[]): Promise<string> {
  const target = join(repo.dir, `restored-${name}`);
  assertOk(await repo.run('restore', name, target, ...args), `restore ${name}`);
  return target;
}

/** The entries of `facts` below `folder`, by their path under it. */
function below(facts: Map<string, unknown>, folder: string): Map<string, unknown> {
  return new Map([...facts].filter(([path]) => path.startsWith(`${folder}/`)).map(([path, fact]) => [path.slice(folder.length + 1), fact]));
}

test('several paths are kept where they lie under /, with only the folders on the way; the same set in another order reuses the cache', () =>
  withTestRepo('paths-several', async (repo) => {
    const docs = join(repo.source, 'docs');
    const big = join(repo.source, 'big.bin');
    // Made long ago, so that the cache may take it (the fixture's other files are).
    await utimes(join(docs, 'linked-a'), 1_600_000_000, 1_600_000_000);
    // docs/nested is inside docs: backed up with it, once.
    const nested = join(docs, 'nested');
    assertOk(await repo.run('create', 'two-paths', docs, big, nested), 'create');
    const target = await restored(repo, 'two-paths');
    const facts = await describeTree(target);
    const sourceInTarget = repo.source.slice(1);
    const kept = [...facts.keys()].filter((path) => path.startsWith(`${sourceInTarget}/`)).map((path) => path.slice(sourceInTarget.length + 1));
    assert.equal(kept.filter((path) => !path.startsWith('docs/')).sort(), ['big.bin', 'docs']);
    assert.equal(await describeTree(join(target, sourceInTarget, 'docs')), await describeTree(docs));
    // Every folder above the source is there, and holds only the way down.
    const above = sourceInTarget.split('/');
    above.forEach((_, depth) => {
      const folder = above.slice(0, depth + 1).join('/');
      const children = [...facts.keys()].filter((path) => path.startsWith(`${folder}/`) && !path.slice(folder.length + 1).includes('/'));
      if (depth < above.length - 1) assert.equal(children, [above.slice(0, depth + 2).join('/')], folder);
    });

    const [listed] = await archives(repo);
    assert.equal(listed?.paths, [big, docs, nested]);
    assert.is(listed?.source, `${big} ${docs} ${nested}`);
    assert.match((await repo.run('list')).stdout, new RegExp(`two-paths .* ${hostname()}:${big} ${docs} ${nested}\\n`));

    const again = await repo.run('create', 'same-paths', nested, big, docs);
    assertOk(again, 'create again');
    // The two other links of linked-a take its content, counted once.
    assert.match(again.stdout, /created: 6 files \(0 read, 4 unchanged\)/);
    await writeFile(join(repo.source, 'private.txt'), 'not asked for\n');
    assertOk(await repo.run('create', 'whole', repo.source), 'create of the folder');
    const judged = await repo.run('prune', '--keep-last', '1', '--dry-run');
    assertOk(judged, 'prune');
    // The two archives of the same paths are one group, whatever the order they were given in.
    assert.match(judged.stdout, /^delete .* two-paths$/m);
    assert.match(judged.stdout, /^keep .* same-paths {2}\(last 1\)$/m);
    assert.match(judged.stdout, /^keep .* whole {2}\(last 1\)$/m);
  }));

test('a lone file is kept under its path; an absolute link into the paths given is followed by restore --dereference', () =>
  withTestRepo('paths-file', async (repo) => {
    const readme = join(repo.source, 'docs', 'readme.txt');
    await symlink(readme, join(repo.source, 'absolute-link'));
    assertOk(await repo.run('create', 'file', readme), 'create of a file');
    const file = await describeTree(await restored(repo, 'file'));
    assert.equal([...file.values()].filter((fact) => (fact as { type: string }).type !== 'directory').length, 1);
    assert.ok(file.has(readme.slice(1)));

    assertOk(await repo.run('create', 'linked', join(repo.source, 'absolute-link'), readme), 'create of a link and its target');
    const facts = await describeTree(await restored(repo, 'linked', '--dereference'));
    assert.is((facts.get(join(repo.source, 'absolute-link').slice(1)) as { type: string; sha256: string } | undefined)?.sha256, (facts.get(readme.slice(1)) as { sha256: string }).sha256);
  }));

test('--exclude-caches and --exclude-if-present apply below each path given, not to it; path patterns are paths from /', () =>
  withTestRepo('paths-tags', async (repo) => {
    const tag = 'Signature: 8a477f597d28d172789f06886806bc55\n';
    await writeFile(join(repo.source, 'docs', 'CACHEDIR.TAG'), tag);
    await writeFile(join(repo.source, 'docs', 'nested', 'CACHEDIR.TAG'), tag);
    const docs = join(repo.source, 'docs');
    const spaces = join(repo.source, 'dir with spaces');
    assertOk(await repo.run('create', 'tagged', docs, spaces, '--exclude-caches', '--exclude', join(spaces, 'file with spaces.txt')), 'create');
    const facts = await describeTree(await restored(repo, 'tagged'));
    const inDocs = below(facts, docs.slice(1));
    assert.ok(inDocs.has('readme.txt'), 'a tagged folder given by name is backed up');
    assert.not.ok(inDocs.has('nested'), 'a tagged folder below it is not');
    assert.equal([...below(facts, spaces.slice(1)).keys()], [], 'the absolute pattern left out the file');
  }));

// Mounting needs root, as CI runs the tests.
if (process.getuid?.() === 0) {
  test('--one-file-system stays on the device of each path given: one on another filesystem is walked, a mount below it only when given too', () =>
    withTestRepo('paths-onefs', async (repo) => {
      const mountpoint = join(repo.dir, 'other-fs');
      const inner = join(mountpoint, 'inner');
      await mkdir(mountpoint);
      await exec('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountpoint]);
      try {
        await writeFile(join(mountpoint, 'on-tmpfs'), 'other filesystem');
        await mkdir(inner);
        await exec('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', inner]);
        try {
          await writeFile(join(inner, 'deeper'), 'a third filesystem');
          assertOk(await repo.run('create', 'onefs', join(repo.source, 'docs'), mountpoint, '--one-file-system'), 'create');
          // As restic's `backup --one-file-system / /media/usb`: a mount given by name is walked, inside another path given or not.
          assertOk(await repo.run('create', 'inner-too', join(repo.source, 'docs'), mountpoint, inner, '--one-file-system'), 'create');
        } finally {
          await exec('umount', [inner]);
        }
      } finally {
        await exec('umount', [mountpoint]);
      }
      const target = await restored(repo, 'onefs');
      assert.equal((await readdir(join(target, mountpoint))).sort(), ['inner', 'on-tmpfs']);
      assert.equal(await readdir(join(target, mountpoint, 'inner')), []);
      assert.ok((await readdir(join(target, repo.source, 'docs'))).includes('readme.txt'));
      assert.equal(await readdir(join(await restored(repo, 'inner-too'), inner)), ['deeper']);
    }));
}

test('--files-from adds the paths a file lists, as they are, but blank lines and comments', () =>
  withTestRepo('paths-files-from', async (repo) => {
    const spaced = join(repo.source, ' spaced name ');
    await writeFile(spaced, 'spaces at both ends\n');
    const list = join(repo.dir, 'list');
    await writeFile(list, `# what to back up\n\n${spaced}\r\n   \n${join(repo.source, 'docs', 'readme.txt')}\n  # indented comment`);
    assertOk(await repo.run('create', 'listed', join(repo.source, 'empty'), '--files-from', list), 'create');
    const [listed] = await archives(repo);
    assert.equal(listed?.paths, [spaced, join(repo.source, 'docs', 'readme.txt'), join(repo.source, 'empty')]);
    const target = await restored(repo, 'listed');
    const facts = await describeTree(join(target, repo.source));
    assert.equal([...facts.keys()], [' spaced name ', 'docs', 'docs/readme.txt', 'empty']);
  }));

test('a missing path, standard input among paths, no path, or more paths than an archive records: exit 2, no archive', () =>
  withTestRepo('paths-refused', async (repo) => {
    const missing = await repo.run('create', 'broken', join(repo.source, 'docs'), join(repo.source, 'nothere'));
    assert.is(missing.status, 2);
    assert.match(missing.stderr, /^preserve: cannot read source .*\/nothere: ENOENT: no such file or directory$/m);
    const stdin = await repo.run('create', 'broken', join(repo.source, 'docs'), '-');
    assert.is(stdin.status, 2);
    assert.match(stdin.stderr, /^preserve: standard input \(-\) is backed up alone, not with other paths; a command to run needs --stdin-from-command$/m);
    const none = await repo.run('create', 'broken');
    assert.is(none.status, 2);
    assert.match(none.stderr, /^preserve: create needs a PATH to back up \(or - for standard input\)$/m);
    const empty = join(repo.dir, 'empty-list');
    await writeFile(empty, '# nothing yet\n');
    const unlisted = await repo.run('create', 'broken', '--files-from', empty);
    assert.is(unlisted.status, 2);
    assert.match(unlisted.stderr, /^preserve: --files-from lists no path: .*empty-list$/m);
    // 1,000 files of 70-byte names, each path given: more than the 64 KiB an archive's source takes.
    const many = join(repo.dir, 'many');
    await mkdir(many);
    const names = Array.from({ length: 1000 }, (_, k) => `${String(k).padStart(4, '0')}-${'x'.repeat(65)}`);
    for (const name of names) await writeFile(join(many, name), '');
    const list = join(repo.dir, 'list');
    await writeFile(list, names.map((name) => join(many, name)).join('\n'));
    const tooMany = await repo.run('create', 'broken', '--files-from', list);
    assert.is(tooMany.status, 2);
    assert.match(tooMany.stderr, /^preserve: the 1000 paths given take \d+ bytes, more than the 65536 an archive records of its source; give the folders that hold them, with --exclude for what to leave out$/m);
    assert.equal(await archives(repo), []);
  }));

test.run();
