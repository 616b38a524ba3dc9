/**
 * find: the entries patterns match in every archive (or one), oldest first and in find
 * order, as text or JSON; the same folder at two paths is searched at each; a damaged
 * folder is reported wherever it is used and the rest still searched (exit 1); usage
 * errors exit 2.
 */
import { mkdir, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type TestRepo, assertOk, flipByte, objectFilesOf, withTestRepo } from './cli-support.js';

/** x/sub and y/sub hold the same file with the same times: one tree, at two paths. */
async function makeTree(root: string): Promise<void> {
  for (const folder of ['x/sub', 'y/sub']) {
    await mkdir(join(root, folder), { recursive: true });
    await writeFile(join(root, folder, 'a.txt'), 'same\n');
    await utimes(join(root, folder, 'a.txt'), 1_700_000_000, 1_700_000_000);
    await utimes(join(root, folder), 1_700_000_000, 1_700_000_000);
  }
  await writeFile(join(root, 'report.pdf'), 'pdf\n');
  await writeFile(join(root, 'x', 'old.pdf'), 'old\n');
}

/** The archive:/path at the end of each line find printed (before its summary line). */
function foundPaths(stdout: string): string[] {
  return stdout
    .trim()
    .split('\n')
    .slice(0, -1)
    .map((line) => line.slice(line.lastIndexOf(' ') + 1));
}

async function twoArchives(repo: TestRepo): Promise<string> {
  const source = join(repo.dir, 'tree');
  await makeTree(source);
  assertOk(await repo.run('create', 'one', source), 'create one');
  await rm(join(source, 'x', 'old.pdf'));
  await writeFile(join(source, 'y', 'new.pdf'), 'new\n');
  assertOk(await repo.run('create', 'two', source), 'create two');
  return source;
}

test('find lists what patterns match in every archive, oldest first, in find order; --archive narrows it; --json adds the archive; -i ignores case', () =>
  withTestRepo('find', async (repo) => {
    await twoArchives(repo);
    const pdfs = await repo.run('find', '*.pdf');
    assertOk(pdfs, 'find');
    assert.equal(foundPaths(pdfs.stdout), ['one:/report.pdf', 'one:/x/old.pdf', 'two:/report.pdf', 'two:/y/new.pdf']);
    assert.match(pdfs.stdout, /^-rw-r--r-- \S+ +\S+ +4 \S+ one:\/report\.pdf$/m);
    assert.match(pdfs.stdout, /\n4 entries in 2 of 2 archives\n$/);

    // The same tree holds no match under x/sub and one under y/sub.
    const underY = await repo.run('find', 'y/sub/*', 'nothing-by-this-name');
    assert.equal(foundPaths(underY.stdout), ['one:/y/sub/a.txt', 'two:/y/sub/a.txt']);
    const folders = await repo.run('find', 'sub', '--archive', 'two');
    assert.equal(foundPaths(folders.stdout), ['two:/x/sub/', 'two:/y/sub/']);

    const json = await repo.run('find', '*.txt', '--json');
    assertOk(json, 'find --json');
    const rows = json.stdout.trim().split('\n').map((line) => JSON.parse(line) as { archive: string; path: string; type: string; size: number });
    assert.equal(rows.map((r) => [r.archive, r.path, r.type, r.size]), [
      ['one', 'x/sub/a.txt', 'file', 5],
      ['one', 'y/sub/a.txt', 'file', 5],
      ['two', 'x/sub/a.txt', 'file', 5],
      ['two', 'y/sub/a.txt', 'file', 5],
    ]);

    assert.equal(foundPaths((await repo.run('find', 'REPORT.PDF', 'Y/*/A.TXT')).stdout), [], 'case matters');
    const anyCase = await repo.run('find', '--ignore-case', 'REPORT.PDF', 'Y/*/A.TXT');
    assert.equal(foundPaths(anyCase.stdout), ['one:/report.pdf', 'one:/y/sub/a.txt', 'two:/report.pdf', 'two:/y/sub/a.txt']);

    const none = await repo.run('find', '*.doc');
    assertOk(none, 'find with no match');
    assert.is(none.stdout, '0 entries in 0 of 2 archives\n');
  }));

test('find reports a damaged folder with its archive and path, searches the rest, and exits 1; usage errors exit 2', () =>
  withTestRepo('find-damaged', async (repo) => {
    await twoArchives(repo);
    // two's x now holds only sub, as one's y did: one tree, damaged at both places.
    const [xTree] = await objectFilesOf(repo, 'two', 'x');
    assert.equal(await objectFilesOf(repo, 'one', 'y'), [xTree]);
    await flipByte(xTree as string, 40);
    const damaged = await repo.run('find', '*.txt');
    assert.is(damaged.status, 1, damaged.stderr);
    assert.match(damaged.stderr, /^preserve: one:\/y: tree [0-9a-f]{64} failed authentication/m);
    assert.match(damaged.stderr, /^preserve: two:\/x: tree [0-9a-f]{64} failed authentication/m);
    assert.match(damaged.stderr, /2 archives and folders could not be read and were not searched/);
    assert.equal(foundPaths(damaged.stdout), ['one:/x/sub/a.txt', 'two:/y/sub/a.txt']);

    const noPattern = await repo.run('find');
    assert.is(noPattern.status, 2);
    assert.match(noPattern.stderr, /missing required argument 'patterns'/);
    const unknown = await repo.run('find', '*', '--archive', 'three');
    assert.is(unknown.status, 2);
    assert.match(unknown.stderr, /no archive named "three"/);
  }));

test.run();
