/**
 * The mount with a huge archive: builds an archive of 1,000 folders × 1,000 files
 * (1,001,001 entries) directly with the archive writer, mounts it, and measures the time
 * from starting `preserve mount` to the first `ls` of the root, and the mount's resident
 * memory after `ls -l` of one 1,000-entry folder.
 *   node dist/scripts/bench-million.js [WORK_FOLDER]     (as root, with FUSE)
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type DirectoryEntry, type Entry, NO_XATTRS, encodeTree } from '../src/archive/index.js';
import { generateKeyfile } from '../src/keyfile/index.js';
import { openRepository } from '../src/repository/index.js';

const exec = promisify(execFile);
const work = process.argv[2] ?? '/tmp/preserve-bench-million';
const FOLDERS = 1000;
const FILES = 1000;
const keyfile = join(work, 'key');
const backend = join(work, 'backend');
const mountpoint = join(work, 'mnt');
const preserve = join(process.cwd(), 'bin', 'preserve');
const mtimeNs = 1_700_000_000_000_000_000n;

async function buildArchive(): Promise<void> {
  await rm(work, { recursive: true, force: true });
  await mkdir(mountpoint, { recursive: true });
  await generateKeyfile(keyfile);
  const repository = await openRepository({ keyfile, backends: [backend], createIfMissing: true, onWarning: () => undefined });
  const block = await repository.blocks.put(Buffer.from('the same small content in every file\n'));
  const files: Entry[] = Array.from({ length: FILES }, (_, i) => ({
    type: 'file', name: `file-${String(i).padStart(4, '0')}.txt`, mode: 0o644, uid: 0, gid: 0, mtimeNs, xattrs: NO_XATTRS, size: 37, linkGroup: 0, chunks: [{ id: block, length: 37 }],
  }));
  const folders: DirectoryEntry[] = [];
  for (let f = 0; f < FOLDERS; f++) {
    // The first name differs per folder (and sorts first), so every folder is a tree of its own.
    const entries = [{ ...files[0], name: `a-note-in-folder-${f}.txt` } as Entry, ...files.slice(1)];
    const id = await repository.trees.put(encodeTree(entries));
    folders.push({ type: 'directory', name: `d${String(f).padStart(4, '0')}`, mode: 0o755, uid: 0, gid: 0, mtimeNs, xattrs: NO_XATTRS, tree: id });
  }
  const root = await repository.trees.put(encodeTree(folders));
  await repository.flush();
  await repository.catalog.write({
    name: 'million', sourcePath: '/generated', hostname: 'bench', createdAtNs: mtimeNs,
    root: { type: 'directory', name: '', mode: 0o755, uid: 0, gid: 0, mtimeNs, xattrs: NO_XATTRS, tree: root },
    totals: { files: FOLDERS * FILES, directories: FOLDERS + 1, symlinks: 0, bytes: FOLDERS * FILES * 37, storedBytes: 0, skipped: 0, xattrEntries: 0 },
    userNames: new Map([[0, 'root']]), groupNames: new Map([[0, 'root']]), linkGroupSizes: new Map(),
  });
}

async function measureMount(): Promise<void> {
  await exec('sh', ['-c', 'sync; echo 3 > /proc/sys/vm/drop_caches']).catch(() => undefined);
  const started = process.hrtime.bigint();
  const mount = spawn(process.execPath, [preserve, 'mount', '--keyfile', keyfile, '--backend', backend, 'million', mountpoint], { stdio: 'ignore' });
  try {
    let listing = '';
    while (!listing.includes('d0999')) listing = await exec('ls', [mountpoint]).then((r) => r.stdout, () => '');
    const firstLs = Number(process.hrtime.bigint() - started) / 1e9;
    const { stdout } = await exec('ls', ['-l', join(mountpoint, 'd0500')]);
    const status = await readFile(`/proc/${mount.pid}/status`, 'utf8');
    const rssMiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
    console.log(`archive: ${FOLDERS * FILES + FOLDERS + 1} entries`);
    console.log(`first ls of the root: ${firstLs.toFixed(2)} s after starting the mount`);
    console.log(`ls -l of a 1,000-entry folder: ${stdout.trim().split('\n').length - 1} entries listed`);
    console.log(`mount resident memory after that: ${rssMiB.toFixed(0)} MiB`);
  } finally {
    mount.kill('SIGINT');
    await new Promise((resolve) => mount.once('exit', resolve));
  }
}

await buildArchive();
await measureMount();
