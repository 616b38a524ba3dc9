/**
 * Several backends at once, end to end: create writes every object to each; restore and
 * verify read from the first and fall back to the next on a missing or corrupt object,
 * saying so; a backend that cannot be reached is reported and the others still get the
 * archive; a rename that fails on one backend leaves the archive there under its old name. Two folders stand for two servers here: the fallback logic does not care.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deriveKeys, encrypt } from '../src/crypto/index.js';
import { parseKeyText } from '../src/keyfile/index.js';
import { asId } from '../src/store/ids.js';
import { blockKey } from '../src/store/layout.js';
import { assertOk, flipByte, makeTestRepo, objectFiles, type TestRepo } from './cli-support.js';
import { type CliResult, describeTree, makeTempDir, runPreserve } from './support.js';

interface Mirror {
  readonly repo: TestRepo;
  readonly first: string;
  readonly second: string;
  run(command: string, ...args: string[]): Promise<CliResult>;
}

async function withMirror(label: string, body: (mirror: Mirror) => Promise<void>): Promise<void> {
  const repo = await makeTestRepo(label);
  try {
    const first = repo.backend;
    const second = join(repo.dir, 'second-backend');
    const run = (command: string, ...args: string[]) => runPreserve([command, '--keyfile', repo.keyfile, '--backend', first, '--backend', second, ...args]);
    await body({ repo, first, second, run });
  } finally {
    await repo.remove();
  }
}

/** The key, under a backend, of the one block holding the fixture's small readme. */
async function readmeBlockKey(repo: TestRepo): Promise<string> {
  const keys = deriveKeys(parseKeyText(await readFile(repo.keyfile, 'latin1'), repo.keyfile));
  return blockKey(asId(encrypt(keys.block, Buffer.alloc(0), Buffer.from('hello, preserve\n')).id, 'block'));
}

test('create writes every object to every backend and reports each', () =>
  withMirror('mirror-create', async ({ repo, first, second, run }) => {
    const created = await run('create', 'a', repo.source);
    assertOk(created, 'create');
    assert.match(created.stdout, new RegExp(`${first}: ok, \\d+ objects written`));
    assert.match(created.stdout, new RegExp(`${second}: ok, \\d+ objects written`));
    for (const prefix of ['blocks', 'trees', 'archives']) {
      const relative = async (root: string) => (await objectFiles(root, prefix)).map((path) => path.slice(root.length));
      assert.equal(await relative(second), await relative(first), prefix);
    }
  }));

test('restore and verify fall back to the second backend for a missing or a corrupt block, and say so', () =>
  withMirror('mirror-fallback', async ({ repo, first, run }) => {
    assertOk(await run('create', 'a', repo.source), 'create');
    const key = await readmeBlockKey(repo);
    for (const damage of ['missing', 'corrupt'] as const) {
      if (damage === 'missing') await rm(join(first, key));
      else {
        assertOk(await run('create', `again-${damage}`, repo.source), 'create refills the first backend');
        await flipByte(join(first, key), 3);
      }
      const target = join(repo.dir, `restored-${damage}`);
      const restored = await run('restore', 'a', target);
      assertOk(restored, `restore with a ${damage} block`);
      assert.equal(await describeTree(target), await describeTree(repo.source));
      const reason = damage === 'missing' ? 'is missing from the backend' : 'failed authentication';
      assert.match(restored.stderr, new RegExp(`preserve: warning: ${key} on file://${first}: .*${reason}.*; read it from file://`));
      const verified = await run('verify');
      assertOk(verified, `verify with a ${damage} block`);
      assert.match(verified.stderr, /warning: .*read it from/);
    }
  }));

test('an object damaged on every backend is still a problem (exit 1)', () =>
  withMirror('mirror-both', async ({ repo, first, second, run }) => {
    assertOk(await run('create', 'a', repo.source), 'create');
    const key = await readmeBlockKey(repo);
    await flipByte(join(first, key), 3);
    await rm(join(second, key));
    const verified = await run('verify');
    assert.is(verified.status, 1);
    assert.match(verified.stdout, /failed authentication/);
  }));

test('a backend that cannot be reached is reported; the others get the archive (exit 1)', async () => {
  const repo = await makeTestRepo('mirror-down');
  try {
    // Port 1 on loopback refuses connections at once.
    const down = 's3://bucket/backup';
    const created = await runPreserve(['create', 'a', repo.source, '--keyfile', repo.keyfile, '--backend', repo.backend, '--backend', down], {
      AWS_ENDPOINT_URL: 'http://127.0.0.1:1',
      AWS_ACCESS_KEY_ID: 'x',
      AWS_SECRET_ACCESS_KEY: 'x',
      AWS_MAX_ATTEMPTS: '1',
    });
    assert.is(created.status, 1, created.stderr);
    assert.match(created.stderr, /warning: s3:\/\/bucket\/backup cannot be used .*cannot reach s3:\/\/bucket\/backup/);
    assert.match(created.stdout, /s3:\/\/bucket\/backup: FAILED/);
    assert.match(created.stderr, /1 of 2 backends failed, so archive "a" is not on it/);
    assertOk(await repo.run('verify', 'a'), 'verify on the backend that was up');
  } finally {
    await repo.remove();
  }
});

test('rename with a backend that fails the write: the others rename, that one keeps the old name (exit 1)', () =>
  withMirror('mirror-rename', async ({ repo, second, run }) => {
    assertOk(await run('create', 'typo', repo.source), 'create');
    // Objects are written to tmp/ first: with a file in its place the second backend's write fails, its reads do not.
    await rm(join(second, 'tmp'), { recursive: true, force: true });
    await writeFile(join(second, 'tmp'), 'in the way');
    const renamed = await run('rename', 'typo', 'fixed');
    assert.is(renamed.status, 1, renamed.stderr);
    assert.match(renamed.stdout, /second-backend: FAILED/);
    assert.match(renamed.stderr, /1 of 2 backends failed, so the renaming of "typo" is not on it/);
    const names = async (backend: string) => (JSON.parse((await repo.run('list', '--json', '--backend', backend)).stdout) as { name: string }[]).map((a) => a.name);
    assert.equal(await names(repo.backend), ['fixed']);
    assert.equal(await names(second), ['typo'], 'the backend that failed keeps the archive under its old name');
  }));

test('repeated --backend adds up; the command line replaces the environment, which replaces the config file', async () => {
  const dir = await makeTempDir('backend-flags');
  try {
    const config = join(dir.path, 'config.json');
    await writeFile(config, JSON.stringify({ backend: '/from/file' }));
    const shown = async (args: string[], env: Record<string, string> = {}) => {
      const result = await runPreserve(['config', 'show', '--json', '--config', config, ...args], env);
      assert.is(result.status, 0, result.stderr);
      return (JSON.parse(result.stdout) as { backend: { value: unknown } }).backend.value;
    };
    assert.equal(await shown([]), ['/from/file']);
    assert.equal(await shown([], { PRESERVE_BACKEND: '/from/env' }), ['/from/env']);
    assert.equal(await shown(['--backend', '/a', '--backend', '/b'], { PRESERVE_BACKEND: '/from/env' }), ['/a', '/b']);
  } finally {
    await dir.remove();
  }
});

test.run();
