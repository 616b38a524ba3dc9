/**
 * `preserve mount` on real FUSE mounts, served by a child process and driven from here
 * with asynchronous calls only: fidelity of every attribute and byte, cp -a and rsync -aHAX
 * out of the mount, ranged reads across block boundaries, read-only refusals, the
 * all-archives layout, owner mapping by name, names that are not UTF-8, damaged blocks,
 * and clean unmounting.
 * Runs as root (CI always does); elsewhere it is skipped with a notice.
 */
import { chmod, chown, link, lstat, lutimes, mkdir, open, readFile, readdir, readlink, rm, stat, statfs, unlink, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { getAttribute, listAttributes, removeAttribute, setAttribute } from 'fs-xattr';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_CHUNK_SIZES } from '../src/chunker/index.js';
import { assertOk, flipByte, objectFiles, type TestRepo, withTestRepo } from './cli-support.js';
import { type Exit, type Transport, canMount, exec, isMounted, mustRunMountTests, startMount, withMount } from './mount-support.js';
import { type EntryFacts, NAMED_USER_ACL, PRESERVE_BIN, describeTree, describeXattrs, makeLatin1Tree, makeOld, seededBytes } from './support.js';

const it = mustRunMountTests ? test : test.skip;
if (!mustRunMountTests) console.log('mount tests skipped: they need root and /dev/fuse (CI always runs them)');
if (!canMount && mustRunMountTests) console.log('mount tests: not root or no /dev/fuse, yet CI requires them; expect failures');

const CHUNK = 1024 * 1024;

async function createArchive(repo: TestRepo, name: string): Promise<void> {
  const created = await repo.run('create', name, repo.source);
  assert.is(created.status, 0, `create failed: ${created.stderr}`);
}

/**
 * Through fuse-native the kernel gets whole milliseconds, so there mtimes are compared to
 * the millisecond, and no extended attributes are shown (docs/MOUNT.md, Limits);
 * everything else must match exactly.
 */
function asLibfuseShowsIt(facts: Map<string, EntryFacts>): Map<string, EntryFacts> {
  return new Map([...facts].map(([path, { xattrs: _shownOnlyByTheKernelTransport, ...entry }]) => [path, { ...entry, mtimeUs: entry.mtimeUs / 1000n }]));
}

async function assertSameTree(actual: string, expected: string, transport: Transport = 'kernel'): Promise<void> {
  const precision = transport === 'kernel' ? (facts: Map<string, EntryFacts>) => facts : asLibfuseShowsIt;
  const [got, wanted] = [precision(await describeTree(actual)), precision(await describeTree(expected))];
  const show = (facts: EntryFacts | undefined): string => JSON.stringify(facts, (_, value: unknown) => (typeof value === 'bigint' ? String(value) : value));
  const differences = [...new Set([...got.keys(), ...wanted.keys()])]
    .filter((path) => show(got.get(path)) !== show(wanted.get(path)))
    .map((path) => `${path}:\n  got ${show(got.get(path))}\n  not ${show(wanted.get(path))}`);
  assert.is(differences.join('\n'), '', `${actual} differs from ${expected}`);
}

async function assertRejects(work: Promise<unknown>, code: string, what: string): Promise<void> {
  try {
    await work;
  } catch (error) {
    assert.is((error as NodeJS.ErrnoException).code, code, what);
    return;
  }
  assert.unreachable(`${what} succeeded`);
}

it('a mounted archive shows every attribute and byte of the source, hardlinks as one inode, extended attributes too', () =>
  withTestRepo('mount-walk', async (repo) => {
    await setAttribute(repo.source, 'user.root', 'the backed-up folder');
    await setAttribute(join(repo.source, 'empty'), 'user.long', 'x'.repeat(300));
    await createArchive(repo, 'first');
    await withMount(repo, ['first'], async (mountpoint) => {
      await assertSameTree(mountpoint, repo.source);
      assert.equal(await describeXattrs(mountpoint), await describeXattrs(repo.source), "the backed-up folder's own, from the archive's metadata");
      // Python asks with a buffer of 128 bytes (256 for the names) first, then with room for all: the mount says ERANGE in between.
      const python = 'import os, sys; print(len(os.getxattr(sys.argv[1], "user.long")), os.listxattr(sys.argv[1]))';
      assert.is((await exec('python3', ['-c', python, join(mountpoint, 'empty')])).stdout, "300 ['user.long']\n");
      await assertRejects(getAttribute(join(mountpoint, 'empty'), 'user.none'), 'ENODATA', 'an attribute the entry lacks');
      await assertRejects(setAttribute(join(mountpoint, 'empty'), 'user.new', 'refused'), 'EROFS', 'setting one');
      const [shown, source] = await Promise.all([stat(join(mountpoint, 'big.bin'), { bigint: true }), stat(join(repo.source, 'big.bin'), { bigint: true })]);
      assert.is(shown.mtimeNs, source.mtimeNs, 'mtimes to the nanosecond');
      const device = (await exec('mountpoint', ['-d', mountpoint])).stdout.trim();
      assert.is(await readFile(`/sys/class/bdi/${device}/read_ahead_kb`, 'utf8'), '1024\n', 'the kernel reads ahead 1 MiB');
      const [a, b] = await Promise.all([stat(join(mountpoint, 'docs/linked-a')), stat(join(mountpoint, 'docs/nested/linked-b'))]);
      assert.is(a.ino, b.ino);
      assert.is(a.nlink, (await stat(join(repo.source, 'docs/linked-a'))).nlink);
      assert.is((await stat(mountpoint)).ino, 1);
      assert.is(await readlink(join(mountpoint, 'link-to-folder')), 'docs/nested');
      const space = await statfs(mountpoint);
      const entries = (await describeTree(repo.source)).size + 1;
      assert.equal([space.files, space.bfree, space.bavail, space.bsize], [entries, 0, 0, 4096], 'statfs: every entry, nothing free');
      assert.ok(space.blocks * space.bsize >= 3 * CHUNK);
    });
  }));

it('extended attributes are shown for an archive with some, counted in an unchanged backup too; not with --no-xattrs, nor for an archive without any', () =>
  withTestRepo('mount-xattrs', async (repo) => {
    // Only private.txt keeps some, in the top folder, which the unchanged backup reuses whole from the cache: it counts them from its record.
    await removeAttribute(join(repo.source, 'docs'), 'user.folder');
    for (const name of ['user.comment', 'user.binary']) await removeAttribute(join(repo.source, 'docs', 'readme.txt'), name);
    await makeOld(repo.source);
    for (const name of ['first', 'unchanged']) assertOk(await repo.run('create', name, repo.source, '--rescan-delay', '0'), `create ${name}`);
    assertOk(await repo.run('create', 'plain', repo.source, '--no-xattrs'), 'create --no-xattrs');
    const acl = (mountpoint: string) => getAttribute(join(mountpoint, 'private.txt'), 'system.posix_acl_access');
    await withMount(repo, ['unchanged'], async (mountpoint) => {
      assert.ok((await acl(mountpoint)).equals(NAMED_USER_ACL));
    });
    for (const args of [['plain'], ['--no-xattrs', 'first']]) {
      await withMount(repo, args, async (mountpoint) => {
        // The kernel is told the file system keeps none (ENOSYS), and answers itself from then on: no list, and no ACL.
        await assertRejects(listAttributes(join(mountpoint, 'docs')), 'ENOTSUP', args.join(' '));
        await assertRejects(acl(mountpoint), 'ENODATA', args.join(' '));
      });
    }
  }));

it('inode numbers are the same at the next mount of the archive', () =>
  withTestRepo('mount-inodes', async (repo) => {
    await createArchive(repo, 'first');
    const inodes = (mountpoint: string): Promise<number[]> =>
      Promise.all(['big.bin', 'docs', 'docs/nested/deeper/note.md', 'dangling'].map(async (path) => (await lstat(join(mountpoint, path))).ino));
    let first: number[] = [];
    await withMount(repo, ['first'], async (mountpoint) => {
      first = await inodes(mountpoint);
    });
    // Visit in another order the second time: numbers must not depend on it.
    await withMount(repo, ['first'], async (mountpoint) => {
      await readdir(join(mountpoint, 'docs/nested/deeper'));
      assert.equal(await inodes(mountpoint), first);
    });
    assert.is(new Set(first).size, first.length);
  }));

it('names that are not UTF-8 show with their odd bytes as Latin-1, distinct, readable, and links among them lead where they did', () =>
  withTestRepo('mount-latin1', async (repo) => {
    const source = join(repo.dir, 'latin1');
    await makeLatin1Tree(source);
    assertOk(await repo.run('create', 'odd', source), 'create');
    await withMount(repo, ['odd'], async (mountpoint) => {
      // fuse-native passes names as UTF-8 text: the Latin-1 byte é (0xE9) shows as "é" (C3 A9).
      assert.equal((await readdir(mountpoint)).sort(), ['cafè', 'café', 'dangling', 'lien-vers-café', 'naïve']);
      assert.is(await readFile(join(mountpoint, 'café/résumé.txt'), 'utf8'), 'accent aigu');
      assert.is(await readFile(join(mountpoint, 'cafè/résumé.txt'), 'utf8'), 'accent grave');
      assert.is(await readlink(join(mountpoint, 'lien-vers-café')), 'café/résumé.txt');
      assert.is(await readFile(join(mountpoint, 'lien-vers-café'), 'utf8'), 'accent aigu');
      const dangling = await lstat(join(mountpoint, 'dangling'));
      assert.is(dangling.size, Buffer.byteLength(await readlink(join(mountpoint, 'dangling'))), "a link's size is the length of the target shown");
      assert.is.not((await stat(join(mountpoint, 'café'))).ino, (await stat(join(mountpoint, 'cafè'))).ino);
    });
  }));

/**
 * rsync sends sub-second mtimes for regular files only, so it leaves a folder or symlink
 * whose mtime falls in the current second as it found it. The fixture makes some "now":
 * give every folder and symlink a fixed time in the past.
 */
async function pastTimesForFoldersAndLinks(root: string): Promise<void> {
  const facts = await describeTree(root);
  for (const [index, path] of [...facts.keys()].reverse().entries()) {
    const type = facts.get(path)?.type;
    if (type === 'directory' || type === 'symlink') await lutimes(join(root, path), 1_500_000_000, 1_500_000_000.25 + index);
  }
}

it('cp -a and rsync -aHAX out of the mount reproduce the source, extended attributes and ACLs included', () =>
  withTestRepo('mount-copy', async (repo) => {
    await pastTimesForFoldersAndLinks(repo.source);
    await createArchive(repo, 'first');
    await withMount(repo, ['first'], async (mountpoint) => {
      const copied = join(repo.dir, 'cp-out');
      await exec('cp', ['-a', mountpoint, copied]);
      await assertSameTree(copied, repo.source);
      const synced = join(repo.dir, 'rsync-out');
      await exec('rsync', ['-aHAX', `${mountpoint}/`, `${synced}/`]);
      await assertSameTree(synced, repo.source);
    });
  }));

it('reads at random offsets and lengths, across block boundaries, equal the source, many at once with one thread in libuv\'s pool', () =>
  withTestRepo('mount-ranges', async (repo) => {
    const content = seededBytes(11, 5 * CHUNK + 777);
    await writeFile(join(repo.source, 'ranges.bin'), content);
    await createArchive(repo, 'first');
    // --readahead 0 and a small cache, and the random ranges before the whole-file reads
    // (the kernel keeps pages it has read): ranges really go through block fetches. One
    // thread in libuv's pool: requests must not wait in it for blocks that wait for it.
    const ranges = async (mountpoint: string): Promise<void> => {
      const handle = await open(join(mountpoint, 'ranges.bin'), 'r');
      const readsLikeSource = async ([offset, length]: [number, number]): Promise<void> => {
        const buffer = Buffer.alloc(length);
        const { bytesRead } = await handle.read(buffer, 0, length, offset);
        assert.ok(buffer.subarray(0, bytesRead).equals(content.subarray(offset, offset + length)), `range ${offset}+${length}`);
      };
      try {
        const random = seededBytes(5, 4 * 64);
        const ranges = Array.from({ length: 64 }, (_, i): [number, number] => [random.readUInt32LE(i * 4) % content.length, (random.readUInt16LE(i * 4) * 37) % (3 * CHUNK)]);
        await Promise.all(ranges.map(readsLikeSource));
        // No block is longer than the maximum chunk, so a longer range always spans two or more.
        for (const range of [[CHUNK - 1, 2], [100, DEFAULT_CHUNK_SIZES.max + 1], [content.length - 5, 100], [content.length + 10, 10], [0, content.length]] as [number, number][]) {
          await readsLikeSource(range);
        }
      } finally {
        await handle.close();
      }
    };
    await withMount(repo, ['first', '--readahead', '0', '--cache-size', '6M'], ranges, 'kernel', { UV_THREADPOOL_SIZE: '1' });
  }));

it('writes, creates and changes are refused with EROFS', () =>
  withTestRepo('mount-readonly', async (repo) => {
    await createArchive(repo, 'first');
    await withMount(repo, ['first'], async (mountpoint) => {
      await assertRejects(writeFile(join(mountpoint, 'new.txt'), 'x'), 'EROFS', 'create');
      await assertRejects(open(join(mountpoint, 'private.txt'), 'r+'), 'EROFS', 'open for writing');
      await assertRejects(open(join(mountpoint, 'private.txt'), constants.O_RDONLY | constants.O_TRUNC), 'EROFS', 'open for truncating');
      await assertRejects(mkdir(join(mountpoint, 'folder')), 'EROFS', 'mkdir');
      await assertRejects(unlink(join(mountpoint, 'empty')), 'EROFS', 'unlink');
      await assertRejects(chmod(join(mountpoint, 'empty'), 0o777), 'EROFS', 'chmod');
      await assertRejects(link(join(mountpoint, 'empty'), join(mountpoint, 'empty2')), 'EROFS', 'link');
      assert.is(await readFile(join(mountpoint, 'private.txt'), 'utf8'), 'secret-ish\n');
    });
  }));

it('without NAME the root holds one folder per archive and latest -> the newest', () =>
  withTestRepo('mount-catalog', async (repo) => {
    await createArchive(repo, 'monday');
    await writeFile(join(repo.source, 'added-tuesday.txt'), 'new\n');
    await createArchive(repo, 'tuesday');
    await withMount(repo, [], async (mountpoint, mount) => {
      assert.match(mount.stdout, /mounted 2 archives read-only at /);
      assert.equal((await readdir(mountpoint)).sort(), ['latest', 'monday', 'tuesday']);
      assert.is(await readlink(join(mountpoint, 'latest')), 'tuesday');
      assert.ok((await stat(join(mountpoint, 'monday'))).isDirectory());
      await assertSameTree(join(mountpoint, 'latest'), repo.source);
      await rm(join(repo.source, 'added-tuesday.txt'));
      await assertSameTree(join(mountpoint, 'monday'), repo.source);
    });
  }));

/** Two users and two groups, made by the test and always removed. */
const PEOPLE = { users: ['pvtest_ann', 'pvtest_bob'], groups: ['pvtest_ops', 'pvtest_dev'] } as const;
const FIRST_IDS = [23101, 23102] as const;

async function removePeople(): Promise<void> {
  for (const user of PEOPLE.users) await exec('userdel', [user]).catch(() => undefined);
  for (const group of PEOPLE.groups) await exec('groupdel', [group]).catch(() => undefined);
}

/** Creates the users and groups with the given ids, in PEOPLE's order. */
async function addPeople(ids: readonly [number, number]): Promise<void> {
  for (const [index, group] of PEOPLE.groups.entries()) await exec('groupadd', ['-g', String(ids[index]), group]);
  for (const [index, user] of PEOPLE.users.entries()) await exec('useradd', ['-M', '-N', '-u', String(ids[index]), '-g', 'nogroup', user]);
}

it('owners are mapped by name to local ids that differ from the archived ones', () =>
  withTestRepo('mount-owners', async (repo) => {
    await removePeople();
    try {
      // At backup ann/ops are 23101 and bob/dev 23102; afterwards the ids are swapped.
      await addPeople(FIRST_IDS);
      await chown(join(repo.source, 'private.txt'), FIRST_IDS[0], FIRST_IDS[0]);
      await chown(join(repo.source, 'docs/readme.txt'), FIRST_IDS[1], FIRST_IDS[1]);
      await createArchive(repo, 'first');
      await removePeople();
      await addPeople([FIRST_IDS[1], FIRST_IDS[0]]);
      const owners = async (mountpoint: string): Promise<string[]> =>
        Promise.all(['private.txt', 'docs/readme.txt', 'big.bin'].map(async (path) => {
          const info = await stat(join(mountpoint, path));
          return `${info.uid}:${info.gid}`;
        }));
      await withMount(repo, ['first'], async (mountpoint) => {
        assert.equal(await owners(mountpoint), ['23102:23102', '23101:23101', '0:0']);
        const ls = await exec('ls', ['-l', join(mountpoint, 'private.txt'), join(mountpoint, 'docs/readme.txt')]);
        assert.match(ls.stdout, /pvtest_ann pvtest_ops .*\/private\.txt$/m);
        assert.match(ls.stdout, /pvtest_bob pvtest_dev .*\/readme\.txt$/m);
      });
      await withMount(repo, ['first', '--numeric-ids'], async (mountpoint) => {
        assert.equal(await owners(mountpoint), ['23101:23101', '23102:23102', '0:0']);
      });
      await withMount(repo, ['first', '--uid', '4242', '--gid', '4343'], async (mountpoint) => {
        assert.equal(await owners(mountpoint), ['4242:4343', '4242:4343', '4242:4343']);
      });
    } finally {
      await removePeople();
    }
  }));

it('--allow-other mounts with the FUSE option allow_other, and without it the mount is its owner\'s alone', () =>
  withTestRepo('mount-allow-other', async (repo) => {
    await createArchive(repo, 'first');
    const superOptions = async (mountpoint: string): Promise<string[]> => {
      const line = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').find((entry) => entry.split(' ')[4] === mountpoint) ?? '';
      return (line.split(' - ')[1] ?? '').split(' ')[2]?.split(',') ?? [];
    };
    for (const transport of ['kernel', 'libfuse'] as const) {
      await withMount(repo, ['first', '--allow-other'], async (mountpoint) => assert.ok((await superOptions(mountpoint)).includes('allow_other'), transport), transport);
      await withMount(repo, ['first'], async (mountpoint) => {
        const options = await superOptions(mountpoint);
        assert.ok(options.includes('default_permissions') && !options.includes('allow_other'), `${transport}: ${options.join(',')}`);
      }, transport);
    }
  }));

it('a damaged block fails reads of its file with EIO, logged once; the rest stays readable', () =>
  withTestRepo('mount-damaged', async (repo) => {
    await createArchive(repo, 'before');
    const blocksBefore = new Set(await objectFiles(repo.backend, 'blocks'));
    await writeFile(join(repo.source, 'victim.bin'), seededBytes(99, 200_000));
    await createArchive(repo, 'first');
    // Random content shares no block with anything else: the new blocks are the victim's.
    const victimBlocks = (await objectFiles(repo.backend, 'blocks')).filter((path) => !blocksBefore.has(path));
    assert.ok(victimBlocks.length > 0);
    for (const path of victimBlocks) await flipByte(path, 7);
    let exit: Exit | undefined;
    await withMount(repo, ['first'], async (mountpoint, mount) => {
      const reports = (): string[] => mount.stderr.split('\n').filter((line) => line.includes('victim.bin'));
      // The child's stderr arrives through a pipe: give it a moment after each failed read.
      const pause = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 200));
      await assertRejects(readFile(join(mountpoint, 'victim.bin')), 'EIO', 'reading the damaged file');
      await pause();
      const first = reports();
      assert.ok(first.length > 0 && first.every((line) => /failed authentication/.test(line)), mount.stderr);
      await assertRejects(readFile(join(mountpoint, 'victim.bin')), 'EIO', 'reading the damaged file again');
      await pause();
      assert.equal(reports(), first, 'the same failure is logged once');
      assert.is(await readFile(join(mountpoint, 'docs/readme.txt'), 'utf8'), 'hello, preserve\n');
      assert.ok((await readFile(join(mountpoint, 'big.bin'))).equals(await readFile(join(repo.source, 'big.bin'))));
      assert.ok(await isMounted(mountpoint));
      exit = await mount.stop('SIGINT');
    });
    // The mount ran, but found damaged data: SPEC §1 exit status 1.
    assert.equal(exit, { code: 1, signal: null });
  }));

it('a folder of 1,000 entries lists whole with its attributes, and after the kernel forgets every node each path is found again', () =>
  withTestRepo('mount-forget', async (repo) => {
    const wide = join(repo.source, 'wide');
    await mkdir(wide);
    // Longer names than the tree's: a listing takes several READDIRPLUS answers of a few hundred entries.
    for (let index = 0; index < 1000; index++) await writeFile(join(wide, `entry-with-a-longer-name-${String(index).padStart(4, '0')}.txt`), `${index}\n`);
    await createArchive(repo, 'first');
    await withMount(repo, ['first'], async (mountpoint) => {
      await assertSameTree(mountpoint, repo.source);
      // Dentries and inodes dropped: the kernel sends FORGET for every node it let go.
      await writeFile('/proc/sys/vm/drop_caches', '2');
      await assertSameTree(mountpoint, repo.source);
      assert.is(await readFile(join(mountpoint, 'wide/entry-with-a-longer-name-0999.txt'), 'utf8'), '999\n');
    });
  }));

it("reading a folder's first file hands the kernel the next small files whole, unread; without readahead nothing is", () =>
  withTestRepo('mount-push', async (repo) => {
    const folder = join(repo.source, 'small');
    await mkdir(folder);
    const sizes = [100, 5000, 4096, 20_000, 70_000];
    for (const [index, size] of sizes.entries()) await writeFile(join(folder, `f${index}`), seededBytes(40 + index, size));
    await createArchive(repo, 'first');
    // fincore maps a file and asks which of its pages are in memory, which reads nothing.
    const resident = async (mountpoint: string, name: string): Promise<number> =>
      Number((await exec('fincore', ['--bytes', '--noheadings', '--output', 'RES', join(mountpoint, 'small', name)])).stdout.trim());
    for (const readahead of ['16', '0']) {
      await withMount(repo, ['first', '--readahead', readahead], async (mountpoint) => {
        // As tar does: the listing makes the kernel hold a node for each file, the first is read.
        assert.is((await readdir(join(mountpoint, 'small'))).length, sizes.length);
        await readFile(join(mountpoint, 'small/f0'));
        await new Promise((resolve) => setTimeout(resolve, 500));
        const pages = await Promise.all(sizes.slice(1).map((_, index) => resident(mountpoint, `f${index + 1}`)));
        const expected = readahead === '0' ? [0, 0, 0, 0] : sizes.slice(1).map((size) => Math.ceil(size / 4096) * 4096);
        assert.equal(pages, expected, `--readahead ${readahead}: bytes in memory before any read`);
        await assertSameTree(join(mountpoint, 'small'), folder);
      });
    }
  }));

it('through fuse-native (PRESERVE_FUSE=libfuse, as users other than root mount): attributes, bytes, ranges, refusals, unmount', () =>
  withTestRepo('mount-libfuse', async (repo) => {
    await createArchive(repo, 'first');
    await withMount(
      repo,
      ['first'],
      async (mountpoint, mount) => {
        await assertSameTree(mountpoint, repo.source, 'libfuse');
        const [a, b] = await Promise.all([stat(join(mountpoint, 'docs/linked-a')), stat(join(mountpoint, 'docs/nested/linked-b'))]);
        assert.is(a.ino, b.ino);
        const content = await readFile(join(repo.source, 'big.bin'));
        const handle = await open(join(mountpoint, 'big.bin'), 'r');
        try {
          const buffer = Buffer.alloc(CHUNK + 10);
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, CHUNK - 5);
          assert.ok(buffer.subarray(0, bytesRead).equals(content.subarray(CHUNK - 5, CHUNK - 5 + buffer.length)));
        } finally {
          await handle.close();
        }
        await assertRejects(writeFile(join(mountpoint, 'new.txt'), 'x'), 'EROFS', 'create');
        assert.equal(await mount.stop('SIGINT'), { code: 0, signal: null }, mount.stderr);
        assert.not.ok(await isMounted(mountpoint));
      },
      'libfuse',
    );
  }));

it('SIGINT and SIGTERM unmount cleanly, and so does an unmount from outside', () =>
  withTestRepo('mount-stop', async (repo) => {
    await createArchive(repo, 'first');
    for (const stop of ['SIGINT', 'SIGTERM', 'umount'] as const) {
      await withMount(repo, ['first'], async (mountpoint, mount) => {
        await readdir(mountpoint);
        const exit = stop === 'umount' ? (await exec('umount', [mountpoint]), await mount.exited) : await mount.stop(stop);
        assert.equal(exit, { code: 0, signal: null }, `${stop}: ${mount.stderr}`);
        assert.match(mount.stdout, /unmounted /);
        assert.not.ok(await isMounted(mountpoint), stop);
        assert.equal(await readdir(mountpoint), []);
      });
    }
  }));

it('a missing or non-empty mountpoint, an unknown archive or no FUSE: one sentence, exit 2', () =>
  withTestRepo('mount-errors', async (repo) => {
    await createArchive(repo, 'first');
    const attempt = async (args: string[], expected: RegExp): Promise<void> => {
      const mount = startMount(repo, args.pop() as string, args);
      const exit = await mount.exited;
      assert.is(exit.code, 2, mount.stderr);
      assert.match(mount.stderr, expected);
      assert.is(mount.stderr.trim().split('\n').length, 1, mount.stderr);
    };
    const empty = join(repo.dir, 'empty-mountpoint');
    await mkdir(empty);
    await attempt(['first', join(repo.dir, 'absent')], /^preserve: mountpoint .*absent does not exist\n$/);
    await attempt(['first', repo.source], /^preserve: mountpoint .* is not empty\n$/);
    await attempt(['nope', empty], /^preserve: there is no archive named "nope"/);
    const args = ['mount', '--keyfile', repo.keyfile, '--backend', repo.backend, 'first', empty];
    const failure = (command: string, commandArgs: string[], env: Record<string, string> = {}): Promise<{ code: number; stderr: string }> =>
      exec(command, commandArgs, { env: { ...process.env, ...env } }).then(
        () => ({ code: 0, stderr: '' }),
        (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
      );
    // A private mount namespace whose /dev has no fuse device stands in for a machine without FUSE.
    const script = 'mount -t tmpfs none /dev && exec "$0" "$@"';
    const noFuse = await failure('unshare', ['-m', 'sh', '-c', script, process.execPath, PRESERVE_BIN, ...args]);
    assert.is(noFuse.code, 2);
    assert.match(noFuse.stderr, /^preserve: FUSE is unavailable: \/dev\/fuse cannot be opened/);
    assert.equal(await failure(process.execPath, [PRESERVE_BIN, ...args], { PRESERVE_FUSE: 'fast' }), {
      code: 2,
      stderr: 'preserve: PRESERVE_FUSE must be "kernel" or "libfuse", not "fast"\n',
    });
    assert.not.ok(await isMounted(empty));
  }));

test.run();
