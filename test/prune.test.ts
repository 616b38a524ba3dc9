/**
 * prune: the retention rules on archives of chosen times (the local calendar, as prune
 * judges), and the command end to end: a dry run that deletes nothing, a run that deletes
 * what no rule keeps, gc freeing their data, and the refusal to run without a rule.
 */
import { unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type RetentionPolicy, judgeArchives } from '../src/commands/index.js';
import { parseInterval } from '../src/cli/parsers.js';
import { assertOk, withTestRepo } from './cli-support.js';

/** An archive of this host and folder made at the given local time (month from 1). */
function at(name: string, year: number, month: number, day: number, hour = 12, host = 'laptop'): { name: string; hostname: string; sourcePath: string; createdAtNs: bigint } {
  return { name, hostname: host, sourcePath: '/home/ann', createdAtNs: BigInt(new Date(year, month - 1, day, hour).getTime()) * 1_000_000n };
}

/** name → why kept, or '-' for deleted. */
function judged(archives: Parameters<typeof judgeArchives>[0], policy: RetentionPolicy, nowMs?: number): Record<string, string> {
  return Object.fromEntries(judgeArchives(archives, policy, nowMs).map(({ archive, keptBy }) => [archive.name, keptBy ?? '-']));
}

test('keep-daily keeps the newest archive of each of the last N days that have one', () => {
  const archives = [at('d1', 2026, 12, 1), at('d2-am', 2026, 12, 2, 8), at('d2-pm', 2026, 12, 2, 20), at('d4', 2026, 12, 4), at('d5-am', 2026, 12, 5, 9), at('d5-pm', 2026, 12, 5, 21)];
  assert.equal(judged(archives, { daily: 3 }), { 'd5-pm': 'daily 1', 'd5-am': '-', d4: 'daily 2', 'd2-pm': 'daily 3', 'd2-am': '-', d1: '-' });
});

test('a later rule passes over the periods an earlier one kept, and counts on from there', () => {
  const archives = [at('a', 2026, 12, 5, 22), at('b', 2026, 12, 5, 21), at('c', 2026, 12, 4, 22), at('d', 2026, 12, 4, 21), at('e', 2026, 12, 3), at('f', 2026, 12, 2)];
  assert.equal(judged(archives, { last: 2, daily: 2 }), { a: 'last 1', b: 'last 2', c: 'daily 1', d: '-', e: 'daily 2', f: '-' });
});

test('weeks are ISO weeks, from Monday, across the turn of the year', () => {
  // 2026-12-31 is a Thursday: it and 2027-01-02 are both in week 53 of 2026; 2027-01-04 starts 2027's week 1.
  const archives = [at('thu', 2026, 12, 31), at('sat', 2027, 1, 2), at('mon', 2027, 1, 4), at('sun-before', 2026, 12, 27)];
  assert.equal(judged(archives, { weekly: 3 }), { mon: 'weekly 1', sat: 'weekly 2', thu: '-', 'sun-before': 'weekly 3' });
});

test('monthly and yearly rules; a rule that finds fewer periods than asked keeps the oldest archive too', () => {
  const archives = [at('2026-12', 2026, 12, 1), at('2026-11-late', 2026, 11, 30), at('2026-11-early', 2026, 11, 2), at('2025-06', 2025, 6, 1), at('2024-01', 2024, 1, 1)];
  assert.equal(judged(archives, { monthly: 2 }), { '2026-12': 'monthly 1', '2026-11-late': 'monthly 2', '2026-11-early': '-', '2025-06': '-', '2024-01': '-' });
  assert.equal(judged(archives, { yearly: 5 }), { '2026-12': 'yearly 1', '2026-11-late': '-', '2026-11-early': '-', '2025-06': 'yearly 2', '2024-01': 'yearly 3' });
  const young = [at('third', 2026, 12, 3), at('second', 2026, 12, 2), at('first', 2026, 12, 1, 8), at('first-again', 2026, 12, 1, 9)];
  assert.equal(judged(young, { daily: 7 }), { third: 'daily 1', second: 'daily 2', 'first-again': 'daily 3', first: 'daily, oldest' });
});

test('keep-within keeps every archive of the interval before now, and the rules pass over them', () => {
  const archives = [at('now', 2026, 12, 5, 12), at('hour-ago', 2026, 12, 5, 11), at('yesterday', 2026, 12, 4, 13), at('two-days', 2026, 12, 3, 12), at('week', 2026, 11, 28, 12)];
  const now = new Date(2026, 11, 5, 12, 30).getTime();
  assert.equal(judged(archives, { within: parseInterval('24H') }, now), { now: 'within 24H', 'hour-ago': 'within 24H', yesterday: 'within 24H', 'two-days': '-', week: '-' });
  assert.equal(judged(archives, { within: parseInterval('1d'), daily: 2 }, now), { now: 'within 1d', 'hour-ago': 'within 1d', yesterday: 'within 1d', 'two-days': 'daily 1', week: 'daily 2' });
  assert.equal(parseInterval('2w').ms, 14 * 86_400_000);
  assert.equal(parseInterval('1m').ms, 31 * 86_400_000);
  for (const bad of ['0d', '7', 'd', '1.5d', '3M', '-1d']) assert.throws(() => parseInterval(bad), /expected a whole number and a unit/, bad);
});

test('archives of other hosts or folders are judged apart', () => {
  const archives = [at('laptop-new', 2026, 12, 5), at('laptop-old', 2026, 12, 4), at('server-new', 2026, 12, 3, 12, 'server'), at('server-old', 2026, 12, 2, 12, 'server')];
  assert.equal(judged(archives, { last: 1 }), { 'laptop-new': 'last 1', 'laptop-old': '-', 'server-new': 'last 1', 'server-old': '-' });
});

test('prune deletes what no rule keeps (a dry run only says so), gc then frees their data; no rule is a usage error', () =>
  withTestRepo('prune', async (repo) => {
    // Only "one" holds this file: once "one" is pruned, gc has its block and folder to free.
    await writeFile(join(repo.source, 'only-in-one.txt'), 'gone with archive one\n');
    assertOk(await repo.run('create', 'one', repo.source, '--rescan-delay', '0'), 'create one');
    await unlink(join(repo.source, 'only-in-one.txt'));
    for (const name of ['two', 'three']) assertOk(await repo.run('create', name, repo.source, '--rescan-delay', '0'), `create ${name}`);
    const names = async () => (JSON.parse((await repo.run('list', '--json')).stdout) as { name: string }[]).map((archive) => archive.name).sort();

    const dry = await repo.run('prune', '--keep-last', '1', '--dry-run');
    assertOk(dry, 'prune --dry-run');
    assert.match(dry.stdout, /^keep {4}\S+ {2}three {2}\(last 1\)$/m);
    assert.match(dry.stdout, /^delete {2}\S+ {2}two$/m);
    assert.match(dry.stdout, /^would delete 2 archives, kept 1$/m);
    assert.equal(await names(), ['one', 'three', 'two'], 'a dry run deletes nothing');
    const recent = await repo.run('prune', '--keep-within', '1H', '--dry-run');
    assertOk(recent, 'prune --keep-within');
    assert.match(recent.stdout, /^keep {4}\S+ {2}one {2}\(within 1H\)$/m);
    assert.match(recent.stdout, /^would delete 0 archives, kept 3$/m);

    const pruned = await repo.run('prune', '--keep-last', '1');
    assertOk(pruned, 'prune');
    assert.match(pruned.stdout, /^deleted 2 archives; `preserve gc` frees/m);
    assert.equal(await names(), ['three']);
    const gc = await repo.run('gc');
    assertOk(gc, 'gc');
    assert.match(gc.stdout, /freed 1 folder and 1 block /);
    assertOk(await repo.run('verify'), 'verify what is kept');

    for (const args of [[], ['--keep-daily', '0'], ['--keep-daily', 'x'], ['--keep-within', '3M']]) {
      const refused = await repo.run('prune', ...args);
      assert.is(refused.status, 2, `prune ${args.join(' ')}: ${refused.stderr}`);
    }
    assert.match((await repo.run('prune')).stderr, /prune needs at least one --keep-… rule/);
    assert.equal(await names(), ['three'], 'a refused prune deletes nothing');
  }));

test.run();
