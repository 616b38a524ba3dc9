/**
 * Keys from passphrases, end to end: key backup then key recover with only the backend
 * and the passphrase; a wrong passphrase; tampered KDF parameters (out of bounds: refused
 * before any work; in bounds: the backup no longer opens); keygen --from-passphrase is
 * deterministic. Costs are made tiny through the documented knobs.
 */
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ByteWriter } from '../src/archive/codec.js';
import { type KeyBackup, parseKeyBackup } from '../src/keyfile/key-backup.js';
import { assertOk, makeTestRepo, type TestRepo } from './cli-support.js';
import { type CliResult, describeTree, makeTempDir, runPreserve } from './support.js';

const PASSPHRASE = 'correct horse battery staple';
const FAST = { PRESERVE_KDF_SECONDS: '0.01' };

async function withBackedUpKey(label: string, body: (repo: TestRepo, backupFile: string) => Promise<void>): Promise<void> {
  const repo = await makeTestRepo(label);
  try {
    assertOk(await repo.run('create', 'a', repo.source), 'create');
    const backup = await runPreserve(['key', 'backup', '--keyfile', repo.keyfile, '--backend', repo.backend], { ...FAST, PRESERVE_PASSPHRASE: PASSPHRASE });
    assertOk(backup, 'key backup');
    const [name] = await readdir(join(repo.backend, 'keys'));
    assert.ok(name, 'a key backup object exists');
    await body(repo, join(repo.backend, 'keys', name as string));
  } finally {
    await repo.remove();
  }
}

function recover(repo: TestRepo, keyfile: string, passphrase: string): Promise<CliResult> {
  return runPreserve(['key', 'recover', '--keyfile', keyfile, '--backend', repo.backend], { PRESERVE_PASSPHRASE: passphrase });
}

/** The backup re-encoded with other KDF parameters (header only; salt, SIV and ciphertext kept). */
function withParams(backup: KeyBackup, memoryKiB: number, passes: number): Buffer {
  const header = new ByteWriter().raw(Buffer.from('PRSVKEY')).u8(1).u8(1).varint(memoryKiB).varint(passes).varint(backup.params.parallelism).bytes(backup.salt).finish();
  return Buffer.concat([header, backup.siv, backup.ciphertext]);
}

test('key backup then key recover gives back the same key, which restores the archive', () =>
  withBackedUpKey('key-roundtrip', async (repo) => {
    const recovered = join(repo.dir, 'recovered-key');
    const result = await recover(repo, recovered, PASSPHRASE);
    assertOk(result, 'key recover');
    assert.match(result.stdout, /wrote the master key from keys\/\d{8}T\d{6}Z-[0-9a-f]{8} to /);
    assert.is(await readFile(recovered, 'utf8'), await readFile(repo.keyfile, 'utf8'));
    const target = join(repo.dir, 'restored');
    assertOk(await runPreserve(['restore', 'a', target, '--keyfile', recovered, '--backend', repo.backend]), 'restore with the recovered key');
    assert.equal(await describeTree(target), await describeTree(repo.source));
    const again = await runPreserve(['key', 'backup', '--keyfile', repo.keyfile, '--backend', repo.backend], { ...FAST, PRESERVE_PASSPHRASE: 'a new passphrase, longer' });
    assertOk(again, 'second key backup');
    assert.match(again.stdout, /removed 1 older backup/);
    assert.is((await readdir(join(repo.backend, 'keys'))).length, 1);
    assert.is((await recover(repo, join(repo.dir, 'old-passphrase'), PASSPHRASE)).status, 2, 'the old passphrase no longer works');
  }));

test('a wrong passphrase is refused with exit 2 and writes no keyfile', () =>
  withBackedUpKey('key-wrong', async (repo) => {
    const keyfile = join(repo.dir, 'never-written');
    const result = await recover(repo, keyfile, 'not the passphrase');
    assert.is(result.status, 2);
    assert.match(result.stderr, /^preserve: the passphrase does not open key backup keys\/\S+ on file:\/\/\S+ \(a wrong passphrase, or the backup was altered\)\n$/);
    assert.not.ok(await readFile(keyfile).then(() => true, () => false));
  }));

test('tampered KDF parameters: beyond the bounds refused before any work; within them the backup fails to open', () =>
  withBackedUpKey('key-tampered', async (repo, backupFile) => {
    const backup = parseKeyBackup(await readFile(backupFile), 'backup');
    const cases = [
      { memoryKiB: 64 * 1024 * 1024, passes: 1, message: /asks for argon2id memoryKiB = 67108864, outside the accepted 8192\.\.1048576; refusing it/ },
      { memoryKiB: backup.params.memoryKiB, passes: 100_000, message: /asks for argon2id passes = 100000, outside the accepted 1\.\.128/ },
      { memoryKiB: backup.params.memoryKiB, passes: backup.params.passes + 1, message: /the passphrase does not open/ },
    ];
    for (const { memoryKiB, passes, message } of cases) {
      await writeFile(backupFile, withParams(backup, memoryKiB, passes));
      const started = Date.now();
      const result = await recover(repo, join(repo.dir, `key-${passes}`), PASSPHRASE);
      assert.is(result.status, 2, result.stderr);
      assert.match(result.stderr, message);
      assert.ok(Date.now() - started < 5000, 'refused quickly');
    }
  }));

test('no passphrase from a terminal or PRESERVE_PASSPHRASE is a usage error', () =>
  withBackedUpKey('key-none', async (repo) => {
    const result = await runPreserve(['key', 'recover', '--keyfile', join(repo.dir, 'k'), '--backend', repo.backend], { PRESERVE_PASSPHRASE: undefined as unknown as string });
    assert.is(result.status, 2);
    assert.match(result.stderr, /no passphrase: set PRESERVE_PASSPHRASE or run this in a terminal/);
  }));

test('keygen --from-passphrase derives the same key from the same passphrase and parameters, another from another', async () => {
  const dir = await makeTempDir('keygen-passphrase');
  try {
    const make = async (file: string, passphrase: string) => {
      const result = await runPreserve(['keygen', '--from-passphrase', '--kdf-memory', '8', '--kdf-passes', '1', '--keyfile', join(dir.path, file)], { PRESERVE_PASSPHRASE: passphrase });
      assertOk(result, `keygen ${file}`);
      return readFile(join(dir.path, file), 'utf8');
    };
    const first = await make('one', PASSPHRASE);
    assert.is(await make('two', PASSPHRASE), first);
    assert.is.not(await make('three', `${PASSPHRASE}!`), first);
    // Pinned to the reference implementation's answer, so the derivation never changes by accident.
    assert.is(first.slice(0, 32), KNOWN_PREFIX);
    // NFC: the composed and decomposed forms of "é" are one passphrase.
    assert.is(await make('composed', 'caf\u00e9 au lait, please'), await make('decomposed', 'cafe\u0301 au lait, please'));
  } finally {
    await dir.remove();
  }
});

/**
 * The first 16 key bytes for PASSPHRASE at 8 MiB, 1 pass, as the reference implementation
 * (Debian's argon2 tool) computes them:
 *   echo -n 'correct horse battery staple' | argon2 'preserve keygen --from-passphrase v1' -id -m 13 -t 1 -p 1 -l 128 -r
 */
const KNOWN_PREFIX = '85b6f272683cd158e4e31b24b619c8c8';

test.run();
