/**
 * The mount on other backends: an archive on an SFTP server, and an archive on two
 * backends whose first copy of every block is corrupt (the mount reads the second and
 * says so). Real FUSE mounts, served by a child process (test/mount-support.ts).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertOk, flipByte, objectFiles, withTestRepo } from './cli-support.js';
import { mustRunMountTests, withMount } from './mount-support.js';
import { startSshServer } from './servers.js';

const it = mustRunMountTests ? test : test.skip;
const SAMPLES = ['big.bin', 'docs/readme.txt', 'ünïcødé-目录/ファイル.txt'];

async function assertSameFiles(mountpoint: string, source: string): Promise<void> {
  for (const path of SAMPLES) assert.ok((await readFile(join(mountpoint, path))).equals(await readFile(join(source, path))), path);
}

it('an archive on an SFTP server mounts and reads back', () =>
  withTestRepo('mount-sftp', async (repo) => {
    const server = await startSshServer();
    const saved = Object.fromEntries(Object.keys(server.env).map((name) => [name, process.env[name]]));
    try {
      // The mount's child process inherits the SSH key and known_hosts settings.
      Object.assign(process.env, server.env);
      const url = server.backendUrl('mount');
      assertOk(await repo.run('create', 'a', repo.source, '--backend', url), 'create');
      await withMount({ ...repo, backend: url }, ['a'], (mountpoint) => assertSameFiles(mountpoint, repo.source));
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      await server.stop();
    }
  }));

it('with two backends, the mount reads blocks that fail authentication on the first from the second, and says so', () =>
  withTestRepo('mount-mirror', async (repo) => {
    const second = join(repo.dir, 'second-backend');
    assertOk(await repo.run('create', 'a', repo.source, '--backend', repo.backend, '--backend', second), 'create');
    for (const block of await objectFiles(repo.backend, 'blocks')) await flipByte(block, 2);
    await withMount(repo, ['--backend', second, 'a'], async (mountpoint, mount) => {
      await assertSameFiles(mountpoint, repo.source);
      assert.match(mount.stderr, /warning: blocks\/\S+ on file:\/\/\S+: block [0-9a-f]{64} failed authentication .*; read it from file:\/\/\S+second-backend instead/);
    });
  }));

test.run();
