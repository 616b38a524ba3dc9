/**
 * Extended attributes, and the ACLs Linux keeps in them: create keeps every one (the
 * fixture has user.* values, a binary one, an ACL naming a user, and here a trusted.* one
 * and the backed-up folder's own), restore sets them all as root and those it may as
 * another user, `--no-xattrs` leaves them out on either side, and folders without any
 * keep the trees (and ids) they had before extended attributes were kept.
 */
import { execFile } from 'node:child_process';
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { getAttribute, listAttributes, setAttribute } from 'fs-xattr';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertOk, runAs, withTestRepo } from './cli-support.js';
import { NAMED_USER_ACL, describeTree } from './support.js';

const exec = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

test('create and restore keep every extended attribute: user.*, binary values, an ACL naming a user, trusted.* as root', () =>
  withTestRepo('xattrs', async (repo) => {
    if (isRoot) await setAttribute(join(repo.source, 'big.bin'), 'trusted.note', 'only root reads this');
    assertOk(await repo.run('create', 'a', repo.source), 'create');
    const target = join(repo.dir, 'out');
    assertOk(await repo.run('restore', 'a', target), 'restore');
    const [restored, source] = await Promise.all([describeTree(target), describeTree(repo.source)]);
    assert.equal(restored, source);
    assert.ok(restored.get('private.txt')?.xattrs?.startsWith('system.posix_acl_access='), 'the ACL is there to compare');
    assert.ok((await getAttribute(join(target, 'private.txt'), 'system.posix_acl_access')).equals(NAMED_USER_ACL));
    if (isRoot) assert.is((await getAttribute(join(target, 'big.bin'), 'trusted.note')).toString(), 'only root reads this');
  }));

test('create --no-xattrs stores none; the entries that have some are all that differ, so folders without any share their trees', () =>
  withTestRepo('xattrs-none', async (repo) => {
    assertOk(await repo.run('create', 'plain', repo.source, '--no-xattrs'), 'create --no-xattrs');
    assertOk(await repo.run('create', 'full', repo.source), 'create');
    const diff = await repo.run('diff', 'plain', 'full');
    assertOk(diff, 'diff');
    assert.equal(diff.stdout.trim().split('\n'), ['M docs/ (xattrs)', 'M docs/readme.txt (xattrs)', 'M private.txt (xattrs)']);
    const target = join(repo.dir, 'plain-out');
    assertOk(await repo.run('restore', 'plain', target), 'restore');
    assert.equal(await listAttributes(join(target, 'docs', 'readme.txt')), []);
  }));

test('restore --no-xattrs sets none; as a user other than root, user.* and ACLs are set and the others counted in one warning', () =>
  withTestRepo('xattrs-restore', async (repo) => {
    if (isRoot) await setAttribute(join(repo.source, 'big.bin'), 'trusted.note', 'only root reads this');
    assertOk(await repo.run('create', 'a', repo.source), 'create');
    const bare = join(repo.dir, 'bare');
    assertOk(await repo.run('restore', 'a', bare, '--no-xattrs'), 'restore --no-xattrs');
    assert.equal([...(await describeTree(bare)).values()].filter((facts) => facts.xattrs !== undefined), []);

    // As root, the restore runs as nobody, with a world-usable repository.
    if (isRoot) {
      await chmod(repo.dir, 0o777);
      await chmod(repo.keyfile, 0o644);
      await exec('chmod', ['-R', 'a+rX', repo.backend]);
    }
    const target = join(repo.dir, 'as-nobody');
    const result = await runAs(isRoot ? NOBODY : undefined, ['restore', '--keyfile', repo.keyfile, '--backend', repo.backend, 'a', target]);
    assert.is(result.status, 0, result.stderr);
    const restored = await describeTree(target);
    const source = await describeTree(repo.source);
    assert.is(restored.get('docs/readme.txt')?.xattrs, source.get('docs/readme.txt')?.xattrs, 'user.* values, the binary one too');
    assert.is(restored.get('docs')?.xattrs, source.get('docs')?.xattrs, "a folder's");
    assert.ok((await getAttribute(join(target, 'private.txt'), 'system.posix_acl_access')).equals(NAMED_USER_ACL), 'the ACL, set by its owner');
    if (isRoot) {
      assert.equal(await listAttributes(join(target, 'big.bin')), [], 'trusted.* only root may set');
      assert.match(result.stderr, /warning: extended attributes outside user\.\* and ACLs were not restored \(1, such as security\.capability\): only root may set them/);
    }
  }));

test('restore --overwrite if-changed writes again a file whose extended attribute was changed (its time was not)', () =>
  withTestRepo('xattrs-overwrite', async (repo) => {
    assertOk(await repo.run('create', 'a', repo.source), 'create');
    const target = join(repo.dir, 'out');
    assertOk(await repo.run('restore', 'a', target), 'restore');
    const readme = join(target, 'docs', 'readme.txt');
    await setAttribute(readme, 'user.comment', 'changed after the restore');
    const again = await repo.run('restore', 'a', target, '--overwrite', 'if-changed');
    assertOk(again, 'restore --overwrite if-changed');
    // readme.txt's 16 bytes alone are written again (the two later hardlinks are linked anew, as if-changed always does).
    assert.match(again.stderr + again.stdout, /restored 3 files, .*\(16 B\) into .*; kept \d+ files and symlinks already there/);
    assert.is((await getAttribute(readme, 'user.comment')).toString(), 'read me first');
  }));

test.run();
