/**
 * Encoding of one folder's metadata (a "tree", docs/FORMAT.md §Trees). Each tree is its
 * own encrypted, content-addressed object, so a folder is fetched only when visited and
 * an unchanged folder is stored once across archives.
 */
import { nameFromBytes } from '../filenames/index.js';
import { ID_LENGTH, asId } from '../store/ids.js';
import { ByteReader, ByteWriter } from './codec.js';
import {
  type ChunkRef,
  type Entry,
  type EntryAttributes,
  type ExtendedAttribute,
  MAX_OWNER_ID,
  NO_XATTRS,
  directoryEntry,
  fileEntry,
  symlinkEntry,
  unsafeNameReason,
} from './entry.js';

/**
 * Version 1 holds names and symlink targets that are UTF-8; version 2 any bytes; version 3
 * any bytes and each entry's extended attributes. A tree is written in a later version
 * only when it needs to be, so that every other tree, and its id, stays what it always
 * was, and a reader that knows only the earlier versions says so rather than calling the
 * tree damaged.
 */
const UTF8_TEXT_VERSION = 1;
const ANY_BYTES_VERSION = 2;
const XATTRS_VERSION = 3;
const TYPE_CODES = { file: 1, directory: 2, symlink: 3 } as const;
const MAX_NAME_BYTES = 4096;
const MAX_TARGET_BYTES = 65536;
const MAX_CHUNK_LENGTH = 64 * 1024 * 1024;
const MAX_MODE = 0o7777;
/** Linux's own limits: XATTR_NAME_MAX and XATTR_SIZE_MAX. */
const MAX_XATTR_NAME_BYTES = 255;
const MAX_XATTR_VALUE_BYTES = 65536;

export function encodeTree(entries: readonly Entry[]): Buffer {
  const version = entries.some((entry) => entry.xattrs.length > 0) ? XATTRS_VERSION : entries.every(isText) ? UTF8_TEXT_VERSION : ANY_BYTES_VERSION;
  const out = new ByteWriter().u8(version).varint(entries.length);
  for (const entry of entries) {
    out.name(entry.name).u8(TYPE_CODES[entry.type]).varint(entry.mode).varint(entry.uid).varint(entry.gid);
    out.bigSigned(entry.mtimeNs);
    if (version === XATTRS_VERSION) encodeXattrs(out, entry.xattrs);
    switch (entry.type) {
      case 'file':
        out.varint(entry.size).varint(entry.linkGroup).varint(entry.chunks.length);
        for (const chunk of entry.chunks) out.raw(chunk.id).varint(chunk.length);
        break;
      case 'directory':
        out.raw(entry.tree);
        break;
      case 'symlink':
        out.name(entry.target);
        break;
    }
  }
  return out.finish();
}

export function encodeXattrs(out: ByteWriter, xattrs: readonly ExtendedAttribute[]): void {
  out.varint(xattrs.length);
  for (const { name, value } of xattrs) out.string(name).bytes(value);
}

/** Whether the entry's name and target are text (UTF-8 on the source system). */
function isText(entry: Entry): boolean {
  return entry.name.isWellFormed() && (entry.type !== 'symlink' || entry.target.isWellFormed());
}

/** Decodes and validates a tree; `what` names it in errors. Throws FormatError. */
export function decodeTree(bytes: Buffer, what: string): Entry[] {
  const input = new ByteReader(bytes, what);
  const version = input.u8();
  if (version !== UTF8_TEXT_VERSION && version !== ANY_BYTES_VERSION && version !== XATTRS_VERSION) input.fail(`unsupported tree version ${version}`);
  const text = version === UTF8_TEXT_VERSION ? (raw: Buffer) => input.utf8(raw) : nameFromBytes;
  const count = input.varint();
  // Every entry takes well over one byte, so a count beyond the input is a lie.
  if (count > bytes.length) input.fail(`entry count ${count} exceeds the object size`);
  const entries: Entry[] = [];
  let previousName: Buffer | undefined;
  for (let i = 0; i < count; i++) {
    const name = input.bytes(MAX_NAME_BYTES);
    // In the order of the names' bytes, which is inTreeOrder's.
    if (previousName !== undefined && Buffer.compare(previousName, name) >= 0) {
      input.fail(`entry ${JSON.stringify(text(name))} is out of order or repeated`);
    }
    previousName = name;
    entries.push(decodeEntry(input, text(name), text, version === XATTRS_VERSION));
  }
  input.end();
  return entries;
}

function decodeEntry(input: ByteReader, name: string, text: (bytes: Buffer) => string, withXattrs: boolean): Entry {
  const unsafe = unsafeNameReason(name);
  if (unsafe) input.fail(`entry with ${unsafe}`);
  const typeCode = input.u8();
  const mode = input.varint();
  if (mode > MAX_MODE) input.fail(`mode ${mode.toString(8)} of ${JSON.stringify(name)} has bits beyond 7777`);
  const uid = input.varintUpTo(MAX_OWNER_ID, `uid of ${JSON.stringify(name)}`);
  const gid = input.varintUpTo(MAX_OWNER_ID, `gid of ${JSON.stringify(name)}`);
  const mtimeNs = input.bigSigned();
  const attributes: EntryAttributes = { name, mode, uid, gid, mtimeNs, xattrs: withXattrs ? decodeXattrs(input, name) : NO_XATTRS };
  switch (typeCode) {
    case TYPE_CODES.file:
      return decodeFile(input, attributes);
    case TYPE_CODES.directory:
      return directoryEntry(attributes, asId(Buffer.from(input.raw(ID_LENGTH)), 'tree'));
    case TYPE_CODES.symlink:
      return symlinkEntry(attributes, text(input.bytes(MAX_TARGET_BYTES)));
    default:
      return input.fail(`unknown entry type ${typeCode}`);
  }
}

function decodeFile(input: ByteReader, attributes: EntryAttributes): Entry {
  const size = input.varint();
  const linkGroup = input.varint();
  const chunkCount = input.varint();
  const chunks: ChunkRef[] = [];
  let total = 0;
  for (let i = 0; i < chunkCount; i++) {
    const id = asId(Buffer.from(input.raw(ID_LENGTH)), 'block');
    const length = input.varint();
    if (length === 0 || length > MAX_CHUNK_LENGTH) input.fail(`chunk length ${length} out of range`);
    total += length;
    chunks.push({ id, length });
  }
  if (total !== size) input.fail(`file ${JSON.stringify(attributes.name)} has size ${size} but chunks totalling ${total}`);
  return fileEntry(attributes, size, linkGroup, chunks);
}

/** Names not empty, without NUL, in strictly increasing order of their bytes (as readers of the source list them sorted). */
export function decodeXattrs(input: ByteReader, entryName: string): readonly ExtendedAttribute[] {
  const count = input.varint();
  if (count === 0) return NO_XATTRS;
  const xattrs: ExtendedAttribute[] = [];
  let previous: Buffer | undefined;
  for (let i = 0; i < count; i++) {
    const rawName = input.bytes(MAX_XATTR_NAME_BYTES);
    const name = input.utf8(rawName);
    if (name === '' || name.includes('\0')) input.fail(`extended attribute ${JSON.stringify(name)} of ${JSON.stringify(entryName)} has an invalid name`);
    if (previous !== undefined && Buffer.compare(previous, rawName) >= 0) input.fail(`extended attribute ${JSON.stringify(name)} of ${JSON.stringify(entryName)} is out of order or repeated`);
    previous = rawName;
    xattrs.push({ name, value: Buffer.from(input.bytes(MAX_XATTR_VALUE_BYTES)) });
  }
  return xattrs;
}
