/**
 * Failures while writing: `create` killed with SIGKILL at random moments, a backend whose
 * disk fills up, and two `create` runs into one backend at once. Afterwards every object
 * on the backend must be whole (a full scrub authenticates each one), every finished
 * archive must verify and restore, and the next create must work.
 */
import { appendFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type TestRepo, assertOk, startPreserve, withTestRepo } from './cli-support.js';
import { exec } from './mount-support.js';
import { describeTree, seededBytes } from './support.js';

const MiB = 1024 * 1024;
const isRoot = process.getuid?.() === 0;

/** Every block, folder and archive object authenticates: nothing partial under a final name. */
async function assertAllObjectsWhole(repo: TestRepo, what: string): Promise<void> {
  const scrub = await repo.run('scrub', '--once', '--fraction', '100');
  assert.is(scrub.status, 0, `${what}: ${scrub.stderr}`);
  assert.match(scrub.stdout, /; 0 problems;/);
}

async function archiveNames(repo: TestRepo): Promise<string[]> {
  const listed = await repo.run('list', '--json');
  assertOk(listed, 'list');
  return (JSON.parse(listed.stdout) as { name: string }[]).map((archive) => archive.name);
}

async function assertRestores(repo: TestRepo, name: string, expected: string): Promise<void> {
  const target = join(repo.dir, `restored-${name}`);
  assertOk(await repo.run('restore', name, target), `restore ${name}`);
  assert.equal(await describeTree(target), await describeTree(expected), `restore of ${name}`);
}

test('create killed with SIGKILL at random moments leaves only whole objects; the next create and restore work', () =>
  withTestRepo('kill', async (repo) => {
    assertOk(await repo.run('create', 'base', repo.source), 'create base');
    // A run like the killed ones, timed, so that the kills fall inside a run on any machine.
    await writeFile(join(repo.source, 'new-probe.bin'), seededBytes(99, 6 * MiB));
    const started = Date.now();
    assertOk(await repo.run('create', 'probe', repo.source, '--rescan-delay', '0'), 'create probe');
    const runMs = Date.now() - started;
    const delays: number[] = [];
    for (let round = 0; round < 10; round++) {
      // New content each time, so that every run has blocks to write when it is killed.
      await writeFile(join(repo.source, `new-${round}.bin`), seededBytes(100 + round, 6 * MiB));
      await appendFile(join(repo.source, 'docs', 'readme.txt'), `round ${round}\n`);
      const delay = Math.floor(runMs * (0.1 + 0.8 * Math.random()));
      delays.push(delay);
      const create = startPreserve(repo, 'create', [`killed-${round}`, repo.source, '--rescan-delay', '0']);
      await new Promise((resolve) => setTimeout(resolve, delay));
      await create.stop('SIGKILL');
    }
    const what = `after kills at ${delays.join(', ')} ms`;
    await assertAllObjectsWhole(repo, what);
    const leftovers = await readdir(join(repo.backend, 'tmp')).catch(() => []);
    assert.ok(leftovers.every((name) => name.endsWith('.tmp')), `only temporary files in tmp/: ${leftovers.join(', ')}`);
    assertOk(await repo.run('verify'), `verify every finished archive ${what}`);
    const names = await archiveNames(repo);
    assert.ok(names.includes('base') && names.includes('probe'));
    assert.ok(names.filter((name) => name.startsWith('killed-')).length < 10, `some kill must land before the archive is written (${what})`);
    assertOk(await repo.run('create', 'after', repo.source, '--rescan-delay', '0'), `create ${what}`);
    await assertRestores(repo, 'after', repo.source);
  }));

(isRoot ? test : test.skip)('a backend whose disk fills up: one clear error, exit 1, nothing half-written, earlier archives intact', () =>
  withTestRepo('full', async (repo) => {
    const disk = join(repo.dir, 'small-disk');
    await mkdir(disk);
    await exec('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', disk]);
    try {
      const backend = join(disk, 'backend');
      const run = (command: string, ...args: string[]) => repo.run(command, '--backend', backend, ...args);
      const docs = join(repo.source, 'docs');
      assertOk(await run('create', 'small', docs), 'create small');
      await writeFile(join(repo.source, 'huge.bin'), seededBytes(5, 12 * MiB));
      const full = await run('create', 'too-big', repo.source, '--rescan-delay', '0');
      assert.is(full.status, 1, full.stderr);
      // Files and folder objects are stored concurrently: whichever write meets the full disk is named.
      assert.match(full.stderr, /^preserve: the backend file:\/\/.*small-disk\/backend is full: storing (blocks|trees)\/[0-9a-f/]+ failed \(ENOSPC: no space left on device/m, full.stderr);
      const errors = full.stderr.trim().split('\n').filter((line) => !/^preserve: (warning: |create: )/.test(line));
      assert.is(errors.length, 1, full.stderr);
      assert.equal(await readdir(join(backend, 'tmp')), [], 'no partial temporary file left taking space');
      const listed = await run('list', '--json');
      assert.equal((JSON.parse(listed.stdout) as { name: string }[]).map((a) => a.name), ['small']);
      const scrub = await run('scrub', '--once', '--fraction', '100');
      assert.is(scrub.status, 0, scrub.stderr);
      assertOk(await run('verify', 'small'), 'verify small');
      const target = join(repo.dir, 'restored-small');
      assertOk(await run('restore', 'small', target), 'restore small');
      assert.equal(await describeTree(target), await describeTree(docs));
    } finally {
      await exec('umount', ['-l', disk]);
    }
  }));

test('two creates at once into one backend, each with its own cache: both complete, verify and restore', () =>
  withTestRepo('concurrent', async (repo) => {
    const other = join(repo.dir, 'other-source');
    await mkdir(other);
    // Shared content (the same chunks written by both at once) and content of their own.
    await writeFile(join(repo.source, 'shared.bin'), seededBytes(9, 8 * MiB));
    await writeFile(join(other, 'shared.bin'), seededBytes(9, 8 * MiB));
    await writeFile(join(other, 'own.bin'), seededBytes(10, 4 * MiB));
    const first = startPreserve(repo, 'create', ['first', repo.source, '--rescan-delay', '0'], { PRESERVE_CACHE_DIR: join(repo.dir, 'cache-1') });
    const second = startPreserve(repo, 'create', ['second', other, '--rescan-delay', '0'], { PRESERVE_CACHE_DIR: join(repo.dir, 'cache-2') });
    const exits = await Promise.all([first.exited, second.exited]);
    assert.equal(exits, [{ code: 0, signal: null }, { code: 0, signal: null }], `${first.stderr}\n${second.stderr}`);
    assertOk(await repo.run('verify'), 'verify');
    await assertAllObjectsWhole(repo, 'after two creates');
    await assertRestores(repo, 'first', repo.source);
    await assertRestores(repo, 'second', other);
  }));

test('a create that finds the cache locked by another warns, reads everything, and both archives are whole', () =>
  withTestRepo('locked-cache', async (repo) => {
    // The first holds the cache through its pause before the rescan; the second starts then.
    const first = startPreserve(repo, 'create', ['first', repo.source, '--rescan-delay', '3000', '--verbose']);
    await first.waitFor(/pausing \d+ ms/);
    const second = await repo.run('create', 'second', repo.source, '--rescan-delay', '0');
    assertOk(second, 'second create');
    assert.match(second.stderr, /warning: cannot use the cache .*; every file will be read/);
    assert.equal(await first.exited, { code: 0, signal: null }, first.stderr);
    assertOk(await repo.run('verify'), 'verify');
    await assertRestores(repo, 'second', repo.source);
  }));

test.run();
