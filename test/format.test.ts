import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  type ArchiveMetadata,
  type Entry,
  type ExtendedAttribute,
  NO_XATTRS,
  decodeMetadata,
  decodeTree,
  TIME_RANGE_NS,
  encodeMetadata,
  encodeTree,
  storableTime,
} from '../src/archive/index.js';
import { ByteReader, ByteWriter } from '../src/archive/codec.js';
import { FormatError } from '../src/errors/index.js';
import { asId } from '../src/store/ids.js';

const id = (byte: number) => Buffer.alloc(32, byte);
const entries: Entry[] = [
  { type: 'directory', name: 'dir', mode: 0o750, uid: 1000, gid: 1000, mtimeNs: 1_600_000_000_123_456_789n, xattrs: NO_XATTRS, tree: asId(id(1), 'tree') },
  {
    type: 'file',
    name: 'file',
    mode: 0o4755,
    uid: 0,
    gid: 0,
    mtimeNs: -5n,
    xattrs: NO_XATTRS,
    size: 1_048_576 + 10,
    linkGroup: 3,
    chunks: [
      { id: asId(id(2), 'block'), length: 1_048_576 },
      { id: asId(id(3), 'block'), length: 10 },
    ],
  },
  { type: 'symlink', name: 'link ü', mode: 0o777, uid: 65534, gid: 65534, mtimeNs: 0n, xattrs: NO_XATTRS, target: '../somewhere' },
];

const rejects = (bytes: Buffer, pattern: RegExp) =>
  assert.throws(() => decodeTree(bytes, 'tree t'), (e: unknown) => e instanceof FormatError && pattern.test((e as Error).message));

test('varints and signed values round trip at their limits', () => {
  const values = [0, 1, 127, 128, 300, 2 ** 32, Number.MAX_SAFE_INTEGER];
  const signed = [0n, -1n, 1n, 2n ** 63n - 1n, -(2n ** 63n)];
  const writer = new ByteWriter();
  for (const v of values) writer.varint(v);
  for (const v of signed) writer.bigSigned(v);
  const reader = new ByteReader(writer.finish(), 'test');
  for (const v of values) assert.is(reader.varint(), v);
  for (const v of signed) assert.is(reader.bigSigned(), v);
  reader.end();
});

test('signed values keep their byte encoding (zigzag LEB128, up to 70 bits), and longer ones are refused', () => {
  const vectors: [bigint, string][] = [
    [0n, '00'], [-1n, '01'], [1n, '02'], [63n, '7e'], [-64n, '7f'], [64n, '8001'],
    [1_700_000_000_123_456_789n, 'aab4aed8c7bfce972f'], [-1_700_000_000_123_456_789n, 'a9b4aed8c7bfce972f'],
    [2n ** 63n - 1n, 'feffffffffffffffff01'], [-(2n ** 63n), 'ffffffffffffffffff01'],
  ];
  for (const [value, hex] of vectors) {
    assert.is(new ByteWriter().bigSigned(value).finish().toString('hex'), hex, String(value));
    assert.is(new ByteReader(Buffer.from(hex, 'hex'), 'test').bigSigned(), value);
  }
  // Beyond 64 bits (nanosecond times after the year 2262) and up to 70: ten bytes.
  for (const [value, hex] of [[2n ** 63n, '80808080808080808002'], [2n ** 69n - 1n, 'feffffffffffffffff7f'], [-(2n ** 69n), 'ffffffffffffffffff7f']] as const) {
    assert.is(new ByteWriter().bigSigned(value).finish().toString('hex'), hex, String(value));
    assert.is(new ByteReader(Buffer.from(hex, 'hex'), 'test').bigSigned(), value);
  }
  assert.throws(() => new ByteWriter().bigSigned(2n ** 69n), RangeError);
  const read = (hex: string) => () => new ByteReader(Buffer.from(hex, 'hex'), 'test').bigSigned();
  assert.throws(read('ffffffffffffffffffff01'), (e: unknown) => e instanceof FormatError && /too long/.test((e as Error).message));
});

test('strings must be valid UTF-8: invalid, overlong and surrogate encodings are malformed', () => {
  const read = (bytes: number[]) => () => new ByteReader(Buffer.from([bytes.length, ...bytes]), 'test').string(100);
  assert.is(read([0x61, 0xc3, 0xbc])(), 'aü');
  for (const bad of [[0xff], [0xc3], [0xc0, 0xaf], [0xed, 0xa0, 0x80]]) {
    assert.throws(read(bad), (e: unknown) => e instanceof FormatError && /not valid UTF-8/.test((e as Error).message), bad.join(' '));
  }
});

test('times are brought into the range an archive holds, and left alone inside it', () => {
  assert.is(storableTime(0n), 0n);
  assert.is(storableTime(10_413_792_000_250_000_000n), 10_413_792_000_250_000_000n);
  assert.is(storableTime(10n ** 21n), TIME_RANGE_NS.max);
  assert.is(storableTime(-(10n ** 21n)), TIME_RANGE_NS.min);
  const writer = new ByteWriter().bigSigned(TIME_RANGE_NS.max).bigSigned(TIME_RANGE_NS.min);
  const reader = new ByteReader(writer.finish(), 'test');
  assert.is(reader.bigSigned(), TIME_RANGE_NS.max);
  assert.is(reader.bigSigned(), TIME_RANGE_NS.min);
});

test('a tree encodes and decodes to the same entries', () => {
  assert.equal(decodeTree(encodeTree(entries), 'tree t'), entries);
});

test('encoding is deterministic, so equal folders get equal ids', () => {
  assert.ok(encodeTree(entries).equals(encodeTree(entries.map((e) => ({ ...e })))));
});

test('truncated trees and trailing bytes are malformed', () => {
  const bytes = encodeTree(entries);
  for (let length = 0; length < bytes.length; length += 7) rejects(bytes.subarray(0, length), /malformed/);
  rejects(Buffer.concat([bytes, Buffer.from([0])]), /trailing bytes/);
});

test('unsafe names are rejected by the decoder', () => {
  for (const name of ['..', '.', '', 'a/b', '/abs', 'nul\0']) {
    rejects(encodeTree([{ ...entries[2], name } as Entry]), /entry with/);
  }
});

test('repeated or unordered names, bad types and modes are rejected', () => {
  const [dir, file] = entries as [Entry, Entry, Entry];
  rejects(encodeTree([file, dir]), /out of order or repeated/);
  rejects(encodeTree([dir, dir]), /out of order or repeated/);
  rejects(encodeTree([{ ...dir, mode: 0o17777 }]), /bits beyond 7777/);
  const badType = encodeTree([dir]);
  badType[2 + 1 + 3] = 9; // version, count, name length, "dir", then the type byte
  rejects(badType, /unknown entry type 9/);
});

test('a file whose chunk lengths do not add up to its size is rejected', () => {
  const file = entries[1] as Entry & { type: 'file' };
  rejects(encodeTree([{ ...file, size: file.size + 1 }]), /chunks totalling/);
});

test('an unknown tree version is rejected', () => {
  const bytes = encodeTree(entries);
  bytes[0] = 99;
  rejects(bytes, /unsupported tree version 99/);
});

const ACL = Buffer.from('0200000001000600ffffffff', 'hex');
const XATTRS: readonly ExtendedAttribute[] = [
  { name: 'system.posix_acl_access', value: ACL },
  { name: 'user.comment', value: Buffer.from('kept') },
  { name: 'user.empty', value: Buffer.alloc(0) },
];

test('extended attributes: a tree with any is version 3 and round trips; one without any stays version 1, byte for byte', () => {
  const withXattrs = entries.map((entry, k) => (k === 1 ? { ...entry, xattrs: XATTRS } : entry));
  const bytes = encodeTree(withXattrs);
  assert.is(bytes[0], 3);
  assert.equal(decodeTree(bytes, 'tree t'), withXattrs);
  assert.is(encodeTree(entries)[0], 1, 'no extended attributes: the same tree, and id, as before they were kept');
  const decoded = decodeTree(bytes, 'tree t');
  assert.is(decoded[0]?.xattrs, NO_XATTRS, 'an entry without any shares the one empty list');
});

test('extended attributes out of order, repeated, empty-named or over the limits are rejected', () => {
  const file = entries[1] as Entry;
  const withXattrs = (xattrs: readonly ExtendedAttribute[]) => encodeTree([{ ...file, xattrs }]);
  const [acl, comment] = XATTRS as [ExtendedAttribute, ExtendedAttribute];
  rejects(withXattrs([comment, acl]), /out of order or repeated/);
  rejects(withXattrs([comment, comment]), /out of order or repeated/);
  rejects(withXattrs([{ name: '', value: ACL }]), /invalid name/);
  rejects(withXattrs([{ name: 'user.a\0b', value: ACL }]), /invalid name/);
  rejects(withXattrs([{ name: `user.${'n'.repeat(251)}`, value: ACL }]), /malformed/);
  rejects(withXattrs([{ name: 'user.big', value: Buffer.alloc(65537) }]), /malformed/);
  assert.equal(decodeTree(withXattrs([{ name: 'user.big', value: Buffer.alloc(65536, 1) }]), 't')[0]?.xattrs[0]?.value.length, 65536, 'Linux\'s largest value is kept');
});

test('archive metadata round trips, name tables and link groups included', () => {
  const metadata: ArchiveMetadata = {
    name: 'nightly',
    sourcePath: '/home/ann',
    hostname: 'laptop',
    createdAtNs: 1_700_000_000_000_000_000n,
    root: { type: 'directory', name: '', mode: 0o755, uid: 1000, gid: 100, mtimeNs: 42n, xattrs: NO_XATTRS, tree: asId(id(9), 'tree') },
    totals: { files: 10, directories: 2, symlinks: 1, bytes: 12345, storedBytes: 999, skipped: 0, xattrEntries: 0 },
    userNames: new Map([[1000, 'ann'], [0, 'root']]),
    groupNames: new Map([[100, 'users']]),
    linkGroupSizes: new Map([[1, 2]]),
  };
  assert.equal(decodeMetadata(encodeMetadata(metadata), 'm'), metadata);
  const truncated = encodeMetadata(metadata).subarray(0, 20);
  assert.throws(() => decodeMetadata(truncated, 'm'), (e: unknown) => e instanceof FormatError);
  assert.is(encodeMetadata(metadata)[0], 1, 'a root without extended attributes: version 1, as before they were kept');
  const rootWithXattrs: ArchiveMetadata = { ...metadata, root: { ...metadata.root, xattrs: XATTRS } };
  assert.is(encodeMetadata(rootWithXattrs)[0], 2);
  assert.equal(decodeMetadata(encodeMetadata(rootWithXattrs), 'm'), rootWithXattrs);
});

test.run();
