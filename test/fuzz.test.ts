/**
 * Property-based fuzzing (fast-check) of every decoder of untrusted bytes: trees, archive
 * metadata, archive objects, ciphertext, keyfiles, object keys, the mtime cache's entries
 * and scrub's state file. Each gets random bytes and mutations of valid encodings (flipped,
 * cut, inserted bytes); it may succeed or throw its typed error, and nothing else.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { Level } from 'level';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type ArchiveMetadata, Catalog, type Entry, NO_XATTRS, compareNames, decodeMetadata, decodeTree, encodeMetadata, encodeTree, unsafeNameReason } from '../src/archive/index.js';
import type { Backend } from '../src/backend/index.js';
import { FileCache, FolderRecord } from '../src/cache/index.js';
import { loadScrubState } from '../src/commands/index.js';
import { decrypt, deriveKeys } from '../src/crypto/index.js';
import { AuthenticationError, FormatError, KeyError, ObjectNotFoundError } from '../src/errors/index.js';
import { nameFromBytes } from '../src/filenames/index.js';
import { parseKeyText } from '../src/keyfile/index.js';
import { type ArchiveId, asId } from '../src/store/ids.js';
import { archiveIdFromKey, archiveKey, contentIdFromKey } from '../src/store/layout.js';
import { makeTempDir, seededBytes } from './support.js';

const RUNS = { numRuns: 400 };
const keys = deriveKeys(seededBytes(1, 128));

/** Runs decode and fails the property on any error but the expected kinds. */
function onlyTyped(decode: () => unknown, ...expected: (new (...args: never[]) => Error)[]): boolean {
  try {
    decode();
    return true;
  } catch (error) {
    if (expected.some((kind) => error instanceof kind)) return true;
    throw error;
  }
}

/** Whether decode returns true rather than throw FormatError. */
function readable(decode: () => boolean): boolean {
  try {
    return decode();
  } catch (error) {
    if (error instanceof FormatError) return false;
    throw error;
  }
}

const id = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => Buffer.from(bytes));
/** Text, or any bytes as src/filenames holds them (a tree of version 2). */
const text = (minLength: number, maxLength: number) =>
  fc.oneof(fc.string({ unit: 'grapheme', minLength, maxLength }), fc.uint8Array({ minLength, maxLength }).map(nameFromBytes));
const name = text(1, 12).filter((n) => unsafeNameReason(n) === undefined);
/** None (most entries), or a few with distinct names in the order of their bytes. */
const xattrs = fc.oneof(
  fc.constant(NO_XATTRS),
  fc
    .uniqueArray(fc.record({ name: fc.stringMatching(/^(user|security|trusted|system)\.[a-z_.é]{1,20}$/), value: fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes)) }), {
      selector: (xattr) => xattr.name,
      minLength: 1,
      maxLength: 3,
    })
    // Plain objects, as the decoder makes (fast-check's records have no prototype).
    .map((list) => list.map(({ name, value }) => ({ name, value })).sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)))),
);
const attributes = fc.record({
  name,
  mode: fc.nat(0o7777),
  uid: fc.nat(2 ** 32 - 1),
  gid: fc.nat(2 ** 32 - 1),
  mtimeNs: fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n),
  xattrs,
});
const chunk = fc.tuple(id, fc.integer({ min: 1, max: 64 * 2 ** 20 })).map(([bytes, length]) => ({ id: asId(bytes, 'block'), length }));
const entry: fc.Arbitrary<Entry> = fc.oneof(
  fc.tuple(attributes, fc.array(chunk, { maxLength: 4 }), fc.nat(1000)).map(([a, chunks, linkGroup]): Entry => ({
    ...a,
    type: 'file',
    size: chunks.reduce((sum, c) => sum + c.length, 0),
    linkGroup,
    chunks,
  })),
  fc.tuple(attributes, id).map(([a, tree]): Entry => ({ ...a, type: 'directory', tree: asId(tree, 'tree') })),
  fc.tuple(attributes, text(0, 40)).map(([a, target]): Entry => ({ ...a, type: 'symlink', target })),
);
/** A valid folder: distinct names in the one order. */
const tree = fc.uniqueArray(entry, { selector: (e) => e.name, maxLength: 6 }).map((entries) => [...entries].sort((a, b) => compareNames(a.name, b.name)));

const names = fc.dictionary(fc.nat(2 ** 32 - 1).map(String), fc.string({ maxLength: 10 }), { maxKeys: 3 });
const metadata: fc.Arbitrary<ArchiveMetadata> = fc
  .record({ archiveName: fc.string({ minLength: 1, maxLength: 20 }), attributes, tree: id, totals: fc.array(fc.nat(), { minLength: 7, maxLength: 7 }), users: names, groups: names })
  .map((r) => ({
    name: r.archiveName,
    sourcePath: '/src',
    hostname: 'host',
    createdAtNs: r.attributes.mtimeNs,
    root: { ...r.attributes, name: '', type: 'directory', tree: asId(r.tree, 'tree') },
    totals: { files: r.totals[0] ?? 0, directories: r.totals[1] ?? 0, symlinks: r.totals[2] ?? 0, bytes: r.totals[3] ?? 0, storedBytes: r.totals[4] ?? 0, skipped: r.totals[5] ?? 0, xattrEntries: r.totals[6] ?? 0 },
    userNames: new Map(Object.entries(r.users).map(([k, v]) => [Number(k), v])),
    groupNames: new Map(Object.entries(r.groups).map(([k, v]) => [Number(k), v])),
    linkGroupSizes: new Map([[1, 2]]),
  }));

/** Valid bytes from `valid`, then damaged: bytes overwritten, the end cut off, bytes inserted. */
function mutated(valid: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  const edits = fc.array(fc.record({ at: fc.nat(), byte: fc.nat(255), kind: fc.constantFrom('set', 'insert', 'cut') }), { minLength: 1, maxLength: 4 });
  return fc.tuple(valid, edits).map(([bytes, changes]) => {
    let out = Buffer.from(bytes);
    for (const { at, byte, kind } of changes) {
      const position = out.length === 0 ? 0 : at % out.length;
      if (kind === 'set' && out.length > 0) out[position] = byte;
      else if (kind === 'insert') out = Buffer.concat([out.subarray(0, position), Buffer.from([byte]), out.subarray(position)]);
      else out = out.subarray(0, position);
    }
    return out;
  });
}

const randomBytes = fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes));
const validTree = tree.map((entries) => encodeTree(entries));
const validMetadata = metadata.map((m) => encodeMetadata(m));

test('trees: valid ones round trip; random and damaged bytes give a tree or a FormatError', () => {
  fc.assert(fc.property(tree, (entries) => assert.equal(decodeTree(encodeTree(entries), 't'), entries)), RUNS);
  for (const input of [randomBytes, mutated(validTree)]) fc.assert(fc.property(input, (bytes) => onlyTyped(() => decodeTree(bytes, 't'), FormatError)), RUNS);
});

test('archive metadata: valid ones round trip; random and damaged bytes give metadata or a FormatError', () => {
  fc.assert(fc.property(metadata, (m) => assert.equal(decodeMetadata(encodeMetadata(m), 'm'), m)), RUNS);
  for (const input of [randomBytes, mutated(validMetadata)]) fc.assert(fc.property(input, (bytes) => onlyTyped(() => decodeMetadata(bytes, 'm'), FormatError)), RUNS);
});

/** A backend holding one object, whatever bytes it is given. */
function oneObjectBackend(key: string, bytes: () => Buffer): Backend {
  return {
    location: 'memory:',
    has: async (k) => k === key,
    get: async (k) => {
      if (k !== key) throw new ObjectNotFoundError(k);
      return bytes();
    },
    put: async () => false,
    list: async function* () {
      yield { key, size: 0 };
    },
    delete: async () => undefined,
  };
}

test('archive objects: random and damaged bytes are read, or refused with AuthenticationError or FormatError', async () => {
  let stored: Buffer = Buffer.alloc(0);
  const archiveId = asId(Buffer.alloc(32, 7), 'archive') as ArchiveId;
  const written: { id: ArchiveId; object: Buffer }[] = [];
  const writer = new Catalog({ ...oneObjectBackend('none', () => stored), put: async (key, data) => (written.push({ id: archiveIdFromKey(key) as ArchiveId, object: Buffer.from(data) }), true) }, keys);
  await fc.assert(fc.asyncProperty(metadata, async (m) => void (await writer.write(m))), { numRuns: 20 });
  const readsOrRefuses = async (bytes: Buffer, readId: ArchiveId): Promise<boolean> => {
    stored = bytes;
    try {
      await new Catalog(oneObjectBackend(archiveKey(readId), () => stored), keys).readById(readId);
      return true;
    } catch (error) {
      if (error instanceof AuthenticationError || error instanceof FormatError) return true;
      throw error;
    }
  };
  await fc.assert(fc.asyncProperty(randomBytes, (bytes) => readsOrRefuses(bytes, archiveId)), RUNS);
  const damaged = fc.constantFrom(...written).chain(({ id: writtenId, object }) => mutated(fc.constant(object)).map((bytes) => ({ writtenId, bytes })));
  await fc.assert(fc.asyncProperty(damaged, ({ writtenId, bytes }) => readsOrRefuses(bytes, writtenId)), RUNS);
  for (const { id: writtenId, object } of written) {
    stored = object;
    assert.ok(await new Catalog(oneObjectBackend(archiveKey(writtenId), () => stored), keys).readById(writtenId));
  }
});

test('decrypt of random ids and ciphertexts only ever throws AuthenticationError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), randomBytes, randomBytes, (tag, aad, ciphertext) => {
      assert.throws(() => decrypt(keys.block, Buffer.from(tag), aad, ciphertext, 'x'), (error: unknown) => error instanceof AuthenticationError);
      return true;
    }),
    RUNS,
  );
});

test('keyfile text, object keys and archive keys: a value or KeyError, never a crash', () => {
  const hexish = fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEFg \r\n'), maxLength: 300 });
  for (const text of [fc.string({ maxLength: 300 }), hexish, fc.constant('a'.repeat(256)).chain((k) => mutated(fc.constant(Buffer.from(k))).map(String))]) {
    fc.assert(fc.property(text, (t) => onlyTyped(() => parseKeyText(t, 'k'), KeyError)), RUNS);
  }
  fc.assert(
    fc.property(fc.string({ maxLength: 120 }), (key) => {
      contentIdFromKey(key, 'block');
      contentIdFromKey(key, 'tree');
      archiveIdFromKey(key);
      return true;
    }),
    RUNS,
  );
});

test('the mtime cache treats garbage records as absent, and scrub state garbage as a fresh start', async () => {
  const dir = await makeTempDir('fuzz-cache');
  try {
    const path = join(dir.path, 'db');
    const filled = (byte: number) => Buffer.alloc(32, byte);
    const fingerprint = { size: 5, mtimeNs: 1n, ctimeNs: 2n, inode: 3n };
    const block = asId(filled(4), 'block');
    const summary = { listing: filled(1), tree: asId(filled(2), 'tree'), subfolderTrees: [asId(filled(3), 'tree')], fileCount: 1, bytes: 5, uids: [0], gids: [0], symlinks: [{ name: 'l', target: 't' }], blocks: [block], xattrEntries: 1 };
    const valid = FolderRecord.of(summary, new Map([['f', { fingerprint, chunks: [{ id: block, length: 5 }] }]])).encode();
    const samples = fc.sample(fc.oneof(randomBytes, mutated(fc.constant(valid))), 200);
    const db = new Level<string, Buffer>(path, { valueEncoding: 'buffer' });
    const others = ['/f-other', '/f-other/x'];
    await db.batch([
      ...samples.map((value, i) => ({ type: 'put' as const, key: `/f/${i}`, value })),
      ...['/f/valid', ...others].map((key) => ({ type: 'put' as const, key, value: valid })),
    ]);
    await db.close();
    const cache = await FileCache.open(path);
    try {
      let usable = 0;
      for (const i of samples.keys()) {
        const found = await cache.lookup(`/f/${i}`);
        // A record whose files cannot be decoded is as good as none (FormatError); any other error fails the test.
        if (found && onlyTyped(() => found.files(), FormatError) && readable(() => found.files().size > 0)) usable++;
      }
      assert.ok(usable < samples.length, 'garbage is not all taken for records');
      assert.ok(usable > 0, 'some mutations keep a record readable');
      const record = await cache.lookup('/f/valid');
      assert.equal(record?.summary, summary);
      assert.equal(record?.files().get('f')?.fingerprint, fingerprint);
      cache.keep('/f/valid');
      await cache.forgetUnseen('/f');
      assert.ok(await cache.lookup('/f/valid'), 'the record of a folder seen is kept');
      for (const i of samples.keys()) assert.is(await cache.lookup(`/f/${i}`), undefined, 'records of folders not seen are deleted');
      for (const key of others) assert.ok(await cache.lookup(key), `${key} is not under /f`);
    } finally {
      await cache.close();
    }
    const statePath = join(dir.path, 'state.json');
    let warnings = 0;
    for (const text of fc.sample(fc.oneof(fc.string({ maxLength: 80 }), fc.json()), 200)) {
      await writeFile(statePath, text);
      const state = await loadScrubState(statePath, () => warnings++);
      assert.ok(Number.isSafeInteger(state.position) && state.position >= 0 && state.position < 2 ** 32);
    }
    assert.ok(warnings > 150, `${warnings} garbled states reported`);
  } finally {
    await dir.remove();
  }
});

test.run();
