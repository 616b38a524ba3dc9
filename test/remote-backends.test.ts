/**
 * The CLI end to end on the SFTP and S3 backends, each against its real server on
 * loopback: create, list, restore and verify reproduce the source; a server that dies in
 * the middle of a create gives a clear error, and a rerun after it is back completes; gc
 * removes over SFTP what crashed writers left in tmp/.
 */
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertOk, makeTestRepo, type TestRepo } from './cli-support.js';
import { type TestServer, startS3Server, startSshServer } from './servers.js';
import { type CliResult, describeTree, runPreserve, seededBytes } from './support.js';

const KINDS = { sftp: startSshServer, s3: startS3Server } as const;

async function withServer(kind: keyof typeof KINDS, body: (server: TestServer, repo: TestRepo) => Promise<void>): Promise<void> {
  const repo = await makeTestRepo(`remote-${kind}`);
  let server: TestServer | undefined;
  try {
    server = await KINDS[kind]();
    await body(server, repo);
  } finally {
    await server?.stop();
    await repo.remove();
  }
}

function runOn(server: TestServer, repo: TestRepo, url: string, command: string, ...args: string[]): Promise<CliResult> {
  return runPreserve([command, '--keyfile', repo.keyfile, '--backend', url, ...args], server.env);
}

/** Files under the server's data folder whose path has /blocks/ in it. */
async function storedBlocks(server: TestServer): Promise<number> {
  const entries = await readdir(server.dataDir, { recursive: true }).catch(() => []);
  return entries.filter((path) => path.includes('blocks/')).length;
}

for (const kind of ['sftp', 's3'] as const) {
  test(`${kind}: create, list, restore and verify round-trip every byte and attribute`, () =>
    withServer(kind, async (server, repo) => {
      const url = server.backendUrl('roundtrip');
      assertOk(await runOn(server, repo, url, 'create', 'first', repo.source), 'create');
      const listed = JSON.parse((await runOn(server, repo, url, 'list', '--json')).stdout) as { name: string }[];
      assert.equal(listed.map((a) => a.name), ['first']);
      const target = join(repo.dir, 'restored');
      assertOk(await runOn(server, repo, url, 'restore', 'first', target), 'restore');
      assert.equal(await describeTree(target), await describeTree(repo.source));
      const verified = await runOn(server, repo, url, 'verify');
      assertOk(verified, 'verify');
      assert.match(verified.stdout, /0 problems/);
    }));

  test(`${kind}: a server that dies during create gives a clear error; a rerun completes`, () =>
    withServer(kind, async (server, repo) => {
      const source = join(repo.dir, 'many');
      await mkdir(source);
      for (let i = 0; i < 80; i++) await writeFile(join(source, `file-${i}`), seededBytes(i + 1, 256 * 1024));
      const url = server.backendUrl('crash');
      const running = runOn(server, repo, url, 'create', 'big', source);
      while ((await storedBlocks(server)) < 10) await new Promise((done) => setTimeout(done, 20));
      await server.crash();
      const failed = await running;
      assert.is(failed.status, 2, failed.stderr);
      assert.match(failed.stderr, kind === 'sftp' ? /^preserve: lost the connection to sftp:\/\//m : /^preserve: cannot reach s3:\/\//m);
      assert.match(failed.stderr, /^preserve: warning: this run's lock stays on the backend until it goes stale/m);
      assert.not.match(failed.stderr, /\n\s+at /, 'no stack trace');
      await server.restart();
      assertOk(await runOn(server, repo, url, 'create', 'big', source), 'rerun');
      const target = join(repo.dir, 'restored');
      assertOk(await runOn(server, repo, url, 'restore', 'big', target), 'restore');
      assert.equal(await describeTree(target), await describeTree(source));
    }));
}

test('sftp: gc removes over SFTP the temporaries crashed writers left, and spares one still being written', () =>
  withServer('sftp', async (server, repo) => {
    const url = server.backendUrl('leftovers');
    assertOk(await runOn(server, repo, url, 'create', 'a', repo.source), 'create');
    const tmp = join(server.dataDir, 'leftovers', 'tmp');
    const hourAgo = Date.now() / 1000 - 3600;
    for (const name of ['crashed-1.tmp', 'crashed-2.tmp']) {
      await writeFile(join(tmp, name), seededBytes(5, 1000));
      await utimes(join(tmp, name), hourAgo, hourAgo);
    }
    await writeFile(join(tmp, 'in-flight.tmp'), 'fresh');
    const gc = await runOn(server, repo, url, 'gc');
    assertOk(gc, 'gc');
    assert.match(gc.stdout, /freed 0 folders and 0 blocks \(0 B\), and 2 temporary files left by interrupted runs \(2\.0 KiB\)/);
    assert.equal(await readdir(tmp), ['in-flight.tmp']);
    assertOk(await runOn(server, repo, url, 'verify'), 'verify');
  }));

test.run();
