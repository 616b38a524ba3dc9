import { execFile } from 'node:child_process';
import { statfsSync } from 'node:fs';
import { readdir, stat, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type BackendNotes, FileBackend, openBackend } from '../src/backend/index.js';
import { LOCAL_SETTLE_MS, SETTLE_MS, settleMsFor } from '../src/backend/folder-memory.js';
import { checkKey } from '../src/backend/keys.js';
import { BackendUnavailableError, UsageError } from '../src/errors/index.js';
import { runBackendSuite } from './backend-suite.js';
import { makeTempDir } from './support.js';

runBackendSuite('file backend', async () => {
  const dir = await makeTempDir('backend');
  const backend = new FileBackend(dir.path);
  return { backend, dispose: async () => (await backend.close(), await dir.remove()) };
});

test('checkKey: refuses empty, . and .. components wherever they are, and only those', () => {
  for (const key of ['', '/', '.', '..', '/abs', 'a/', 'a//b', './a', 'a/.', 'a/./b', '../a', 'a/..', 'a/../b']) {
    assert.throws(() => checkKey(key), /invalid backend key/, key);
  }
  for (const key of ['a', 'a.b', '...', '..a', 'a..', '.a/b.', 'a/.../b', 'blocks/ab/cd/0123']) assert.is(checkKey(key), key);
});

test('file backend: objects sit at their key path and tmp/ is left empty', async () => {
  const dir = await makeTempDir('backend-layout');
  try {
    const backend = new FileBackend(dir.path);
    await backend.put('blocks/ab/cd/abcd', Buffer.from('x'));
    assert.equal(await readdir(join(dir.path, 'blocks', 'ab', 'cd')), ['abcd']);
    assert.equal(await readdir(join(dir.path, 'tmp')), []);
  } finally {
    await dir.remove();
  }
});

test('file backend: lookups asked at once go out together, each answered with its own keys', async () => {
  const dir = await makeTempDir('backend-lookups');
  const backend = new FileBackend(dir.path);
  try {
    const stored = ['blocks/00/00/a', 'blocks/00/01/b', 'trees/00/00/c'];
    for (const key of stored) await backend.put(key, Buffer.from(key));
    const asked = Array.from({ length: 40 }, (_, i) => [stored[i % 3] as string, `blocks/ff/ff/missing-${i}`, ...(i % 2 ? [stored[(i + 1) % 3] as string] : [])]);
    const answers = await Promise.all(asked.map((keys) => backend.hasMany(keys)));
    answers.forEach((found, i) => assert.equal(found, (asked[i] as string[]).map((key) => stored.includes(key)), `call ${i}`));
    // Two lookups run at once; the next ones wait and go together, so a key that cannot be
    // looked for (a path below a file) fails the callers it went with, and only those.
    const outcomes = await Promise.allSettled([['blocks/00/00/a'], ['blocks/00/01/b'], ['blocks/00/00/a/below-a-file'], ['trees/00/00/c']].map((keys) => backend.hasMany(keys)));
    assert.equal(outcomes.map((outcome) => outcome.status), ['fulfilled', 'fulfilled', 'rejected', 'rejected']);
    assert.match(String((outcomes[2] as PromiseRejectedResult).reason), /ENOTDIR/);
  } finally {
    await backend.close();
    await dir.remove();
  }
});

test('file backend: two processes writing the same objects at once both succeed', async () => {
  const dir = await makeTempDir('backend-race');
  try {
    // Each child puts the same 300 keys; link() makes exactly one creation win per key.
    const script = `
      const { FileBackend } = await import(${JSON.stringify(new URL('../src/backend/index.js', import.meta.url).href)});
      const b = new FileBackend(process.argv[1]);
      let created = 0;
      for (let i = 0; i < 300; i++) if (await b.put('blocks/00/00/k' + i, Buffer.alloc(4096, i))) created++;
      process.stdout.write(String(created));`;
    const run = () => promisify(execFile)(process.execPath, ['--input-type=module', '-e', script, dir.path]);
    const [a, b] = await Promise.all([run(), run()]);
    assert.is(Number(a.stdout) + Number(b.stdout), 300);
    const backend = new FileBackend(dir.path);
    for (let i = 0; i < 300; i++) assert.ok((await backend.get(`blocks/00/00/k${i}`)).equals(Buffer.alloc(4096, i)));
  } finally {
    await dir.remove();
  }
});

test('file backend: batches from two processes at once: each object created once, whole, tmp/ left empty', async () => {
  const dir = await makeTempDir('backend-batch-race');
  try {
    const script = `
      const { FileBackend } = await import(${JSON.stringify(new URL('../src/backend/index.js', import.meta.url).href)});
      const b = new FileBackend(process.argv[1]);
      const objects = Array.from({ length: 300 }, (_, i) => ({ key: 'blocks/00/' + String(i % 7).padStart(2, '0') + '/k' + i, data: Buffer.alloc(4096, i) }));
      const created = (await b.putMany(objects)).filter(Boolean).length;
      await b.close();
      process.stdout.write(String(created));`;
    const run = () => promisify(execFile)(process.execPath, ['--input-type=module', '-e', script, dir.path]);
    const [a, b] = await Promise.all([run(), run()]);
    assert.is(Number(a.stdout) + Number(b.stdout), 300);
    const backend = new FileBackend(dir.path);
    for (let i = 0; i < 300; i++) assert.ok((await backend.get(`blocks/00/${String(i % 7).padStart(2, '0')}/k${i}`)).equals(Buffer.alloc(4096, i)));
    assert.equal(await readdir(join(dir.path, 'tmp')), []);
  } finally {
    await dir.remove();
  }
});

/** Waits until folders changed now count as settled (FolderMemory: SETTLE_MS). */
const settle = () => new Promise((resolve) => setTimeout(resolve, SETTLE_MS + 100));

test('file backend: remembered folders answer lookups only while unchanged, and never for a folder changed just before', async () => {
  const dir = await makeTempDir('backend-memory');
  const keys = ['blocks/00/00/a', 'blocks/00/00/b', 'blocks/00/01/c', 'trees/00/00/d'];
  const opened: FileBackend[] = [];
  // A new backend for each run, as each create is a process of its own; with the margin of
  // a network file system, so that "just now" stays unsettled however slow the machine.
  const run = async (notes: BackendNotes, asked: readonly string[]) => {
    const backend = new FileBackend(dir.path, SETTLE_MS);
    opened.push(backend);
    await backend.readNotes(notes);
    const found = await backend.hasMany(asked);
    return { backend, found, counts: backend.lookupCounts() };
  };
  try {
    const notes: BackendNotes = new Map();
    const writer = await run(notes, []);
    await writer.backend.putMany(keys.map((key) => ({ key, data: Buffer.from(key) })));
    // Written just now: not settled, so the run's last look teaches nothing.
    await writer.backend.writeNotes(notes);
    let next = await run(notes, keys);
    assert.equal(next.found, [true, true, true, true]);
    assert.equal(next.counts, { remembered: 0, lookedUp: 4 });
    await settle();
    // Found in settled folders: remembered for the next run.
    next = await run(notes, keys);
    await next.backend.writeNotes(notes);
    next = await run(notes, [...keys, 'blocks/00/01/missing']);
    assert.equal(next.found, [true, true, true, true, false]);
    assert.equal(next.counts, { remembered: 4, lookedUp: 1 });
    // Nothing learnt and nothing written: the notes are left as they were, not saved again.
    const saved = notes.get(next.backend.location);
    await next.backend.writeNotes(notes);
    assert.ok(saved && notes.get(next.backend.location) === saved, 'notes of a run that changed nothing are kept as they were');
    // Removed behind the backend's back, with the folder's mtime put back: its ctime gives it away.
    const folder = join(dir.path, 'blocks', '00', '00');
    const before = await stat(folder);
    await unlink(join(folder, 'a'));
    await utimes(folder, before.atime, before.mtime);
    next = await run(notes, keys);
    assert.equal(next.found, [false, true, true, true]);
    assert.equal(next.counts, { remembered: 2, lookedUp: 2 });
    // Unreadable notes are no notes.
    next = await run(new Map([[next.backend.location, Buffer.from('{"version":1,"folders":{"blocks/00/01":[]}}')]]), keys);
    assert.equal(next.found, [false, true, true, true]);
    assert.equal(next.counts, { remembered: 0, lookedUp: 4 });
  } finally {
    await Promise.all(opened.map((backend) => backend.close()));
    await dir.remove();
  }
});

/**
 * One run of a backend at `path` that stores each batch of keys in turn, letting its folders
 * settle on this local file system after each, and saves its notes; answers the next run's
 * backend, which has read them. Both go into `opened`, for the caller to close.
 */
async function nextRunAfterWriting(path: string, batches: readonly (readonly string[])[], opened: FileBackend[]): Promise<FileBackend> {
  const notes: BackendNotes = new Map();
  const first = new FileBackend(path);
  opened.push(first);
  await first.readNotes(notes);
  for (const keys of batches) {
    await first.putMany(keys.map((key) => ({ key, data: Buffer.from(key) })));
    await new Promise((resolve) => setTimeout(resolve, LOCAL_SETTLE_MS + 100));
  }
  await first.writeNotes(notes);
  const next = new FileBackend(path);
  opened.push(next);
  await next.readNotes(notes);
  return next;
}

test('file backend: on a local file system, folders changed a moment ago are remembered (LOCAL_SETTLE_MS, not SETTLE_MS)', async () => {
  const dir = await makeTempDir('backend-local-settle');
  assert.is(settleMsFor(statfsSync(dir.path).type), LOCAL_SETTLE_MS, 'the temporary folder is on a local file system');
  assert.is(settleMsFor(0x6969), SETTLE_MS, 'NFS is not');
  const keys = ['blocks/00/00/a', 'blocks/00/01/b'];
  const opened: FileBackend[] = [];
  try {
    const next = await nextRunAfterWriting(dir.path, [keys], opened);
    assert.equal(await next.hasMany(keys), [true, true]);
    assert.equal(next.lookupCounts(), { remembered: 2, lookedUp: 0 });
  } finally {
    await Promise.all(opened.map((backend) => backend.close()));
    await dir.remove();
  }
});

test('file backend: folders written to early in a run, looked at again before its end, are remembered with those written last', async () => {
  const dir = await makeTempDir('backend-early-look');
  // Enough keys in the first batch for the writer to look at their folders again when the next batch comes.
  const hex = (n: number) => n.toString(16).padStart(4, '0');
  const early = Array.from({ length: 3000 }, (_, n) => `blocks/${hex(n).slice(0, 2)}/${hex(n).slice(2)}/early`);
  const late = ['blocks/00/00/late', 'blocks/ff/ff/late'];
  const opened: FileBackend[] = [];
  try {
    const next = await nextRunAfterWriting(dir.path, [early, late], opened);
    const keys = [...early, ...late, 'blocks/00/01/missing'];
    assert.equal(await next.hasMany(keys), [...keys.slice(0, -1).map(() => true), false]);
    assert.equal(next.lookupCounts(), { remembered: early.length + late.length, lookedUp: 1 });
  } finally {
    await Promise.all(opened.map((backend) => backend.close()));
    await dir.remove();
  }
});

test('openBackend: a missing folder is refused unless asked to create it', async () => {
  const dir = await makeTempDir('backend-open');
  try {
    const missing = join(dir.path, 'not-there');
    try {
      await openBackend(missing, { createIfMissing: false });
      assert.unreachable('should refuse');
    } catch (error) {
      assert.instance(error, BackendUnavailableError);
      assert.match((error as Error).message, 'does not exist');
    }
    const backend = await openBackend(`file://${missing}`, { createIfMissing: true });
    assert.ok(await backend.put('archives/x', Buffer.from('y')));
  } finally {
    await dir.remove();
  }
});

test('openBackend: unsupported schemes and empty URLs are usage errors', async () => {
  for (const url of ['', 'ftp://host/path']) {
    try {
      await openBackend(url, { createIfMissing: true });
      assert.unreachable(`should refuse ${url}`);
    } catch (error) {
      assert.instance(error, UsageError);
    }
  }
});

test.run();
