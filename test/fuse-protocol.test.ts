/**
 * The FUSE kernel protocol's layouts (mount/kernel/protocol.ts), byte by byte against
 * <linux/fuse.h>, the node table that maps the kernel's node ids to paths, and how many
 * requests the connection reads at once.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Attributes } from '../mount/attributes.js';
import { NodeTable, ROOT_NODE, childPath } from '../mount/kernel/nodes.js';
import {
  IN_HEADER_SIZE,
  Opcode,
  bodyOf,
  decodeBatchForget,
  decodeHeader,
  decodeInit,
  decodeName,
  decodeRead,
  decodeXattrRequest,
  direntPlusSize,
  encodeAttr,
  encodeDirentPlus,
  encodeEntry,
  encodeInit,
  encodeNotifyStore,
  encodeOutHeader,
  encodeStatfs,
  encodeXattrNames,
  encodeXattrSize,
} from '../mount/kernel/protocol.js';

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

function attributes(overrides: Partial<Attributes> = {}): Attributes {
  return { ino: 0x1234_5678, size: 1025, mode: S_IFREG | 0o640, nlink: 2, uid: 1000, gid: 100, mtimeNs: 1_700_000_000_123_456_789n, blksize: 131072, ...overrides };
}

/** A request as /dev/fuse hands it out: struct fuse_in_header, then the body. */
function request(opcode: number, nodeid: number, body: Buffer): Buffer {
  const header = Buffer.alloc(IN_HEADER_SIZE);
  header.writeUInt32LE(IN_HEADER_SIZE + body.length, 0);
  header.writeUInt32LE(opcode, 4);
  header.writeBigUInt64LE(77n, 8);
  header.writeBigUInt64LE(BigInt(nodeid), 16);
  // A longer buffer than the request, as the device's read buffers are.
  return Buffer.concat([header, body, Buffer.alloc(64, 0xee)]);
}

test('a request header gives opcode, unique and node; the body ends where the request does', () => {
  const raw = request(Opcode.LOOKUP, 42, Buffer.from('name.txt\0'));
  const header = decodeHeader(raw);
  assert.equal(header, { length: IN_HEADER_SIZE + 9, opcode: Opcode.LOOKUP, unique: 77n, nodeid: 42 });
  assert.is(decodeName(bodyOf(raw, header)).toString(), 'name.txt');
});

test('READ and READDIRPLUS bodies give offset and size; INIT gives version, readahead and flags', () => {
  const read = Buffer.alloc(40);
  read.writeBigUInt64LE(5n, 0); // fh
  read.writeBigUInt64LE(3n * 2n ** 32n + 7n, 8);
  read.writeUInt32LE(131072, 16);
  assert.equal(decodeRead(read), { offset: 3 * 2 ** 32 + 7, size: 131072 });
  const init = Buffer.alloc(64);
  [7, 44, 131072, 0x3fff_ffff].forEach((value, index) => init.writeUInt32LE(value, index * 4));
  assert.equal(decodeInit(init), { major: 7, minor: 44, maxReadahead: 131072, flags: 0x3fff_ffff });
});

test('GETXATTR and LISTXATTR: the caller\'s size and the name; answers as fuse_getxattr_out and NUL-ended names', () => {
  const body = Buffer.concat([Buffer.from([0x80, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('user.comment\0')]);
  assert.equal(decodeXattrRequest(body), { size: 128, name: Buffer.from('user.comment') });
  assert.is(decodeXattrRequest(body.subarray(0, 8)).size, 128, 'LISTXATTR has no name');
  assert.ok(encodeXattrSize(300).equals(Buffer.from([0x2c, 1, 0, 0, 0, 0, 0, 0])));
  assert.is(encodeXattrNames(['user.a', 'system.posix_acl_access']).toString(), 'user.a\0system.posix_acl_access\0');
  assert.is(encodeXattrNames([]).length, 0);
});

test('BATCH_FORGET gives every (node, lookups) pair, and no more than the body holds', () => {
  const body = Buffer.alloc(8 + 3 * 16);
  body.writeUInt32LE(3, 0);
  [[10n, 1n], [11n, 5n], [2n ** 40n, 2n]].forEach(([node, lookups], index) => {
    body.writeBigUInt64LE(node as bigint, 8 + index * 16);
    body.writeBigUInt64LE(lookups as bigint, 16 + index * 16);
  });
  assert.equal(decodeBatchForget(body), [[10, 1], [11, 5], [2 ** 40, 2]]);
  assert.equal(decodeBatchForget(body.subarray(0, 8 + 16 + 8)), [[10, 1]], 'a pair cut short is left out');
});

test('attributes are laid out as struct fuse_attr, times to the nanosecond, before 1970 too', () => {
  const out = encodeAttr(attributes(), 3600);
  assert.is(out.length, 16 + 88);
  assert.is(out.readBigUInt64LE(0), 3600n, 'attr_valid');
  const attr = out.subarray(16);
  assert.is(attr.readBigUInt64LE(0), 0x1234_5678n, 'ino');
  assert.is(attr.readBigUInt64LE(8), 1025n, 'size');
  assert.is(attr.readBigUInt64LE(16), 3n, 'blocks of 512 bytes, rounded up');
  for (const at of [24, 32, 40]) assert.is(attr.readBigInt64LE(at), 1_700_000_000n, 'atime, mtime, ctime seconds');
  for (const at of [48, 52, 56]) assert.is(attr.readUInt32LE(at), 123_456_789, 'their nanoseconds');
  assert.equal([60, 64, 68, 72, 76, 80].map((at) => attr.readUInt32LE(at)), [S_IFREG | 0o640, 2, 1000, 100, 0, 131072]);
  const before1970 = encodeAttr(attributes({ mtimeNs: -1_500_000_000n }), 1).subarray(16);
  assert.is(before1970.readBigInt64LE(32), -2n, 'seconds round down');
  assert.is(before1970.readUInt32LE(52), 500_000_000, 'nanoseconds stay positive');
  const wide = encodeAttr(attributes({ ino: 2 ** 40 + 5, size: 2 ** 33 + 1, mtimeNs: -(2n ** 35n) * 1_000_000_000n - 1n }), 1).subarray(16);
  assert.equal([wide.readBigUInt64LE(0), wide.readBigUInt64LE(8), wide.readBigUInt64LE(16)], [2n ** 40n + 5n, 2n ** 33n + 1n, 2n ** 24n + 1n], 'beyond 32 bits');
  assert.is(wide.readBigInt64LE(40), -(2n ** 35n) - 1n, 'seconds beyond 32 bits, before 1970');
  assert.is(wide.readUInt32LE(56), 999_999_999);
});

test('an entry names its node and how long to trust it; a name not found is node 0', () => {
  const found = encodeEntry(attributes(), 3600);
  assert.is(found.length, 40 + 88);
  assert.equal([found.readBigUInt64LE(0), found.readBigUInt64LE(16), found.readBigUInt64LE(24)], [0x1234_5678n, 3600n, 3600n]);
  assert.is(found.readBigUInt64LE(40), 0x1234_5678n, 'the attributes follow');
  const absent = encodeEntry(undefined, 3600);
  assert.is(absent.readBigUInt64LE(0), 0n);
  assert.is(absent.readBigUInt64LE(16), 3600n, 'the kernel may remember the absence');
  assert.ok(absent.subarray(40).every((byte) => byte === 0));
});

test('readdirplus records: 8-byte aligned, offsets to go on from, types from the mode, no node for . and ..', () => {
  const folder = attributes({ ino: 9, mode: S_IFDIR | 0o755 });
  const items = [
    { name: Buffer.from('.'), attr: folder, counted: false },
    { name: Buffer.from('a-file'), attr: attributes({ ino: 10 }), counted: true },
    { name: Buffer.from('link-name'), attr: attributes({ ino: 11, mode: S_IFLNK | 0o777 }), counted: true },
  ];
  const out = encodeDirentPlus(items, 5, 60);
  assert.is(out.length, items.reduce((sum, item) => sum + direntPlusSize(item), 0));
  let at = 0;
  const seen: [bigint, bigint, bigint, number, string][] = [];
  for (const item of items) {
    const dirent = at + 128;
    const nameLength = out.readUInt32LE(dirent + 16);
    seen.push([out.readBigUInt64LE(at), out.readBigUInt64LE(dirent), out.readBigUInt64LE(dirent + 8), out.readUInt32LE(dirent + 20), out.toString('utf8', dirent + 24, dirent + 24 + nameLength)]);
    assert.is(direntPlusSize(item) % 8, 0);
    assert.ok(out.subarray(dirent + 24 + nameLength, at + direntPlusSize(item)).every((byte) => byte === 0), 'padding is zeros');
    at += direntPlusSize(item);
  }
  assert.equal(seen, [
    [0n, 9n, 6n, 4, '.'],
    [10n, 10n, 7n, 8, 'a-file'],
    [11n, 11n, 8n, 10, 'link-name'],
  ]);
});

test('INIT, STATFS and the answer header are laid out as the kernel reads them', () => {
  const init = encodeInit({ minor: 31, maxReadahead: 131072, flags: 0x1234, maxPages: 256 });
  assert.is(init.length, 64);
  assert.equal([0, 4, 8, 12].map((at) => init.readUInt32LE(at)), [7, 31, 131072, 0x1234]);
  assert.is(init.readUInt32LE(24), 1, 'time granularity: 1 ns');
  assert.is(init.readUInt16LE(28), 256, 'max_pages');
  const statfs = encodeStatfs({ blocks: 2 ** 33, files: 5, blockSize: 4096, nameMax: 255 });
  assert.is(statfs.length, 80);
  assert.equal([statfs.readBigUInt64LE(0), statfs.readBigUInt64LE(8), statfs.readBigUInt64LE(24)], [2n ** 33n, 0n, 5n]);
  assert.equal([40, 44, 48].map((at) => statfs.readUInt32LE(at)), [4096, 255, 4096]);
  const header = encodeOutHeader(99n, -2, 100);
  assert.equal([header.readUInt32LE(0), header.readInt32LE(4), header.readBigUInt64LE(8)], [116, -2, 99n]);
  // A notification: unique 0, the code in place of the error, then fuse_notify_store_out.
  const store = encodeNotifyStore(2 ** 40 + 3, 4096, 1000);
  assert.is(store.length, 40);
  assert.equal([store.readUInt32LE(0), store.readInt32LE(4), store.readBigUInt64LE(8)], [1040, 4, 0n]);
  assert.equal([store.readBigUInt64LE(16), store.readBigUInt64LE(24), store.readUInt32LE(32), store.readUInt32LE(36)], [2n ** 40n + 3n, 4096n, 1000, 0]);
});

test('the node table holds a node, and its extended attributes, until the kernel forgets every lookup of it; the root always', () => {
  const nodes = new NodeTable();
  const xattrs = [{ name: 'user.comment', value: Buffer.from('kept') }];
  nodes.lookedUp(7, '/a/b', xattrs);
  nodes.lookedUp(7, '/a/hardlink-of-b', xattrs);
  assert.is(nodes.pathOf(7), '/a/b', 'a hardlink keeps the first path');
  assert.is(nodes.xattrsOf(7), xattrs);
  assert.equal([nodes.nodeAt('/a/b'), nodes.nodeAt('/a/hardlink-of-b'), nodes.nodeAt('/a/c')], [7, undefined, undefined]);
  nodes.forget(7, 1);
  assert.is(nodes.pathOf(7), '/a/b');
  nodes.forget(7, 1);
  assert.is(nodes.pathOf(7), undefined);
  assert.is(nodes.xattrsOf(7), undefined);
  assert.is(nodes.nodeAt('/a/b'), undefined, 'forgotten by path too');
  assert.is(nodes.size, 0);
  nodes.lookedUp(ROOT_NODE, '/', xattrs);
  nodes.forget(ROOT_NODE, 5);
  assert.is(nodes.pathOf(ROOT_NODE), '/');
  assert.is(nodes.nodeAt('/'), ROOT_NODE);
  assert.is(nodes.xattrsOf(ROOT_NODE), undefined, "the root's come from the view");
  assert.equal([childPath('/', 'x'), childPath('/a', 'x')], ['/x', '/a/x']);
});

test.run();
