/**
 * delete and gc end to end: gc frees exactly what no remaining archive uses (checked
 * against a backend that only ever held the remaining archives), reports the same with
 * --dry-run first, refuses to run beside a create, finishes the work of a gc that was
 * killed part way, and removes the temporaries crashed writers left; an interrupted create
 * leaves no lock behind. stats measures the same walk: what it says only some archives use
 * is what gc frees once they are deleted.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, readdir, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import type { RepositoryStats } from '../src/commands/index.js';
import * as assert from 'uvu/assert';
import { assertOk, makeTestRepo, objectFiles, type TestRepo, withTestRepo } from './cli-support.js';
import { type CliResult, PRESERVE_BIN, runPreserve, seededBytes } from './support.js';

/** blocks/ and trees/ object keys of a backend folder. */
async function contentObjects(backend: string): Promise<string[]> {
  const files = [...(await objectFiles(backend, 'blocks')), ...(await objectFiles(backend, 'trees'))];
  return files.map((path) => path.slice(backend.length + 1)).sort();
}

/** The CLI in a child process that the test can pause or kill. */
function startPreserve(args: readonly string[]): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [PRESERVE_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<CliResult>((resolve) => child.on('close', (code) => resolve({ status: code ?? 1, stdout, stderr })));
  return { child, done };
}

async function waitForLock(backend: string): Promise<void> {
  while ((await readdir(join(backend, 'locks')).catch(() => [])).length === 0) await new Promise((done) => setTimeout(done, 5));
}

/**
 * Archive a (the fixture), b (a + two extra files), c (a + one of them, created after b), then
 * b deleted: in `repo.backend`. `reference` gets only a and c, from the same source states.
 */
async function buildScenario(repo: TestRepo, reference: string): Promise<void> {
  const onReference = (...args: string[]) => runPreserve([args[0] as string, '--keyfile', repo.keyfile, '--backend', reference, ...args.slice(1)]);
  assertOk(await repo.run('create', 'a', repo.source), 'create a');
  assertOk(await onReference('create', 'a', repo.source), 'create a on the reference');
  await mkdir(join(repo.source, 'extra'));
  await writeFile(join(repo.source, 'extra', 'kept.bin'), seededBytes(11, 1_500_000));
  await writeFile(join(repo.source, 'extra', 'dropped.bin'), seededBytes(12, 2_500_000));
  assertOk(await repo.run('create', 'b', repo.source), 'create b');
  await unlink(join(repo.source, 'extra', 'dropped.bin'));
  assertOk(await repo.run('create', 'c', repo.source), 'create c');
  assertOk(await onReference('create', 'c', repo.source), 'create c on the reference');
  const deleted = await repo.run('delete', 'b');
  assertOk(deleted, 'delete b');
  assert.match(deleted.stdout, /deleted archive "b"/);
}

test('gc after delete frees exactly the unreferenced objects; --dry-run said so first; the rest verifies', async () => {
  const repo = await makeTestRepo('gc-exact');
  try {
    const reference = join(repo.dir, 'reference');
    await buildScenario(repo, reference);
    const before = await contentObjects(repo.backend);
    const expected = await contentObjects(reference);
    const garbage = before.filter((key) => !expected.includes(key));
    const freedTrees = garbage.filter((key) => key.startsWith('trees/')).length;
    const freedBlocks = garbage.length - freedTrees;
    assert.ok(freedTrees > 0 && freedBlocks > 0, 'the scenario leaves garbage of both kinds');

    const dry = await repo.run('gc', '--dry-run');
    assertOk(dry, 'gc --dry-run');
    assert.match(dry.stdout, new RegExp(`2 archives use .*; gc would free ${freedTrees} folders and ${freedBlocks} blocks \\(`));
    assert.equal(await contentObjects(repo.backend), before, 'a dry run deletes nothing');

    const gc = await repo.run('gc');
    assertOk(gc, 'gc');
    assert.match(gc.stdout, new RegExp(`freed ${freedTrees} folders and ${freedBlocks} blocks`));
    assert.equal(await contentObjects(repo.backend), expected);
    assert.equal(await readdir(join(repo.backend, 'locks')), [], 'gc released its lock');
    const verified = await repo.run('verify');
    assertOk(verified, 'verify');
    assert.match(verified.stdout, /checked 2 archives/);
    assert.match((await repo.run('gc')).stdout, /freed 0 folders and 0 blocks/);
  } finally {
    await repo.remove();
  }
});

test('gc refuses to run while a create holds its lock, so the blocks the create reuses survive', async () => {
  const repo = await makeTestRepo('gc-concurrent');
  try {
    // "old" leaves its blocks as garbage; "new" backs the same content up and reuses them.
    assertOk(await repo.run('create', 'old', repo.source), 'create old');
    assertOk(await repo.run('delete', 'old'), 'delete old');
    const create = startPreserve(['create', 'new', repo.source, '--keyfile', repo.keyfile, '--backend', repo.backend]);
    await waitForLock(repo.backend);
    create.child.kill('SIGSTOP');
    let gc: CliResult;
    try {
      gc = await repo.run('gc');
    } finally {
      create.child.kill('SIGCONT');
    }
    assert.is(gc.status, 1, gc.stderr);
    assert.match(gc.stderr, /is in use by `preserve create` \(shared lock\) on host .*; try again when it has finished/);
    assertOk(await create.done, 'create');
    assertOk(await repo.run('gc'), 'gc after the create');
    assertOk(await repo.run('verify', 'new'), 'verify');
  } finally {
    await repo.remove();
  }
});

test('a create interrupted by SIGINT or SIGTERM removes its lock, says what it left, and exits 128 + the signal', async () => {
  const repo = await makeTestRepo('interrupted');
  try {
    for (const [signal, status] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
      const create = startPreserve(['create', `cut-${signal}`, repo.source, '--keyfile', repo.keyfile, '--backend', repo.backend]);
      await waitForLock(repo.backend);
      create.child.kill(signal);
      const result = await create.done;
      assert.is(result.status, status, result.stderr);
      assert.match(result.stderr, new RegExp(`interrupted by ${signal}: no archive "cut-${signal}" was made`));
      // Released, not merely stale: from another host it would block gc for 30 minutes.
      assert.equal(await readdir(join(repo.backend, 'locks')), []);
    }
    assertOk(await repo.run('create', 'whole', repo.source), 'create after the interruptions');
    assertOk(await repo.run('verify'), 'verify');
  } finally {
    await repo.remove();
  }
});

test('a gc killed part way leaves a stale lock and some garbage; the next gc finishes the job', async () => {
  const repo = await makeTestRepo('gc-resume');
  try {
    const reference = join(repo.dir, 'reference');
    await buildScenario(repo, reference);
    const expected = await contentObjects(reference);
    const gc = startPreserve(['gc', '--keyfile', repo.keyfile, '--backend', repo.backend]);
    await waitForLock(repo.backend);
    gc.child.kill('SIGKILL');
    await gc.done;
    // Wherever the kill landed, take the sweep to half way, as an interrupted one would be.
    const garbage = (await contentObjects(repo.backend)).filter((key) => !expected.includes(key));
    for (const key of garbage.slice(0, garbage.length >> 1)) await rm(join(repo.backend, key));
    const rerun = await repo.run('gc');
    assertOk(rerun, 'gc rerun');
    assert.match(rerun.stderr, /warning: removing the stale lock locks\/exclusive-[0-9a-f]+ of `preserve gc`/);
    assert.equal(await contentObjects(repo.backend), expected);
    assertOk(await repo.run('verify'), 'verify');
  } finally {
    await repo.remove();
  }
});

test('unlock removes stale locks and keeps live and unreadable ones; --all removes every lock', async () => {
  const repo = await makeTestRepo('unlock');
  try {
    assertOk(await repo.run('create', 'a', repo.source), 'create');
    const locks = join(repo.backend, 'locks');
    await mkdir(locks, { recursive: true });
    const now = Date.now();
    const lock = (fields: object) => JSON.stringify({ kind: 'shared', command: 'create', host: 'elsewhere', pid: 4242, takenAt: now, refreshedAt: now, ...fields });
    // Quiet for 31 minutes: stale. Refreshed just now on another host: live. Garbage: nobody can say.
    await writeFile(join(locks, 'shared-00000000000000a1'), lock({ takenAt: now - 40 * 60_000, refreshedAt: now - 31 * 60_000 }));
    await writeFile(join(locks, 'exclusive-00000000000000a2'), lock({ kind: 'exclusive', command: 'gc' }));
    await writeFile(join(locks, 'shared-00000000000000a3'), 'not a lock');
    const unlocked = await repo.run('unlock');
    assertOk(unlocked, 'unlock');
    assert.match(unlocked.stdout, /^removed locks\/shared-00000000000000a1: `preserve create` \(shared lock\) on host elsewhere, pid 4242, since .*, last sign of life .*Z$/m);
    assert.match(unlocked.stdout, /^kept locks\/exclusive-00000000000000a2: `preserve gc` \(exclusive lock\) on host elsewhere, pid 4242, .*, live \(--all removes it\)$/m);
    assert.match(unlocked.stdout, /^kept locks\/shared-00000000000000a3: an unreadable lock, which may be a run's \(--all removes it\)$/m);
    assert.equal((await readdir(locks)).sort(), ['exclusive-00000000000000a2', 'shared-00000000000000a3']);
    const blocked = await repo.run('create', 'b', repo.source);
    assert.is(blocked.status, 1);
    assert.match(blocked.stderr, /is in use by .*; try again when it has finished \(if it never will, `preserve unlock --all` removes its lock\)$/m);
    assertOk(await repo.run('unlock', '--all'), 'unlock --all');
    assert.equal(await readdir(locks), []);
    assert.match((await repo.run('unlock')).stdout, /^no locks on /m);
    assertOk(await repo.run('create', 'b', repo.source), 'create once the locks are gone');
  } finally {
    await repo.remove();
  }
});

test('gc stops before deleting anything when a tree cannot be read', async () => {
  const repo = await makeTestRepo('gc-damaged');
  try {
    assertOk(await repo.run('create', 'a', repo.source), 'create a');
    assertOk(await repo.run('create', 'b', join(repo.source, 'docs')), 'create b');
    assertOk(await repo.run('delete', 'b'), 'delete b');
    const trees = await objectFiles(repo.backend, 'trees');
    const before = await contentObjects(repo.backend);
    // Every tree damaged: b's garbage must not be freed while a's references cannot be known.
    for (const tree of trees) await writeFile(tree, 'damaged');
    const gc = await repo.run('gc');
    assert.is(gc.status, 1);
    assert.match(gc.stderr, /gc stopped before deleting anything: tree [0-9a-f]{64} of archive "a" cannot be read .*failed authentication/);
    assert.equal(await contentObjects(repo.backend), before);
  } finally {
    await repo.remove();
  }
});

test('gc removes what crashed writers left in tmp/ (--dry-run only counts it) and spares a temporary still being written', () =>
  withTestRepo('gc-tmp', async (repo) => {
    assertOk(await repo.run('create', 'a', repo.source), 'create a');
    const tmp = join(repo.backend, 'tmp');
    // As a create killed mid-batch leaves them (test/faults.test.ts), an hour ago.
    const hourAgo = Date.now() / 1000 - 3600;
    for (const name of ['crashed-1.tmp', 'crashed-2.tmp']) {
      await writeFile(join(tmp, name), seededBytes(13, 1000));
      await utimes(join(tmp, name), hourAgo, hourAgo);
    }
    // A lock or key backup being written by a command that takes no lock.
    await writeFile(join(tmp, 'in-flight.tmp'), 'fresh');
    const dry = await repo.run('gc', '--dry-run');
    assertOk(dry, 'gc --dry-run');
    assert.match(dry.stdout, /^1 archive uses \d+ folders and \d+ blocks; gc would free 0 folders and 0 blocks \(0 B\), and 2 temporary files left by interrupted runs \(2\.0 KiB\)$/m);
    assert.equal((await readdir(tmp)).sort(), ['crashed-1.tmp', 'crashed-2.tmp', 'in-flight.tmp']);
    const gc = await repo.run('gc');
    assertOk(gc, 'gc');
    assert.match(gc.stdout, /freed 0 folders and 0 blocks \(0 B\), and 2 temporary files left by interrupted runs/);
    assert.equal(await readdir(tmp), ['in-flight.tmp']);
    assert.match((await repo.run('gc')).stdout, /freed 0 folders and 0 blocks \(0 B\)$/m, 'nothing more to remove');
    assertOk(await repo.run('verify'), 'verify');
  }));


/** The size of each block and tree object of a backend folder, by key. */
async function contentSizes(backend: string): Promise<Map<string, number>> {
  const keys = await contentObjects(backend);
  return new Map(await Promise.all(keys.map(async (key) => [key, (await stat(join(backend, key))).size] as const)));
}

/** Count and total size of the objects at these keys. */
function tally(sizes: ReadonlyMap<string, number>, keys: readonly string[]): { count: number; bytes: number } {
  return { count: keys.length, bytes: keys.reduce((total, key) => total + (sizes.get(key) ?? Number.NaN), 0) };
}

test('stats counts shared content once; what it says only the archives named use is what delete then gc frees; a missing block is exit 1', () =>
  withTestRepo('stats', async (repo) => {
    const statsOf = async (...args: string[]): Promise<RepositoryStats> => {
      const result = await repo.run('stats', '--json', ...args);
      assertOk(result, `stats ${args.join(' ')}`);
      return JSON.parse(result.stdout) as RepositoryStats;
    };
    assertOk(await repo.run('create', 'a', repo.source), 'create a');
    await mkdir(join(repo.source, 'extra'));
    await writeFile(join(repo.source, 'extra', 'new.bin'), seededBytes(13, 1_500_000));
    assertOk(await repo.run('create', 'b', repo.source), 'create b');
    const archives = JSON.parse((await repo.run('list', '--json')).stdout) as { name: string; files: number; bytes: number }[];
    const [a, b] = archives;
    assert.ok(a && b);

    const all = await statsOf();
    assert.equal(all.archives, ['a', 'b']);
    assert.equal(all.restored, { files: a.files + b.files, bytes: a.bytes + b.bytes });
    assert.is(all.content.bytes, b.bytes, 'b holds all of a, whose content is counted once');
    const sizes = await contentSizes(repo.backend);
    const objects = [...sizes.keys()];
    assert.equal(all.stored, tally(sizes, objects));
    assert.equal([all.missing, all.unused.count, all.exclusive], [0, 0, undefined]);

    const onlyB = await statsOf('b');
    assert.is(onlyB.content.bytes, b.bytes);
    assert.ok(onlyB.exclusive && onlyB.exclusive.count > 1 && onlyB.exclusive.bytes > 1_500_000, 'the new file\'s blocks and the folders above it');
    const text = await repo.run('stats', 'b');
    assert.match(text.stdout, /archives +b \(1 of 2\)\n/);
    assert.match(text.stdout, /only theirs +.* no other archive uses: what deleting it then gc frees/);

    assertOk(await repo.run('delete', 'b'), 'delete b');
    const afterDelete = await statsOf();
    assert.equal(afterDelete.unused, onlyB.exclusive, 'no archive uses them now');
    assertOk(await repo.run('gc'), 'gc');
    const remaining = new Set(await contentObjects(repo.backend));
    assert.equal(tally(sizes, objects.filter((key) => !remaining.has(key))), onlyB.exclusive, 'what gc freed');

    const unknown = await repo.run('stats', 'a', 'no-such-archive');
    assert.is(unknown.status, 2);
    assert.match(unknown.stderr, /there is no archive named "no-such-archive"/);
    const [block] = await objectFiles(repo.backend, 'blocks');
    assert.ok(block);
    await unlink(block);
    const missing = await repo.run('stats');
    assert.is(missing.status, 1);
    assert.match(missing.stdout, /stored .* on the backend, and 1 missing\n/);
    assert.match(missing.stderr, /1 block or folder these archives use cannot be found on the backend; run verify/);
  }));

test.run();
