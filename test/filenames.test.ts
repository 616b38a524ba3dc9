/**
 * File names and symlink targets that are not UTF-8 (src/filenames): kept byte for byte
 * by the name mapping, the tree format, create and its cache, restore, verify and diff,
 * and on the command line. (The mount's side is in mount.test.ts.)
 */
import { execFile } from 'node:child_process';
import { lstat, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { Level } from 'level';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Entry, NO_XATTRS, decodeTree, encodeTree, inTreeOrder, mergedInTreeOrder } from '../src/archive/index.js';
import { argumentsFromCommandLine } from '../src/cli/command-line.js';
import { FormatError } from '../src/errors/index.js';
import { fsPath, nameFromBytes, nameToBytes, readFolderNames, shownName } from '../src/filenames/index.js';
import { type TestRepo, assertOk, withTestRepo } from './cli-support.js';
import { PRESERVE_BIN, exitStatusOf, latin1, latin1Path, makeLatin1Tree, makeTempDir } from './support.js';

const bytes = (...values: number[]) => Buffer.from(values);

test('valid UTF-8 decodes as usual; every byte of anything else becomes a lone surrogate U+DC80 + byte', () => {
  const vectors: [Buffer, string][] = [
    [Buffer.from('plain é € 😀'), 'plain é € 😀'],
    [bytes(0x66, 0xff), 'f\udcff'],
    [bytes(0x63, 0x61, 0x66, 0xe9), 'caf\udce9'], // Latin-1 "café"
    [bytes(0xc0, 0xaf), '\udcc0\udcaf'], // overlong "/"
    [bytes(0xed, 0xa0, 0x80), '\udced\udca0\udc80'], // an encoded surrogate
    [bytes(0xf4, 0x90, 0x80, 0x80), '\udcf4\udc90\udc80\udc80'], // beyond U+10FFFF
    [bytes(0xe2, 0x82), '\udce2\udc82'], // cut short
    [bytes(0xe2, 0x82, 0x41), '\udce2\udc82A'],
    [Buffer.concat([Buffer.from('😀'), bytes(0xff), Buffer.from('é')]), '😀\udcffé'],
  ];
  for (const [raw, name] of vectors) {
    assert.is(nameFromBytes(raw), name, raw.toString('hex'));
    assert.ok(nameToBytes(name).equals(raw), `${raw.toString('hex')} back to bytes`);
  }
});

test('any bytes round trip, and text is the very string Node would give', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (raw) => nameToBytes(nameFromBytes(raw)).equals(Buffer.from(raw))), { numRuns: 2000 });
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 32 }), (text) => nameFromBytes(Buffer.from(text)) === text), { numRuns: 500 });
});

test('fs calls get text as it is and other names as their bytes; shown names read odd bytes as Latin-1', () => {
  assert.is(fsPath('/tmp/ü'), '/tmp/ü');
  assert.ok((fsPath('/tmp/caf\udce9') as Buffer).equals(Buffer.from([...Buffer.from('/tmp/caf'), 0xe9])));
  assert.is(shownName('ü 😀'), 'ü 😀');
  assert.is(shownName('caf\udce9'), 'café');
  assert.is.not(shownName('caf\udce8'), shownName('caf\udce9'));
});

test("a folder is listed by its names' bytes: U+FFFD itself stays U+FFFD, an odd byte stays that byte", async () => {
  const dir = await makeTempDir('names');
  try {
    await writeFile(join(dir.path, 'plain'), '');
    await writeFile(join(dir.path, '\ufffd'), ''); // the character itself, valid UTF-8
    assert.equal(readFolderNames(dir.path).sort(), ['plain', '\ufffd']);
    await writeFile(Buffer.concat([Buffer.from(`${dir.path}/`), bytes(0xff)]), '');
    assert.equal(readFolderNames(dir.path).sort(), ['plain', '\udcff', '\ufffd']);
  } finally {
    await dir.remove();
  }
});

const attributes = { mode: 0o644, uid: 0, gid: 0, mtimeNs: 0n, xattrs: NO_XATTRS };
const link = (name: string, target: string): Entry => ({ ...attributes, name, type: 'symlink', target });

test('a tree is version 1 while its names and targets are text, version 2 (any bytes) otherwise', () => {
  const text = [link('a', 'b')];
  assert.is(encodeTree(text)[0], 1);
  for (const entries of [[link('caf\udce9', 'b')], [link('a', '/x\udcff')]]) {
    const encoded = encodeTree(entries);
    assert.is(encoded[0], 2);
    assert.equal(decodeTree(encoded, 't'), entries);
  }
  // The bytes themselves are stored: "caf" then 0xE9, not U+FFFD or a surrogate's UTF-8.
  assert.ok(encodeTree([link('caf\udce9', 'b')]).includes(bytes(4, 0x63, 0x61, 0x66, 0xe9)));
  // A version 1 tree still holds only UTF-8.
  const mislabelled = encodeTree([link('caf\udce9', 'b')]);
  mislabelled[0] = 1;
  assert.throws(() => decodeTree(mislabelled, 't'), (e: unknown) => e instanceof FormatError && /not valid UTF-8/.test((e as Error).message));
});

test('names are ordered by their bytes, escaped ones included', () => {
  // Bytes 80, EF BC A1, F0 9F 98 80, FF; by UTF-16 code units the order would be 😀 (D83D), 80 (DC80), FF (DCFF), Ａ (FF21).
  const names = ['a\udcff', 'a😀', 'a\uff21', 'a\udc80', 'a'];
  const ordered = inTreeOrder(names.map((name) => link(name, 't'))).map((entry) => entry.name);
  assert.equal(ordered, ['a', 'a\udc80', 'a\uff21', 'a😀', 'a\udcff']);
  const tree = inTreeOrder(names.map((name) => link(name, 't')));
  assert.equal(decodeTree(encodeTree(tree), 't'), tree);
  const reversed = encodeTree([...tree].reverse());
  assert.throws(() => decodeTree(reversed, 't'), (e: unknown) => e instanceof FormatError && /out of order/.test((e as Error).message));
});

test('two lists in tree order merge into tree order, however the names are split between them', () => {
  const names = ['a\udcff', 'a😀', 'a\uff21', 'a\udc80', 'a', 'b'];
  const all = inTreeOrder(names.map((name) => link(name, 't')));
  for (let split = 0; split < 2 ** names.length; split++) {
    const first = all.filter((_, k) => (split >> k) & 1);
    const second = all.filter((_, k) => !((split >> k) & 1));
    assert.equal(mergedInTreeOrder(first, second), all, `split ${split.toString(2)}`);
    assert.equal(mergedInTreeOrder(second, first), all, `split ${split.toString(2)}, swapped`);
  }
});

/** Every entry below root, keyed by its path's bytes in hex: type, mode, content or target. */
async function describeBytes(root: Buffer): Promise<Map<string, string>> {
  const facts = new Map<string, string>();
  async function visit(folder: Buffer): Promise<void> {
    for (const name of await readdir(folder, { encoding: 'buffer' })) {
      const path = Buffer.concat([folder, Buffer.from('/'), name]);
      const info = await lstat(path);
      const key = path.subarray(root.length).toString('hex');
      if (info.isDirectory()) {
        facts.set(key, `folder ${info.mode.toString(8)}`);
        await visit(path);
      } else if (info.isSymbolicLink()) facts.set(key, `link ${(await readlink(path, { encoding: 'buffer' })).toString('hex')}`);
      else facts.set(key, `file ${info.mode.toString(8)} ${(await readFile(path)).toString('hex')}`);
    }
  }
  await visit(root);
  return facts;
}

test('names and link targets that are not UTF-8 are backed up, cached, verified, diffed and restored byte for byte', () =>
  withTestRepo('latin1', async (repo) => {
    const source = join(repo.dir, 'latin1');
    await makeLatin1Tree(source);
    const first = await repo.run('create', 'one', source, '--rescan-delay', '0');
    assertOk(first, 'create one');
    assert.match(first.stdout, /3 files \(3 read, 0 unchanged\), 3 folders, 2 symlinks/);
    assert.not.match(first.stderr, /ENOENT|could not be read/);
    // The link's target was found (a target read as U+FFFD would be "missing").
    assert.not.match(first.stderr, /lien/);

    const target = join(repo.dir, 'restored');
    assertOk(await repo.run('restore', 'one', target), 'restore');
    assert.equal(await describeBytes(Buffer.from(target)), await describeBytes(Buffer.from(source)));
    assertOk(await repo.run('verify', 'one'), 'verify');

    // The cache keeps each folder's record apart though their names differ only in an odd byte.
    const second = await repo.run('create', 'two', source, '--rescan-delay', '0');
    assertOk(second, 'create two');
    assert.match(second.stdout, /3 files \(0 read, 3 unchanged\)/);

    await writeFile(latin1Path(source, 'cafè/résumé.txt'), 'changed');
    assertOk(await repo.run('create', 'three', source, '--rescan-delay', '0'), 'create three');
    const diff = await repo.run('diff', 'two', 'three', '--json');
    assertOk(diff, 'diff');
    const changes = JSON.parse(diff.stdout) as { path: string; aspects: string[] }[];
    assert.equal(changes.map((change) => change.path), [nameFromBytes(latin1('cafè/résumé.txt'))]);

    // The record of a folder gone is cleaned out; that of its near-namesake stays.
    await rm(latin1Path(source, 'cafè'), { recursive: true });
    assertOk(await repo.run('create', 'four', source, '--rescan-delay', '0'), 'create four');
    const cacheDir = join(repo.dir, 'cache');
    const [database] = await readdir(cacheDir);
    const db = new Level<Buffer, Buffer>(join(cacheDir, database as string), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    try {
      const keys = (await db.keys().all()).map((key) => key.toString('hex'));
      assert.ok(keys.includes(latin1Path(source, 'café').toString('hex')), 'café is cached');
      assert.not.ok(keys.includes(latin1Path(source, 'cafè').toString('hex')), 'cafè is forgotten');
    } finally {
      await db.close();
    }
  }));

test("arguments Node decoded with U+FFFD are taken from the kernel's bytes; node's own flags and a mismatch are passed over", () => {
  const cmdline = (...args: (string | Buffer)[]) => Buffer.concat(args.flatMap((arg) => [Buffer.from(arg), Buffer.of(0)]));
  const argv = ['/usr/bin/node', '/p/bin/preserve', 'restore', 'one', 'caf\ufffd'];
  const raw = cmdline('node', '--max-semi-space-size=1', 'bin/preserve', 'restore', 'one', latin1('café'));
  assert.equal(argumentsFromCommandLine(argv, raw), [...argv.slice(0, 4), nameFromBytes(latin1('café'))]);
  const rewritten = cmdline('node', 'bin/preserve', 'restore', 'two', latin1('café'));
  assert.equal(argumentsFromCommandLine(argv, rewritten), argv);
  assert.equal(argumentsFromCommandLine(argv, cmdline(latin1('café'))), argv);
});

/**
 * Runs bin/preserve with arguments given as bytes: Node passes a child's arguments as
 * UTF-8 strings, so the shell's printf writes each byte (in octal) instead.
 */
function runWithByteArguments(repo: TestRepo, args: readonly (string | Buffer)[]): Promise<{ status: number; stdout: Buffer; stderr: string }> {
  const words = args.map((arg) => `"$(printf '${[...Buffer.from(arg)].map((byte) => `\\${byte.toString(8).padStart(3, '0')}`).join('')}')"`);
  const env = { ...process.env, PRESERVE_KEYFILE: repo.keyfile, PRESERVE_BACKEND: repo.backend, PRESERVE_CACHE_DIR: join(repo.dir, 'cache') };
  return new Promise((resolve) => {
    execFile('sh', ['-c', `exec "$0" "$1" ${words.join(' ')}`, process.execPath, PRESERVE_BIN], { encoding: 'buffer', env }, (error, stdout, stderr) => {
      resolve({ status: exitStatusOf(error), stdout, stderr: stderr.toString() });
    });
  });
}

test('paths on the command line that are not UTF-8 name those very files: source, exclude, restore target and paths; results print their bytes', () =>
  withTestRepo('latin1-arguments', async (repo) => {
    const source = join(repo.dir, 'latin1');
    await makeLatin1Tree(source);
    const folderOnly = await runWithByteArguments(repo, ['create', 'folder', latin1Path(source, 'café'), '--rescan-delay', '0']);
    assert.is(folderOnly.status, 0, folderOnly.stderr);
    const restoredFolder = latin1Path(repo.dir, 'sortie-é');
    const restore = await runWithByteArguments(repo, ['restore', 'folder', restoredFolder]);
    assert.is(restore.status, 0, restore.stderr);
    assert.equal(await describeBytes(restoredFolder), await describeBytes(latin1Path(source, 'café')));

    const excluding = await runWithByteArguments(repo, ['create', 'without', source, '--exclude', latin1('cafè'), '--rescan-delay', '0']);
    assert.is(excluding.status, 0, excluding.stderr);
    assertOk(await repo.run('create', 'whole', source, '--rescan-delay', '0'), 'create whole');
    const diff = await runWithByteArguments(repo, ['diff', 'whole', 'without']);
    assert.is(diff.status, 0, diff.stderr);
    assert.ok(diff.stdout.includes(Buffer.concat([Buffer.from('- '), latin1('cafè/résumé.txt\n')])), diff.stdout.toString('hex'));
    assert.not.ok(diff.stdout.includes(latin1('café')), 'café is in both');

    const chosen = latin1Path(repo.dir, 'choisi');
    const pick = await runWithByteArguments(repo, ['restore', 'whole', chosen, latin1('café/résumé.txt')]);
    assert.is(pick.status, 0, pick.stderr);
    assert.equal([...(await describeBytes(chosen)).keys()].map((key) => Buffer.from(key, 'hex').toString('latin1')), ['/café', '/café/résumé.txt']);

    // A message shows each odd byte as its Latin-1 character, and nothing is written.
    const missing = await runWithByteArguments(repo, ['restore', 'whole', latin1Path(repo.dir, 'nulle-part'), latin1('café/absent')]);
    assert.is(missing.status, 2);
    assert.match(missing.stderr, /has no entry "café\/absent"/);
    assert.not.ok(await lstat(latin1Path(repo.dir, 'nulle-part')).then(() => true, () => false), 'no target was made');
  }));

test.run();
