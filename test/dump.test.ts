/**
 * dump: a file's bytes, or a folder as a tar that the system's own `tar` extracts into a
 * copy of the source (modes, times, hardlinks, symlinks, extended attributes and ACLs
 * but a binary value, which is left out with a warning); a missing path, a damaged
 * block, a name a tar cannot carry, a reader that stops early and a terminal as output
 * get their documented status.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { removeAttribute } from 'fs-xattr';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type TestRepo, assertOk, flipByte, objectFilesOf, startPreserve, withTestRepo } from './cli-support.js';
import { PRESERVE_BIN, describeTree, latin1Path, makeLatin1Tree, runPreserve } from './support.js';

const exec = promisify(execFile);

/** Runs `preserve dump` with its output going to `outFile` as bytes; the exit status and stderr. */
async function dumpTo(repo: TestRepo, outFile: string, ...args: string[]): Promise<{ status: number; stderr: string }> {
  const out = await open(outFile, 'w');
  try {
    const running = startPreserve(repo, 'dump', args, {}, out.fd);
    const { code } = await running.exited;
    return { status: code ?? 1, stderr: running.stderr };
  } finally {
    await out.close();
  }
}

test('dump writes a file as its bytes, and a folder as a tar that tar extracts into a copy of the source', () =>
  withTestRepo('dump', async (repo) => {
    assertOk(await repo.run('create', 'a', repo.source), 'create');
    const big = join(repo.dir, 'big.bin');
    assertOk(await dumpTo(repo, big, 'a', 'big.bin'), 'dump of a file');
    assert.ok((await readFile(big)).equals(await readFile(join(repo.source, 'big.bin'))), 'the same bytes');

    // A tar carries an attribute's value as text: the fixture's binary one is left out, so the source is compared without it.
    await removeAttribute(join(repo.source, 'docs', 'readme.txt'), 'user.binary');
    for (const [path, within] of [['/', ''], ['docs', 'docs']] as const) {
      const tarFile = join(repo.dir, `dump-${within || 'all'}.tar`);
      const dumped = await dumpTo(repo, tarFile, 'a', path);
      assertOk(dumped, `dump of ${path}`);
      assert.match(dumped.stderr, /warning: docs\/readme\.txt: its extended attribute user\.binary is not text, which this tar cannot carry; left out/);
      const extracted = join(repo.dir, `extracted-${within || 'all'}`);
      await mkdir(extracted);
      await exec('tar', ['--xattrs', '--xattrs-include=*', '--acls', '-xpf', tarFile, '-C', extracted]);
      assert.equal(await describeTree(join(extracted, within)), await describeTree(join(repo.source, within)), path);
    }
    const listing = (await exec('tar', ['-tvf', join(repo.dir, 'dump-docs.tar')])).stdout;
    assert.match(listing, /^hrw-r--r-- \S+ +0 .* docs\/linked-c link to docs\/linked-a$/m);
    assert.match(listing, /^lrwxrwxrwx .* docs\/link-to-file -> readme\.txt$/m);
  }));

test('dump of a missing path is exit 2 with nothing written; a damaged block stops it with exit 1', () =>
  withTestRepo('dump-bad', async (repo) => {
    assertOk(await repo.run('create', 'a', repo.source), 'create');
    const missing = join(repo.dir, 'missing');
    const absent = await dumpTo(repo, missing, 'a', 'no/such/file');
    assert.is(absent.status, 2);
    assert.match(absent.stderr, /archive "a" has no entry "no\/such\/file"/);
    assert.is((await stat(missing)).size, 0);

    const blocks = await objectFilesOf(repo, 'a', 'big.bin');
    assert.ok(blocks.length > 1, 'big.bin spans several blocks');
    await flipByte(blocks[1] as string, 40);
    for (const path of ['big.bin', '/']) {
      const out = join(repo.dir, 'damaged');
      const damaged = await dumpTo(repo, out, 'a', path);
      assert.is(damaged.status, 1, damaged.stderr);
      assert.match(damaged.stderr, new RegExp(`dump of "${path === '/' ? '/' : 'big\\.bin'}" stopped, its output is incomplete: .*block`));
      assert.ok((await stat(out)).size < (await stat(join(repo.source, 'big.bin'))).size, 'stopped before the damaged block');
    }
  }));

test('a name that is not UTF-8 is left out of a tar with all it holds, exit 1; its file still dumps as bytes', () =>
  withTestRepo('dump-latin1', async (repo) => {
    const source = join(repo.dir, 'latin1');
    await makeLatin1Tree(source);
    assertOk(await repo.run('create', 'l', source), 'create');
    const tarFile = join(repo.dir, 'latin1.tar');
    const result = await dumpTo(repo, tarFile, 'l', '/');
    assert.is(result.status, 1);
    assert.match(result.stderr, /caf\u00e9: a name that is not UTF-8 cannot be written to the tar; left out with all it holds/);
    assert.not.match(result.stderr, /r\u00e9sum\u00e9/, 'what the left-out folder holds is not reported again');
    assert.match(result.stderr, /5 entries could not be written to the tar/);
    assert.equal((await exec('tar', ['-tf', tarFile])).stdout, '', 'every name here holds a Latin-1 byte');

    const file = join(repo.dir, 'naive');
    const byBytes = await new Promise<number>((resolve) => {
      // The name goes to preserve as raw bytes through sh, which Node cannot pass itself.
      const child = spawn('sh', ['-c', `"$0" "$1" dump --keyfile "$2" --backend "$3" l "$(printf 'na\\357ve')" > "$4"`, process.execPath, PRESERVE_BIN, repo.keyfile, repo.backend, file], { stdio: 'ignore' });
      child.on('close', (code) => resolve(code ?? 1));
    });
    assert.is(byBytes, 0);
    assert.ok((await readFile(file)).equals(await readFile(latin1Path(source, 'naïve'))));
  }));

test('a reader that stops early (| head) ends a dump with status 0 and no message', () =>
  withTestRepo('dump-head', async (repo) => {
    await removeAttribute(join(repo.source, 'docs', 'readme.txt'), 'user.binary'); // a tar cannot carry it: dump would warn
    assertOk(await repo.run('create', 'a', repo.source), 'create');
    for (const path of ['big.bin', '/']) {
      // bash reports the exit status of each command of the pipe; head stops after 100 bytes of several MiB.
      const script = '"$0" "$1" dump --keyfile "$2" --backend "$3" a "$4" 2>"$5" | head -c 100 >/dev/null; echo "${PIPESTATUS[0]}"';
      const stderrFile = join(repo.dir, 'head.err');
      const { stdout } = await exec('bash', ['-c', script, process.execPath, PRESERVE_BIN, repo.keyfile, repo.backend, path, stderrFile]);
      assert.is(stdout.trim(), '0', path);
      assert.is(await readFile(stderrFile, 'utf8'), '', path);
    }
  }));

test('dump refuses to write a tar to a terminal, exit 2', () =>
  withTestRepo('dump-tty', async (repo) => {
    assertOk(await repo.run('create', 'a', repo.source), 'create');
    // util-linux's script runs the command on a pseudo-terminal.
    const command = [process.execPath, PRESERVE_BIN, 'dump', '--keyfile', repo.keyfile, '--backend', repo.backend, 'a', 'docs'].map((arg) => `'${arg}'`).join(' ');
    const child = await exec('script', ['-qec', command, '/dev/null']).then(
      () => ({ code: 0, stdout: '' }),
      (error: { code: number; stdout: string }) => error,
    );
    assert.is(child.code, 2);
    assert.match(child.stdout, /"docs" would be written as a tar to the terminal; send it to a file or a pipe/);
    const file = await runPreserve(['dump', '--keyfile', repo.keyfile, '--backend', repo.backend, 'a', 'docs/readme.txt']);
    assertOk(file, 'a file goes to any output');
    assert.is(file.stdout, 'hello, preserve\n');
  }));

test.run();
