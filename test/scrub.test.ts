/**
 * `preserve scrub`: the sweep's coverage guarantee as a property, rounds that add up to
 * every object once per cycle, findings (damaged block, folder and archive objects, and a
 * damaged block found by the walk from an archive's root), the state kept between runs,
 * and the repeating mode stopped by a signal.
 */
import { mkdir, readFile, readdir, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { inSlice, positionAfter, roundsPerCycle, sliceAt } from '../src/commands/scrub-sweep.js';
import { type TestRepo, assertOk, flipByte, objectFiles, startPreserve, withTestRepo } from './cli-support.js';
import { seededBytes } from './support.js';

interface Round {
  blocks: number;
  blockTotal: number;
  trees: number;
  treeTotal: number;
}

function parseRound(stdout: string): Round {
  const match = /(\d+) of (\d+) blocks and (\d+) of (\d+) folders/.exec(stdout);
  if (!match) throw new Error(`no round summary in ${JSON.stringify(stdout)}`);
  const [blocks, blockTotal, trees, treeTotal] = match.slice(1).map(Number) as [number, number, number, number];
  return { blocks, blockTotal, trees, treeTotal };
}

async function stateOf(repo: TestRepo): Promise<{ position: number; rounds: number }> {
  const folder = join(repo.dir, 'cache', 'scrub');
  const [file] = await readdir(folder);
  return JSON.parse(await readFile(join(folder, file as string), 'utf8')) as { position: number; rounds: number };
}

test('any ceil(100/f) consecutive slices cover every id prefix', () => {
  fc.assert(
    fc.property(fc.double({ min: 0.01, max: 100, noNaN: true }), fc.nat(2 ** 32 - 1), fc.nat(2 ** 32 - 1), (fraction, start, prefix) => {
      const rounds = roundsPerCycle(fraction);
      if (rounds > Math.ceil(100 / fraction)) return false;
      const hex = prefix.toString(16).padStart(8, '0');
      let slice = sliceAt(start, fraction);
      for (let round = 0; round < rounds; round++, slice = sliceAt(positionAfter(slice), fraction)) {
        if (inSlice(hex, slice)) return true;
      }
      return false;
    }),
    { numRuns: 2000 },
  );
  assert.equal([1, 5, 25, 33, 100].map(roundsPerCycle), [100, 20, 4, 4, 1]);
});

test('four rounds of 25% check every block and folder exactly once, and keep their place', () =>
  withTestRepo('scrub-cycle', async (repo) => {
    assertOk(await repo.run('create', 'a', repo.source), 'create');
    const rounds: Round[] = [];
    for (let i = 0; i < 4; i++) {
      const result = await repo.run('scrub', '--once', '--fraction', '25');
      assertOk(result, `round ${i + 1}`);
      assert.match(result.stdout, new RegExp(`round ${i + 1}: .*; 0 problems; every object is checked at least once every 4 rounds`));
      rounds.push(parseRound(result.stdout));
    }
    const sum = (pick: (round: Round) => number): number => rounds.reduce((total, round) => total + pick(round), 0);
    assert.is(sum((r) => r.blocks), (await objectFiles(repo.backend, 'blocks')).length);
    assert.is(sum((r) => r.trees), (await objectFiles(repo.backend, 'trees')).length);
    assert.is((await stateOf(repo)).rounds, 4);
  }));

test('a damaged block, a truncated folder object and a damaged archive object are each named; exit 1', () =>
  withTestRepo('scrub-damage', async (repo) => {
    assertOk(await repo.run('create', 'a', repo.source), 'create a');
    assertOk(await repo.run('create', 'b', repo.source, '--exclude', 'big.bin'), 'create b');
    const [block] = await objectFiles(repo.backend, 'blocks');
    const [tree] = await objectFiles(repo.backend, 'trees');
    const [archive] = await objectFiles(repo.backend, 'archives');
    await flipByte(block as string, 5);
    await truncate(tree as string, 10);
    await flipByte(archive as string, 40);
    const result = await repo.run('scrub', '--once', '--fraction', '100');
    assert.is(result.status, 1, result.stderr);
    const relative = (path: string | undefined): string => (path as string).slice(repo.backend.length + 1);
    for (const path of [block, tree, archive]) assert.match(result.stderr, `preserve: ${relative(path)}: `);
    assert.match(result.stdout, /; 3 problems;/);
    assert.match(result.stderr, /scrub found 3 damaged or missing objects/);
  }));

test('the walk from an archive root finds a damaged block that the slice does not hold', () =>
  withTestRepo('scrub-spot', async (repo) => {
    const source = join(repo.dir, 'single');
    await mkdir(join(source, 'sub'), { recursive: true });
    await writeFile(join(source, 'sub', 'only.bin'), seededBytes(3, 100_000));
    assertOk(await repo.run('create', 'one', source), 'create');
    const [block] = await objectFiles(repo.backend, 'blocks');
    await flipByte(block as string, 0);
    // A slice of 0.0001% holds this block with probability one in a million.
    const result = await repo.run('scrub', '--once', '--fraction', '0.0001');
    assert.is(result.status, 1, result.stderr);
    assert.match(result.stderr, /preserve: one:\/sub\/only\.bin: block [0-9a-f]{64} failed authentication/);
    assert.match(result.stdout, /1 archive with 1 block spot-checked; 1 problem;/);
  }));

test('without --once, rounds repeat every --interval until SIGTERM; the next run goes on from there', () =>
  withTestRepo('scrub-loop', async (repo) => {
    assertOk(await repo.run('create', 'a', repo.source), 'create');
    const scrub = startPreserve(repo, 'scrub', ['--interval', '100ms', '--fraction', '50']);
    try {
      await scrub.waitFor(/round 3: /);
    } finally {
      assert.equal(await scrub.stop('SIGTERM'), { code: 0, signal: null }, scrub.stderr);
    }
    const { rounds, position } = await stateOf(repo);
    assert.ok(rounds >= 3, `${rounds} rounds`);
    const next = await repo.run('scrub', '--once', '--fraction', '50');
    assertOk(next, 'next round');
    assert.match(next.stdout, new RegExp(`round ${rounds + 1}: .*\\(50% from ${position.toString(16).padStart(8, '0')}\\)`));
  }));

test('a garbled state file starts a new sweep with a warning; bad options are usage errors', () =>
  withTestRepo('scrub-state', async (repo) => {
    assertOk(await repo.run('create', 'a', repo.source), 'create');
    assertOk(await repo.run('scrub', '--once'), 'first round');
    const folder = join(repo.dir, 'cache', 'scrub');
    const [file] = await readdir(folder);
    await writeFile(join(folder, file as string), '{"version":1,"position":-4');
    const result = await repo.run('scrub', '--once');
    assertOk(result, 'round after garbling');
    assert.match(result.stderr, /warning: scrub state .* is not understood; starting a new sweep/);
    assert.match(result.stdout, /round 1: /);
    for (const args of [['--fraction', '0'], ['--fraction', '101'], ['--interval', '5'], ['--interval', 'soon']]) {
      const bad = await repo.run('scrub', '--once', ...args);
      assert.is(bad.status, 2, args.join(' '));
    }
  }));

test.run();
