/**
 * create from a stream: standard input (`create NAME -`) and a command's output
 * (`--stdin-from-command`) become one file of the archive that restores byte for byte,
 * deduplicates against the day before, and is never stored when the command fails; an
 * interrupted create stops its command; bad input gets one sentence and exit 2, with no
 * archive made.
 */
import { execFile, spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_CHUNK_SIZES } from '../src/chunker/index.js';
import { type TestRepo, assertOk, startPreserve, withTestRepo } from './cli-support.js';
import { type CliResult, PRESERVE_BIN, exitStatusOf, seededBytes } from './support.js';

const MiB = 1024 * 1024;

/** `preserve create … ARGS` with `input` written into a pipe on its standard input, as `producer | preserve create NAME -` runs. */
function createFromPipe(repo: TestRepo, input: Buffer, ...args: string[]): Promise<CliResult> {
  const child = spawn(process.execPath, [PRESERVE_BIN, 'create', '--keyfile', repo.keyfile, '--backend', repo.backend, ...args], {
    env: { ...process.env, PRESERVE_CACHE_DIR: join(repo.dir, 'cache') },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  // A create that refuses early closes its end of the pipe before reading it all.
  child.stdin.on('error', () => undefined);
  child.stdin.end(input);
  return new Promise((resolve) => child.on('close', (code) => resolve({ status: code ?? 1, stdout, stderr })));
}

interface ListedArchive {
  readonly name: string;
  readonly source: string;
  readonly files: number;
  readonly bytes: number;
  readonly storedBytes: number;
}

async function archives(repo: TestRepo): Promise<ListedArchive[]> {
  const listed = await repo.run('list', '--json');
  assertOk(listed, 'list');
  return JSON.parse(listed.stdout) as ListedArchive[];
}

async function restoredFile(repo: TestRepo, archive: string, name: string): Promise<{ content: Buffer; mode: number }> {
  const target = join(repo.dir, `restored-${archive}`);
  assertOk(await repo.run('restore', archive, target), `restore ${archive}`);
  const path = join(target, name);
  return { content: await readFile(path), mode: (await stat(path)).mode & 0o7777 };
}

test('create NAME - stores standard input as one file that restores byte for byte; the next day stores only the chunks around an edit; prune judges each stream name on its own', () =>
  withTestRepo('stream-stdin', async (repo) => {
    const monday = seededBytes(7, 6 * MiB);
    const created = await createFromPipe(repo, monday, 'db-monday', '-', '--stdin-filename', 'db.sql');
    assertOk(created, 'create from standard input');
    assert.match(created.stdout, /archive "db-monday" created: one file, "db.sql", 6\.0 MiB/);
    const [listed] = await archives(repo);
    assert.equal([listed?.name, listed?.source, listed?.files, listed?.bytes], ['db-monday', 'stdin:db.sql', 1, monday.length]);
    const lines = await repo.run('list', 'db-monday');
    assert.match(lines.stdout, /^-rw------- \S+ +\S+ +6291456 \S+ db\.sql\n$/);
    const restored = await restoredFile(repo, 'db-monday', 'db.sql');
    assert.ok(restored.content.equals(monday), 'the same bytes');
    assert.is(restored.mode, 0o600, 'readable by its owner only');
    assertOk(await repo.run('verify', 'db-monday'), 'verify');

    const tuesday = Buffer.concat([monday.subarray(0, 3 * MiB), Buffer.from('one more row\n'), monday.subarray(3 * MiB)]);
    assertOk(await createFromPipe(repo, tuesday, 'db-tuesday', '-', '--stdin-filename', 'db.sql'), 'the next day');
    const second = (await archives(repo)).find((a) => a.name === 'db-tuesday');
    assert.ok(second !== undefined && second.storedBytes < 2 * DEFAULT_CHUNK_SIZES.max + MiB / 2, `stored ${second?.storedBytes} bytes for a 13-byte edit`);
    assert.ok((await restoredFile(repo, 'db-tuesday', 'db.sql')).content.equals(tuesday));

    assertOk(await createFromPipe(repo, Buffer.alloc(0), 'empty', '-'), 'an empty stream');
    assert.equal((await restoredFile(repo, 'empty', 'stdin')).content, Buffer.alloc(0), 'named stdin by default, and empty');

    // prune judges each stream name on its own: the newest of db.sql and of stdin stay.
    const pruned = await repo.run('prune', '--keep-last', '1');
    assertOk(pruned, 'prune');
    assert.equal((await archives(repo)).map((a) => a.name), ['db-tuesday', 'empty']);
  }));

test('--stdin-from-command stores what the command writes; a command that fails, is killed or cannot start makes no archive', () =>
  withTestRepo('stream-command', async (repo) => {
    assertOk(await repo.run('create', 'dump', '--stdin-from-command', '--stdin-filename', 'out.txt', '--', 'sh', '-c', 'printf "hello "; printf world'), 'create');
    assert.is((await restoredFile(repo, 'dump', 'out.txt')).content.toString(), 'hello world');

    const failed = await repo.run('create', 'partial', '--stdin-from-command', '--', 'sh', '-c', 'printf half; exit 3');
    assert.is(failed.status, 1, failed.stderr);
    assert.match(failed.stderr, /^preserve: the command "sh -c printf half; exit 3" exited with status 3: no archive was made$/m);
    const killed = await repo.run('create', 'partial', '--stdin-from-command', '--', 'sh', '-c', 'printf half; kill -9 $$');
    assert.is(killed.status, 1, killed.stderr);
    assert.match(killed.stderr, /was killed by SIGKILL: no archive was made/);
    const missing = await repo.run('create', 'partial', '--stdin-from-command', '--', join(repo.dir, 'no-such-program'));
    assert.is(missing.status, 2, missing.stderr);
    assert.match(missing.stderr, /^preserve: cannot run the command ".*no-such-program": no such command$/m);
    assert.equal((await archives(repo)).map((a) => a.name), ['dump'], 'no archive of a failed command');
    assertOk(await repo.run('create', 'partial', '--stdin-from-command', '--', 'printf', 'whole'), 'the name is still free');
  }));

/** Whether process `pid` has ended (gone, or a zombie no one has reaped yet), waiting up to 10 s for it. */
async function hasEnded(pid: number): Promise<boolean> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
    if (stat === undefined || stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

test('a create stopped by SIGTERM while its command runs stops the command too, and leaves no archive', () =>
  withTestRepo('stream-interrupted', async (repo) => {
    // The command lets go of create's standard error, so that create's end is seen when it comes, not when the command's does.
    const running = startPreserve(repo, 'create', ['stopped', '--stdin-from-command', '--', 'sh', '-c', 'echo "pid $$" >&2; printf partial; exec sleep 60 2>/dev/null']);
    await running.waitFor(/pid \d+/);
    const pid = Number(/pid (\d+)/.exec(running.stderr)?.[1]);
    assert.is((await running.stop('SIGTERM')).code, 143, running.stderr);
    assert.ok(await hasEnded(pid), `the command (pid ${pid}) still runs`);
    assert.equal(await archives(repo), []);
  }));

test('create from a stream refuses an unsafe file name, a taken archive name, extra operands and a terminal: exit 2, no archive', () =>
  withTestRepo('stream-refusals', async (repo) => {
    assertOk(await createFromPipe(repo, Buffer.from('first'), 'taken', '-'), 'create');
    const refusals: [string[], RegExp][] = [
      [['new', '-', '--stdin-filename', 'a/b'], /^preserve: --stdin-filename "a\/b" is not allowed: it is a name containing "\/"$/m],
      [['new', '-', '--stdin-filename', '..'], /^preserve: --stdin-filename "\.\." is not allowed/m],
      [['taken', '-'], /an archive named "taken" already exists/],
      [['new', '-', 'extra'], /^preserve: standard input \(-\) is backed up alone, not with other paths; a command to run needs --stdin-from-command$/m],
      [['new', '--stdin-from-command'], /^preserve: --stdin-from-command needs the command to run: create NAME --stdin-from-command -- CMD \[ARG…\]$/m],
      [['new', repo.source, '--stdin-filename', 'x'], /^preserve: --stdin-filename names what `create NAME -` or --stdin-from-command backs up, not a folder$/m],
    ];
    for (const [args, message] of refusals) {
      const refused = await createFromPipe(repo, Buffer.from('data'), ...args);
      assert.is(refused.status, 2, `${args.join(' ')}: ${refused.stderr}`);
      assert.match(refused.stderr, message);
    }
    // `script` gives the command a terminal as standard input; a create that read it would wait for ever, hence the kill.
    const command = [process.execPath, PRESERVE_BIN, 'create', '--keyfile', repo.keyfile, '--backend', repo.backend, 'new', '-'].map((word) => `'${word}'`).join(' ');
    const terminal = await new Promise<{ status: number; output: string }>((resolve) =>
      execFile('script', ['-eqc', command, '/dev/null'], { timeout: 60_000 }, (error, output) => resolve({ status: exitStatusOf(error), output })),
    );
    assert.is(terminal.status, 2, terminal.output);
    assert.match(terminal.output, /standard input is a terminal: pipe the data to back up into `preserve create NAME -`/);
    assert.equal((await archives(repo)).map((a) => a.name), ['taken']);
    assert.is((await restoredFile(repo, 'taken', 'stdin')).content.toString(), 'first', 'the archive of that name is unchanged');
  }));

test.run();
