/**
 * Test support: real temp folders, the real CLI in a child process, a fixture tree with
 * every entry kind the core issue names, and a snapshot of a tree's attributes so that a
 * restore (or a mount) can be compared with its source.
 */
import { type ExecFileException, execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, link, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getAttribute, listAttributes, setAttribute } from 'fs-xattr';
import { microsecondOf } from '../src/commands/restore-policy.js';

/** The checkout the tests run from (they run compiled, from dist/test). */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const PRESERVE_BIN = join(PROJECT_ROOT, 'bin', 'preserve');
const TEST_CACHE_DIR = join(tmpdir(), 'preserve-test-cache');

/** A temp folder and the removal to run when the test ends (in a finally block). */
export async function makeTempDir(label: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `preserve-${label}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export interface CliResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs bin/preserve (or a copy of it at `launcher`) in a child process; never throws for a non-zero exit. */
export function runPreserve(args: readonly string[], env: Record<string, string> = {}, launcher = PRESERVE_BIN): Promise<CliResult> {
  return new Promise((resolvePromise) => {
    execFile(
      process.execPath,
      [launcher, ...args],
      // Tests never touch the user's ~/.cache; a test may still name its own cache folder.
      { env: { ...process.env, PRESERVE_CACHE_DIR: TEST_CACHE_DIR, ...env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        resolvePromise({ status: exitStatusOf(error), stdout, stderr });
      },
    );
  });
}

/** A child's exit status from execFile's error: 0 without one, 1 when it died of a signal. */
export function exitStatusOf(error: ExecFileException | null): number {
  return error ? (typeof error.code === 'number' ? error.code : 1) : 0;
}

/** Deterministic pseudo-random bytes (xorshift32) so failures reproduce. */
export function seededBytes(seed: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = state & 0xff;
  }
  return out;
}

/** mtime with a sub-second part, in seconds, for utimes. */
const FIXED_MTIME = 1_600_000_000.123456;

/** ACL entry tags (<linux/posix_acl.h>) and the id of the entries that name no one. */
const ACL_USER_OBJ = 0x01;
const ACL_USER = 0x02;
const ACL_GROUP_OBJ = 0x04;
const ACL_MASK = 0x10;
const ACL_OTHER = 0x20;
const ACL_NO_ID = 0xffffffff;

/** A POSIX ACL as Linux keeps it in system.posix_acl_access: version 2, then (tag, permissions, id) per entry, in tag order. */
export function posixAcl(entries: readonly (readonly [tag: number, permissions: number, id?: number])[]): Buffer {
  const value = Buffer.alloc(4 + 8 * entries.length);
  value.writeUInt32LE(2, 0);
  entries.forEach(([tag, permissions, id = ACL_NO_ID], k) => {
    value.writeUInt16LE(tag, 4 + 8 * k);
    value.writeUInt16LE(permissions, 6 + 8 * k);
    value.writeUInt32LE(id, 8 + 8 * k);
  });
  return value;
}

/** rw- for the owner, r-- for user 1234, r-- for the group (and mask), nothing for others: mode 0640 with a named user. */
export const NAMED_USER_ACL = posixAcl([[ACL_USER_OBJ, 6], [ACL_USER, 4, 1234], [ACL_GROUP_OBJ, 4], [ACL_MASK, 4], [ACL_OTHER, 0]]);

/**
 * Builds the core issue's test tree under root: nested folders, an empty file, a
 * multi-MiB file, unicode and space-containing names, symlinks to a file, to a folder and
 * dangling, three hardlinks (two in one folder), modes 0640/0750/4755, mtimes with
 * sub-second parts, and extended attributes: on a file, on a folder, a binary one, and
 * an ACL naming a user.
 */
export async function makeFixtureTree(root: string): Promise<void> {
  await mkdir(join(root, 'docs', 'nested', 'deeper'), { recursive: true });
  await mkdir(join(root, 'dir with spaces'), { recursive: true });
  await mkdir(join(root, 'ünïcødé-目录'), { recursive: true });
  await writeFile(join(root, 'empty'), '');
  await writeFile(join(root, 'docs', 'readme.txt'), 'hello, preserve\n');
  await writeFile(join(root, 'docs', 'nested', 'deeper', 'note.md'), '# deep\n'.repeat(100));
  await writeFile(join(root, 'big.bin'), seededBytes(7, 3 * 1024 * 1024 + 12345));
  await writeFile(join(root, 'dir with spaces', 'file with spaces.txt'), 'spaces\n');
  await writeFile(join(root, 'ünïcødé-目录', 'ファイル.txt'), 'unicode\n');
  await writeFile(join(root, 'private.txt'), 'secret-ish\n');
  await chmod(join(root, 'private.txt'), 0o640);
  await writeFile(join(root, 'setuid-tool'), '#!/bin/sh\necho hi\n');
  await chmod(join(root, 'setuid-tool'), 0o4755);
  await chmod(join(root, 'dir with spaces'), 0o750);
  await writeFile(join(root, 'docs', 'linked-a'), 'hardlinked content\n');
  await link(join(root, 'docs', 'linked-a'), join(root, 'docs', 'nested', 'linked-b'));
  await link(join(root, 'docs', 'linked-a'), join(root, 'docs', 'linked-c'));
  await symlink('readme.txt', join(root, 'docs', 'link-to-file'));
  await symlink('docs/nested', join(root, 'link-to-folder'));
  await symlink('does/not/exist', join(root, 'dangling'));
  for (const [index, path] of ['empty', 'big.bin', 'private.txt', 'docs/readme.txt', 'docs/nested/deeper/note.md'].entries()) {
    await utimes(join(root, path), FIXED_MTIME, FIXED_MTIME + index + 0.5);
  }
  await utimes(join(root, 'docs', 'nested', 'deeper'), FIXED_MTIME, FIXED_MTIME + 0.25);
  await setAttribute(join(root, 'docs', 'readme.txt'), 'user.comment', 'read me first');
  await setAttribute(join(root, 'docs', 'readme.txt'), 'user.binary', Buffer.from([0, 0xff, 0x80, 7]));
  await setAttribute(join(root, 'docs'), 'user.folder', 'documents');
  await setAttribute(join(root, 'private.txt'), 'system.posix_acl_access', NAMED_USER_ACL);
}

export interface EntryFacts {
  readonly type: 'file' | 'directory' | 'symlink' | 'other';
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  /** The microsecond the mtime lies in (floored, before 1970 too): what restore promises to keep. */
  readonly mtimeUs: bigint;
  readonly target?: string;
  readonly sha256?: string;
  /** The first path with the same inode, for hardlink comparison. */
  readonly linkedTo?: string;
  /** A file's or folder's extended attributes, `name=hex value` in name order, when it has any. */
  readonly xattrs?: string;
}

/** What describeTree says of the extended attributes at path (asynchronously: the path may be on a mount this process waits for). */
export async function describeXattrs(path: string): Promise<{ xattrs?: string }> {
  let names: string[];
  try {
    names = (await listAttributes(path)).sort();
  } catch (error) {
    // A mount through fuse-native shows none (docs/MOUNT.md, Limits).
    if ((error as NodeJS.ErrnoException).code === 'ENOTSUP') return {};
    throw error;
  }
  if (names.length === 0) return {};
  const values = await Promise.all(names.map((name) => getAttribute(path, name)));
  return { xattrs: names.map((name, k) => `${name}=${values[k]?.toString('hex')}`).join(', ') };
}

/** Every entry below root (root itself excluded), by relative path. */
export async function describeTree(root: string): Promise<Map<string, EntryFacts>> {
  const facts = new Map<string, EntryFacts>();
  const firstPathOfInode = new Map<bigint, string>();
  async function visit(relative: string): Promise<void> {
    for (const name of (await readdir(join(root, relative))).sort()) {
      const path = relative === '' ? name : `${relative}/${name}`;
      const full = join(root, path);
      const info = await lstat(full, { bigint: true });
      const type = info.isFile() ? 'file' : info.isDirectory() ? 'directory' : info.isSymbolicLink() ? 'symlink' : 'other';
      const base = {
        type,
        mode: Number(info.mode & 0o7777n),
        uid: Number(info.uid),
        gid: Number(info.gid),
        size: type === 'directory' ? 0 : Number(info.size),
        mtimeUs: microsecondOf(info.mtimeNs),
      } as const;
      if (type === 'file') {
        const linkedTo = info.nlink > 1n ? firstPathOfInode.get(info.ino) : undefined;
        if (info.nlink > 1n && linkedTo === undefined) firstPathOfInode.set(info.ino, path);
        const sha256 = createHash('sha256').update(await readFile(full)).digest('hex');
        facts.set(path, { ...base, sha256, ...(linkedTo ? { linkedTo } : {}), ...(await describeXattrs(full)) });
      } else if (type === 'symlink') {
        facts.set(path, { ...base, target: await readlink(full) });
      } else {
        facts.set(path, { ...base, ...(type === 'directory' ? await describeXattrs(full) : {}) });
        if (type === 'directory') await visit(path);
      }
    }
  }
  await visit('');
  return facts;
}

/** Files modified in the last seconds are deliberately not trusted to create's cache; a nightly backup sees mostly older ones. */
export async function makeOld(root: string): Promise<void> {
  for (const [path, facts] of await describeTree(root)) {
    if (facts.type === 'file') await utimes(join(root, path), 1_500_000_000, 1_500_000_000);
  }
}

/** A path in Latin-1 (where é is the one byte 0xE9, not UTF-8) as raw bytes. */
export const latin1 = (text: string) => Buffer.from(text, 'latin1');
/** The path `inside` (Latin-1) below root. */
export const latin1Path = (root: string, inside: string) => Buffer.concat([Buffer.from(`${root}/`), latin1(inside)]);

/**
 * A folder of Latin-1 names: two folders whose names differ only in a byte that is not
 * UTF-8 (the same name to anything that turns odd bytes into U+FFFD), a symlink with such
 * a name pointing at one of them, and one whose target holds such a byte.
 */
export async function makeLatin1Tree(root: string): Promise<void> {
  await mkdir(root);
  for (const [folder, content] of [['café', 'accent aigu'], ['cafè', 'accent grave']] as const) {
    await mkdir(latin1Path(root, folder));
    await writeFile(latin1Path(root, `${folder}/résumé.txt`), content);
  }
  await writeFile(latin1Path(root, 'naïve'), 'plain name, odd bytes');
  await symlink(latin1('café/résumé.txt'), latin1Path(root, 'lien-vers-café'));
  await symlink(latin1('/nowhere/ÿ'), latin1Path(root, 'dangling'));
  // Old enough for the cache to trust (create does not cache files modified in the last 2 s).
  for (const file of ['café/résumé.txt', 'cafè/résumé.txt', 'naïve']) await utimes(latin1Path(root, file), 1_500_000_000, 1_500_000_000);
}
