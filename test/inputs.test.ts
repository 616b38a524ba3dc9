/**
 * Bad input from outside: wrong, truncated and garbled keyfiles, a backend written with
 * another key (for every command), a source tree that changes shape while it is backed
 * up (a file replaced by a folder), and one deeper than a path can reach. Plus the list,
 * verify and diff cases the CLI tests do not cover.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertOk, startPreserve, withTestRepo } from './cli-support.js';
import { describeTree, makeTempDir, PRESERVE_BIN, PROJECT_ROOT, runPreserve } from './support.js';

const exec = promisify(execFile);

test('wrong, truncated, garbled, empty, binary and folder keyfiles: one sentence, exit 2, nothing written', () =>
  withTestRepo('keyfiles', async (repo) => {
    assertOk(await repo.run('create', 'a', repo.source), 'create');
    const key = await readFile(repo.keyfile, 'utf8');
    const flipped = `${key[0] === '0' ? '1' : '0'}${key.slice(1)}`;
    const cases: [string, string | Buffer, RegExp][] = [
      ['truncated', key.slice(0, 100), /malformed: expected 256 hex characters, found 100/],
      ['cut by one', key.slice(0, 255), /found 255/],
      ['empty', '', /found 0/],
      ['binary', Buffer.from(Array.from({ length: 257 }, (_, i) => (i * 37) % 256)), /malformed/],
      ['trailing space', `${key.trim()} \n`, /found 257/],
      ['one hex digit changed', flipped, /keyfile does not match the backend .*: no archive name decrypts with it/],
    ];
    for (const [label, content, message] of cases) {
      const path = join(repo.dir, `key-${label.replace(/ /g, '-')}`);
      await writeFile(path, content, { mode: 0o600 });
      // Every command loads the key the same way; the wrong-key case also goes through create.
      const commands = label === 'one hex digit changed' ? [['list'], ['create', 'b', repo.source]] : [['list']];
      for (const args of commands) {
        const result = await runPreserve([...args, '--keyfile', path, '--backend', repo.backend]);
        assert.is(result.status, 2, `${label}, ${args[0]}: ${result.stderr}`);
        assert.match(result.stderr, message, `${label}, ${args[0]}`);
        assert.is(result.stderr.trim().split('\n').length, 1, `${label}: one sentence`);
      }
    }
    const folder = await runPreserve(['list', '--keyfile', repo.dir, '--backend', repo.backend]);
    assert.is(folder.status, 2);
    assert.match(folder.stderr, /is a folder, not a file/);
    const listed = await repo.run('list', '--json');
    assert.equal((JSON.parse(listed.stdout) as { name: string }[]).map((a) => a.name), ['a'], 'no create went through');
  }));

test('a backend written with another key: every command refuses it with exit 2', () =>
  withTestRepo('other-key', async (repo) => {
    assertOk(await repo.run('create', 'a', repo.source), 'create');
    assertOk(await repo.run('create', 'b', repo.source), 'create');
    const other = join(repo.dir, 'other-key');
    assertOk(await runPreserve(['keygen', '--keyfile', other]), 'keygen');
    const commands = [['list'], ['verify'], ['verify', 'a'], ['restore', 'a', join(repo.dir, 'out')], ['diff', 'a', 'b'], ['scrub', '--once'], ['create', 'c', repo.source]];
    for (const args of commands) {
      const result = await runPreserve([...args, '--keyfile', other, '--backend', repo.backend]);
      assert.is(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, /keyfile does not match the backend/);
    }
  }));

test('a file replaced by a folder during the backup is stored as the folder it became', () =>
  withTestRepo('replaced', async (repo) => {
    const path = join(repo.source, 'docs', 'readme.txt');
    const create = startPreserve(repo, 'create', ['replaced', repo.source, '--rescan-delay', '1500', '--verbose']);
    await create.waitFor(/pausing \d+ ms/);
    await unlink(path);
    await mkdir(path);
    await writeFile(join(path, 'inside.txt'), 'now a folder\n');
    assert.equal(await create.exited, { code: 0, signal: null }, create.stderr);
    assert.match(create.stderr, /1 file changed during the backup \(.*readme\.txt\); reading again/);
    const target = join(repo.dir, 'restored');
    assertOk(await repo.run('restore', 'replaced', target), 'restore');
    assert.equal(await describeTree(target), await describeTree(repo.source));
  }));

test('a path flipping between file and folder throughout a backup: exit 0 or 1 with a reason, never a crash; the archive is sound', () =>
  withTestRepo('flipping', async (repo) => {
    const path = join(repo.source, 'flip');
    let flipping = true;
    const flipper = (async () => {
      for (let i = 0; flipping; i++) {
        await rm(path, { recursive: true, force: true });
        if (i % 2 === 0) await writeFile(path, 'a file for now\n'.repeat(1000));
        else await mkdir(path).then(() => writeFile(join(path, 'child'), 'x'));
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    let result;
    try {
      result = await repo.run('create', 'flipping', repo.source, '--rescan-delay', '0');
    } finally {
      flipping = false;
      await flipper;
    }
    assert.ok(result.status === 0 || result.status === 1, result.stderr);
    assert.not.match(result.stderr, /\n\s+at /, 'no stack trace');
    if (result.status === 1) assert.match(result.stderr, /flip(\/child)?: (ENOENT|EISDIR|ENOTDIR|it changed)/);
    assertOk(await repo.run('verify', 'flipping'), 'verify');
    assertOk(await repo.run('restore', 'flipping', join(repo.dir, 'restored')), 'restore');
  }));

test('a folder deeper than PATH_MAX (4,096 bytes) is reported and left out, exit 1; everything above it is backed up and restores', () =>
  withTestRepo('deep-path', async (repo) => {
    // Built and removed by the shell one level at a time: node's fs (and its recursive rm)
    // takes whole paths, which the kernel refuses past PATH_MAX. A file every 100 levels.
    // (`cd -P`: dash's plain `cd` changes to the whole logical path.)
    const deep = join(repo.source, 'deep');
    const restored = join(repo.dir, 'r');
    try {
      await exec('sh', ['-c', 'mkdir "$1" && cd "$1" && i=0; while [ $i -lt 1400 ]; do mkdir dd && cd -P dd || exit 1; i=$((i+1)); [ $((i % 100)) -ne 0 ] || echo $i > f; done', 'sh', deep]);
      const create = await repo.run('create', 'deep', repo.source);
      assert.is(create.status, 1, create.stderr);
      assert.match(create.stderr, /\/dd: ENAMETOOLONG: name too long\n/);
      assert.match(create.stderr, /1 entry could not be read and was left out of the archive/);
      const listed = (await repo.run('list', 'deep', '--json')).stdout.trim().split('\n').map((line) => JSON.parse(line) as { path: string });
      const files = listed.map((entry) => entry.path).filter((path) => path.startsWith('deep/') && path.endsWith('/f'));
      const reachable = Math.floor((4096 - repo.source.length - '/deep/f'.length) / 3);
      assert.is(files.length, Math.floor(reachable / 100), `files at every 100 levels down to about ${reachable}`);
      assertOk(await repo.run('verify', 'deep'), 'verify');
      assertOk(await repo.run('restore', 'deep', restored), 'restore');
      const thousandLevelsDown = join(restored, 'deep', ...Array<string>(1000).fill('dd'), 'f');
      assert.is(await readFile(thousandLevelsDown, 'utf8'), '1000\n');
      await exec('rm', ['-rf', join(restored, 'deep'), deep]);
      assert.equal(await describeTree(restored), await describeTree(repo.source), 'the rest restored as it was');
    } finally {
      await exec('rm', ['-rf', deep, restored]);
    }
  }));

test('list, verify and diff: no archives, unknown names, and a file that became a folder', () =>
  withTestRepo('list-verify-diff', async (repo) => {
    await mkdir(repo.backend);
    const empty = await repo.run('list');
    assertOk(empty, 'list of an empty backend');
    assert.match(empty.stdout, /^no archives on file:\/\//);
    assert.is((await repo.run('list', '--json')).stdout.trim(), '[]');
    assertOk(await repo.run('create', 'before', repo.source), 'create');
    const unknownVerify = await repo.run('verify', 'nope');
    assert.is(unknownVerify.status, 2);
    assert.match(unknownVerify.stderr, /there is no archive named "nope"/);
    const unknownDiff = await repo.run('diff', 'before', 'nope');
    assert.is(unknownDiff.status, 2);
    await unlink(join(repo.source, 'private.txt'));
    await mkdir(join(repo.source, 'private.txt'));
    await writeFile(join(repo.source, 'private.txt', 'inside'), 'x');
    assertOk(await repo.run('create', 'after', repo.source), 'create');
    const diff = await repo.run('diff', 'before', 'after');
    assertOk(diff, 'diff');
    assert.equal(diff.stdout.trim().split('\n'), ['- private.txt', '+ private.txt/', '+ private.txt/inside']);
    const reverse = await repo.run('diff', 'after', 'before');
    assert.equal(reverse.stdout.trim().split('\n'), ['- private.txt/', '- private.txt/inside', '+ private.txt']);
    const verify = await repo.run('verify');
    assertOk(verify, 'verify');
    assert.match(verify.stdout, /checked 2 archives: /);
  }));

test('a checkout never installed (no dist/, or no node_modules/): one sentence naming npm install, exit 2', async () => {
  const home = await makeTempDir('uninstalled');
  try {
    const launcher = join(home.path, 'bin', 'preserve');
    await mkdir(join(home.path, 'bin'));
    await cp(PRESERVE_BIN, launcher);
    const unbuilt = await runPreserve(['list'], {}, launcher);
    assert.is(unbuilt.status, 2, unbuilt.stderr);
    assert.match(unbuilt.stderr, /^preserve: not installed in .*uninstalled.*: run `npm install` there first \(Cannot find module .*main\.js/);
    assert.is(unbuilt.stderr.trim().split('\n').length, 1, 'one sentence');
    // Built, but its dependencies missing: /tmp has no node_modules for the copy to find.
    await cp(join(PROJECT_ROOT, 'dist'), join(home.path, 'dist'), { recursive: true });
    const withoutDependencies = await runPreserve(['list'], {}, launcher);
    assert.is(withoutDependencies.status, 2, withoutDependencies.stderr);
    assert.match(withoutDependencies.stderr, /run `npm install` there first \(Cannot find package/);
  } finally {
    await home.remove();
  }
});

test.run();
