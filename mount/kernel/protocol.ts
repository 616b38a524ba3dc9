/**
 * The FUSE kernel protocol (7.29 and later: Linux 5.1), as far as a read-only file system needs it:
 * request headers and bodies decoded from what /dev/fuse hands out, replies encoded in
 * the layouts of <linux/fuse.h>. Pure: no I/O here, so every layout is tested alone.
 */
import type { Attributes, FsStatistics } from '../attributes.js';

/** The requests answered by name; every other one gets EROFS or ENOSYS (server.ts). */
export const Opcode = {
  LOOKUP: 1,
  FORGET: 2,
  GETATTR: 3,
  READLINK: 5,
  READ: 15,
  STATFS: 17,
  RELEASE: 18,
  GETXATTR: 22,
  LISTXATTR: 23,
  INIT: 26,
  RELEASEDIR: 29,
  INTERRUPT: 36,
  DESTROY: 38,
  BATCH_FORGET: 42,
  READDIRPLUS: 44,
} as const;

/** Requests that would change the file system; a read-only mount answers them EROFS. */
export const CHANGING_OPCODES: ReadonlySet<number> = new Set([
  4 /* SETATTR */, 6 /* SYMLINK */, 8 /* MKNOD */, 9 /* MKDIR */, 10 /* UNLINK */, 11 /* RMDIR */, 12 /* RENAME */,
  13 /* LINK */, 16 /* WRITE */, 21 /* SETXATTR */, 24 /* REMOVEXATTR */, 35 /* CREATE */, 43 /* FALLOCATE */,
  45 /* RENAME2 */, 47 /* COPY_FILE_RANGE */, 51 /* TMPFILE */,
]);

/** INIT flags this file system asks for (each only if the kernel offers it). */
export const InitFlag = {
  ASYNC_READ: 1 << 0,
  DO_READDIRPLUS: 1 << 13,
  NO_OPEN_SUPPORT: 1 << 17,
  PARALLEL_DIROPS: 1 << 18,
  MAX_PAGES: 1 << 22,
  CACHE_SYMLINKS: 1 << 23,
  NO_OPENDIR_SUPPORT: 1 << 24,
} as const;

export const PROTOCOL_MAJOR = 7;
/** The newest layout this code writes; the kernel speaks the older of its own and this. */
export const PROTOCOL_MINOR = 31;
/** Before it the kernel lacks NO_OPENDIR_SUPPORT (7.29, Linux 5.1) and MAX_PAGES (7.28). */
export const OLDEST_MINOR = 29;

export const IN_HEADER_SIZE = 40;
export const OUT_HEADER_SIZE = 16;
const ATTR_SIZE = 88;
const ENTRY_OUT_SIZE = 40 + ATTR_SIZE;
const ATTR_OUT_SIZE = 16 + ATTR_SIZE;
const DIRENT_SIZE = 24;
const INIT_OUT_SIZE = 64;
const STATFS_OUT_SIZE = 80;
const XATTR_IN_SIZE = 8;
const XATTR_OUT_SIZE = 8;

export interface RequestHeader {
  readonly length: number;
  readonly opcode: number;
  readonly unique: bigint;
  readonly nodeid: number;
}

export function decodeHeader(buffer: Buffer): RequestHeader {
  return {
    length: buffer.readUInt32LE(0),
    opcode: buffer.readUInt32LE(4),
    unique: buffer.readBigUInt64LE(8),
    // Node ids are the mount's inode numbers (under 2^32), or ones the kernel echoes back.
    nodeid: Number(buffer.readBigUInt64LE(16)),
  };
}

/** The body after the header, `length` bytes of the request in all. */
export function bodyOf(buffer: Buffer, header: RequestHeader): Buffer {
  return buffer.subarray(IN_HEADER_SIZE, header.length);
}

/** A name in a request: bytes up to the terminating NUL. */
export function decodeName(body: Buffer): Buffer {
  const end = body.indexOf(0);
  return end < 0 ? body : body.subarray(0, end);
}

export interface InitRequest {
  readonly major: number;
  readonly minor: number;
  readonly maxReadahead: number;
  readonly flags: number;
}

export function decodeInit(body: Buffer): InitRequest {
  return { major: body.readUInt32LE(0), minor: body.readUInt32LE(4), maxReadahead: body.readUInt32LE(8), flags: body.readUInt32LE(12) };
}

export interface ReadRequest {
  readonly offset: number;
  readonly size: number;
}

/** READ and READDIR(PLUS) share the layout: fh, offset, size. */
export function decodeRead(body: Buffer): ReadRequest {
  return { offset: Number(body.readBigUInt64LE(8)), size: body.readUInt32LE(16) };
}

/**
 * GETXATTR and LISTXATTR (fuse_getxattr_in, then for GETXATTR the name): the size of the
 * caller's buffer, 0 when it asks only how large the answer is.
 */
export function decodeXattrRequest(body: Buffer): { readonly size: number; readonly name: Buffer } {
  return { size: body.readUInt32LE(0), name: decodeName(body.subarray(XATTR_IN_SIZE)) };
}

/** The answer to a GETXATTR or LISTXATTR asking only for the size (fuse_getxattr_out). */
export function encodeXattrSize(size: number): Buffer {
  const out = Buffer.alloc(XATTR_OUT_SIZE);
  out.writeUInt32LE(size, 0);
  return out;
}

/** LISTXATTR's answer: each name followed by NUL. */
export function encodeXattrNames(names: readonly string[]): Buffer {
  return Buffer.concat(names.map((name) => Buffer.from(`${name}\0`, 'utf8')));
}

/** FORGET: how many lookups of the request's node the kernel drops. */
export function decodeForget(body: Buffer): number {
  return Number(body.readBigUInt64LE(0));
}

/** BATCH_FORGET: (node id, lookups dropped) pairs. */
export function decodeBatchForget(body: Buffer): [number, number][] {
  const count = body.readUInt32LE(0);
  const pairs: [number, number][] = [];
  for (let index = 0; index < count; index++) {
    const at = 8 + index * 16;
    if (at + 16 > body.length) break;
    pairs.push([Number(body.readBigUInt64LE(at)), Number(body.readBigUInt64LE(at + 8))]);
  }
  return pairs;
}

const NS_PER_SECOND = 1_000_000_000n;
const TWO_TO_32 = 2 ** 32;

/**
 * A 64-bit field from a safe integer. Node's writeBigUInt64LE wants a BigInt and makes
 * more of them inside; a listing's answer writes a dozen such fields per entry, and
 * the BigInts were 6 % of what the main thread allocated during a `tar` of the mount.
 */
function writeU64(out: Buffer, value: number, at: number): void {
  out.writeUInt32LE(value % TWO_TO_32, at);
  out.writeUInt32LE(Math.floor(value / TWO_TO_32), at + 4);
}

/** A signed 64-bit field (two's complement) from a safe integer. */
function writeI64(out: Buffer, value: number, at: number): void {
  out.writeUInt32LE(((value % TWO_TO_32) + TWO_TO_32) % TWO_TO_32, at);
  out.writeInt32LE(Math.floor(value / TWO_TO_32), at + 4);
}

function writeAttr(out: Buffer, at: number, attr: Attributes): void {
  const seconds = attr.mtimeNs / NS_PER_SECOND;
  // Times before 1970 keep their sign in the seconds; the nanoseconds are always positive.
  const wholeSeconds = attr.mtimeNs < 0n && attr.mtimeNs % NS_PER_SECOND !== 0n ? seconds - 1n : seconds;
  const nanoseconds = Number(attr.mtimeNs - wholeSeconds * NS_PER_SECOND);
  // Archived times reach ±2^69 ns (docs/FORMAT.md): in seconds, well within a safe integer.
  const secondsNumber = Number(wholeSeconds);
  writeU64(out, attr.ino, at);
  writeU64(out, attr.size, at + 8);
  writeU64(out, Math.ceil(attr.size / 512), at + 16);
  for (const field of [24, 32, 40]) writeI64(out, secondsNumber, at + field);
  for (const field of [48, 52, 56]) out.writeUInt32LE(nanoseconds, at + field);
  out.writeUInt32LE(attr.mode, at + 60);
  out.writeUInt32LE(attr.nlink, at + 64);
  out.writeUInt32LE(attr.uid, at + 68);
  out.writeUInt32LE(attr.gid, at + 72);
  out.writeUInt32LE(0, at + 76); // rdev
  out.writeUInt32LE(attr.blksize, at + 80);
  out.writeUInt32LE(0, at + 84); // flags
}

/** struct fuse_entry_out: a node (0 and no attributes: the name is known not to exist) and how long to trust it. */
function writeEntry(out: Buffer, at: number, nodeid: number, attr: Attributes | undefined, validSeconds: number): void {
  writeU64(out, nodeid, at);
  writeU64(out, 0, at + 8); // generation: node ids are never reused for another entry
  writeU64(out, validSeconds, at + 16);
  writeU64(out, validSeconds, at + 24);
  out.writeUInt32LE(0, at + 32);
  out.writeUInt32LE(0, at + 36);
  if (attr) writeAttr(out, at + 40, attr);
  else out.fill(0, at + 40, at + ENTRY_OUT_SIZE);
}

export function encodeEntry(attr: Attributes | undefined, validSeconds: number): Buffer {
  const out = Buffer.alloc(ENTRY_OUT_SIZE);
  writeEntry(out, 0, attr?.ino ?? 0, attr, validSeconds);
  return out;
}

export function encodeAttr(attr: Attributes, validSeconds: number): Buffer {
  const out = Buffer.alloc(ATTR_OUT_SIZE);
  writeU64(out, validSeconds, 0);
  writeAttr(out, 16, attr);
  return out;
}

export interface InitReply {
  readonly minor: number;
  readonly maxReadahead: number;
  readonly flags: number;
  readonly maxPages: number;
}

export function encodeInit(reply: InitReply): Buffer {
  const out = Buffer.alloc(INIT_OUT_SIZE);
  out.writeUInt32LE(PROTOCOL_MAJOR, 0);
  out.writeUInt32LE(reply.minor, 4);
  out.writeUInt32LE(reply.maxReadahead, 8);
  out.writeUInt32LE(reply.flags, 12);
  out.writeUInt16LE(MAX_BACKGROUND, 16);
  out.writeUInt16LE(CONGESTION_THRESHOLD, 18);
  out.writeUInt32LE(MIN_MAX_WRITE, 20);
  out.writeUInt32LE(1, 24); // time granularity: nanoseconds
  out.writeUInt16LE(reply.maxPages, 28);
  return out;
}

/** Readahead requests the kernel may have in flight at once (libfuse's default is 12). */
const MAX_BACKGROUND = 16;
const CONGESTION_THRESHOLD = 12;
/** Nothing is ever written; the kernel's own minimum. */
const MIN_MAX_WRITE = 4096;

export function encodeStatfs(stats: FsStatistics): Buffer {
  const out = Buffer.alloc(STATFS_OUT_SIZE);
  out.writeBigUInt64LE(BigInt(stats.blocks), 0);
  out.writeBigUInt64LE(BigInt(stats.files), 24);
  out.writeUInt32LE(stats.blockSize, 40);
  out.writeUInt32LE(stats.nameMax, 44);
  out.writeUInt32LE(stats.blockSize, 48);
  return out;
}

/** fuse_notify_code FUSE_NOTIFY_STORE: sent in the out header's error field, with unique 0. */
const NOTIFY_STORE = 4;
const NOTIFY_STORE_OUT_SIZE = 24;

/**
 * What precedes `length` bytes that the kernel is to keep as a node's pages from `offset`
 * on, as if it had read them (struct fuse_notify_store_out after the out header).
 */
export function encodeNotifyStore(node: number, offset: number, length: number): Buffer {
  const out = encodeOutHeader(0n, NOTIFY_STORE, NOTIFY_STORE_OUT_SIZE + length);
  const body = Buffer.alloc(NOTIFY_STORE_OUT_SIZE);
  writeU64(body, node, 0);
  writeU64(body, offset, 8);
  body.writeUInt32LE(length, 16);
  return Buffer.concat([out, body]);
}

export function encodeOutHeader(unique: bigint, error: number, bodyLength: number): Buffer {
  const out = Buffer.alloc(OUT_HEADER_SIZE);
  out.writeUInt32LE(OUT_HEADER_SIZE + bodyLength, 0);
  out.writeInt32LE(error, 4);
  out.writeBigUInt64LE(unique, 8);
  return out;
}

/** One entry of a READDIRPLUS answer. */
export interface DirectoryItem {
  readonly name: Buffer;
  readonly attr: Attributes;
  /** false for '.' and '..', which the kernel does not count as lookups. */
  readonly counted: boolean;
}

function paddedDirentSize(nameLength: number): number {
  return (DIRENT_SIZE + nameLength + 7) & ~7;
}

/** Bytes one item takes in a READDIRPLUS answer. */
export function direntPlusSize(item: DirectoryItem): number {
  return ENTRY_OUT_SIZE + paddedDirentSize(item.name.length);
}

/**
 * struct fuse_direntplus records for `items`, the first of which is at position `first`
 * of the folder: each record's offset is the position to continue from.
 */
export function encodeDirentPlus(items: readonly DirectoryItem[], first: number, validSeconds: number): Buffer {
  const out = Buffer.alloc(items.reduce((sum, item) => sum + direntPlusSize(item), 0));
  let at = 0;
  items.forEach((item, index) => {
    writeEntry(out, at, item.counted ? item.attr.ino : 0, item.counted ? item.attr : undefined, validSeconds);
    const dirent = at + ENTRY_OUT_SIZE;
    writeU64(out, item.attr.ino, dirent);
    writeU64(out, first + index + 1, dirent + 8);
    out.writeUInt32LE(item.name.length, dirent + 16);
    out.writeUInt32LE((item.attr.mode >>> 12) & 0o17, dirent + 20); // DT_* is the S_IFMT nibble
    item.name.copy(out, dirent + DIRENT_SIZE);
    at = dirent + paddedDirentSize(item.name.length);
  });
  return out;
}
