/** What the CLI prints: progress lines off a terminal, --quiet, --logfile JSON lines, --verbose stack traces. */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeTestRepo } from './cli-support.js';
import { PRESERVE_BIN, runPreserve } from './support.js';

test('progress is printed as plain lines off a terminal, with totals and ETA when known', async () => {
  const repo = await makeTestRepo('progress');
  try {
    const env = { PRESERVE_PROGRESS_INTERVAL: '0.01', PRESERVE_CACHE_DIR: join(repo.dir, 'cache') };
    const args = ['--keyfile', repo.keyfile, '--backend', repo.backend];
    const created = await runPreserve(['create', ...args, 'a', repo.source, '--rescan-delay', '0'], env);
    assert.is(created.status, 0, created.stderr);
    assert.match(created.stderr, /^preserve: create: 11 files, 3\.0 MiB, (\d+ B|\d+\.\d (KiB|MiB|GiB))\/s$/m);
    const restored = await runPreserve(['restore', ...args, 'a', join(repo.dir, 'out')], env);
    assert.match(restored.stderr, /^preserve: restore: 11 of 11 files, 3\.0 MiB of 3\.0 MiB, (\d+ B|\d+\.\d (KiB|MiB|GiB))\/s$/m);
    const verified = await runPreserve(['verify', ...args], env);
    assert.match(verified.stderr, /^preserve: verify: (\d+) of \1 blocks, /m);
    // One of a thing is in the singular ("1 files" before).
    const one = await runPreserve(['restore', ...args, 'a', join(repo.dir, 'one'), 'docs/readme.txt'], env);
    assert.match(one.stderr, /^preserve: restore: 1 file, 16 B, /m);
    const single = await runPreserve(['create', ...args, 'b', join(repo.source, 'docs', 'nested', 'deeper'), '--rescan-delay', '0'], env);
    assert.match(single.stderr, /^preserve: create: 1 file, 700 B, /m);
  } finally {
    await repo.remove();
  }
});

test('progress on a terminal is a live bar that ends at 100 %', async () => {
  const repo = await makeTestRepo('progress-tty');
  try {
    const command = [PRESERVE_BIN, 'create', '--keyfile', repo.keyfile, '--backend', repo.backend, 'a', repo.source, '--rescan-delay', '0'];
    // script(1) runs the command on a pseudo-terminal, as a person at a shell would.
    const { stdout } = await promisify(execFile)('script', ['-qec', command.map((arg) => `'${arg}'`).join(' '), '/dev/null'], {
      env: { ...process.env, PRESERVE_CACHE_DIR: join(repo.dir, 'cache') },
    });
    assert.match(stdout, /create =+ 100% \| 11 files, 3\.0 MiB, /, 'the bar, full');
    assert.match(stdout, /archive "a" created: 11 files/);
  } finally {
    await repo.remove();
  }
});

test('--quiet prints only warnings and errors; --logfile keeps every message as JSON', async () => {
  const repo = await makeTestRepo('quiet');
  try {
    const logfile = join(repo.dir, 'log.jsonl');
    const result = await repo.run('create', 'q', repo.source, '--quiet', '--logfile', logfile, '--verbose', '--rescan-delay', '0');
    assert.is(result.status, 0, result.stderr);
    assert.is(result.stdout, '', 'no summary');
    assert.not.match(result.stderr, /preserve: create:/, 'no progress');
    assert.match(result.stderr, /warning: .*dangling -> does\/not\/exist/);
    const lines = (await readFile(logfile, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { level: string; message: string; timestamp: string });
    const warning = lines.find((line) => line.message.includes('dangling -> does/not/exist'));
    assert.is(warning?.level, 'warn');
    assert.match(warning?.timestamp ?? '', /^\d{4}-\d\d-\d\dT/);
    assert.ok(lines.some((line) => line.level === 'info' && /checking the \d+ files read/.test(line.message)), 'verbose details reach the log');
  } finally {
    await repo.remove();
  }
});

test('stack traces only with --verbose', async () => {
  const quiet = await runPreserve(['list', '--keyfile', '/nonexistent/key', '--backend', '/tmp']);
  assert.is(quiet.status, 2);
  assert.is(quiet.stderr.trim().split('\n').length, 1, 'one sentence');
  const verbose = await runPreserve(['list', '--keyfile', '/nonexistent/key', '--backend', '/tmp', '--verbose']);
  assert.is(verbose.status, 2);
  assert.match(verbose.stderr, /\n\s+at /);
});

test.run();
