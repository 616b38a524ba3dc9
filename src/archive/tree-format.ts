/**
 * Encoding of one folder's metadata (a "tree", docs/FORMAT.md §Trees). Each tree is its
 * own encrypted, content-addressed object, so a folder is fetched only when visited and
 * an unchanged folder is stored once across archives.
 */
import { ID_LENGTH, asId } from '../store/ids.js';
import { ByteReader, ByteWriter } from './codec.js';
import { type ChunkRef, type Entry, type EntryAttributes, MAX_OWNER_ID, compareNames, directoryEntry, fileEntry, symlinkEntry, unsafeNameReason } from './entry.js';

export const TREE_FORMAT_VERSION = 1;
const TYPE_CODES = { file: 1, directory: 2, symlink: 3 } as const;
const MAX_NAME_BYTES = 4096;
const MAX_TARGET_BYTES = 65536;
const MAX_CHUNK_LENGTH = 64 * 1024 * 1024;
const MAX_MODE = 0o7777;

export function encodeTree(entries: readonly Entry[]): Buffer {
  const out = new ByteWriter().u8(TREE_FORMAT_VERSION).varint(entries.length);
  for (const entry of entries) {
    out.string(entry.name).u8(TYPE_CODES[entry.type]).varint(entry.mode).varint(entry.uid).varint(entry.gid);
    out.bigSigned(entry.mtimeNs);
    switch (entry.type) {
      case 'file':
        out.varint(entry.size).varint(entry.linkGroup).varint(entry.chunks.length);
        for (const chunk of entry.chunks) out.raw(chunk.id).varint(chunk.length);
        break;
      case 'directory':
        out.raw(entry.tree);
        break;
      case 'symlink':
        out.string(entry.target);
        break;
    }
  }
  return out.finish();
}

/** Decodes and validates a tree; `what` names it in errors. Throws FormatError. */
export function decodeTree(bytes: Buffer, what: string): Entry[] {
  const input = new ByteReader(bytes, what);
  const version = input.u8();
  if (version !== TREE_FORMAT_VERSION) input.fail(`unsupported tree version ${version}`);
  const count = input.varint();
  // Every entry takes well over one byte, so a count beyond the input is a lie.
  if (count > bytes.length) input.fail(`entry count ${count} exceeds the object size`);
  const entries: Entry[] = [];
  let previousName: string | undefined;
  for (let i = 0; i < count; i++) {
    const entry = decodeEntry(input);
    if (previousName !== undefined && compareNames(previousName, entry.name) >= 0) {
      input.fail(`entry ${JSON.stringify(entry.name)} is out of order or repeated`);
    }
    previousName = entry.name;
    entries.push(entry);
  }
  input.end();
  return entries;
}

function decodeEntry(input: ByteReader): Entry {
  const name = input.string(MAX_NAME_BYTES);
  const unsafe = unsafeNameReason(name);
  if (unsafe) input.fail(`entry with ${unsafe}`);
  const typeCode = input.u8();
  const mode = input.varint();
  if (mode > MAX_MODE) input.fail(`mode ${mode.toString(8)} of ${JSON.stringify(name)} has bits beyond 7777`);
  const uid = input.varintUpTo(MAX_OWNER_ID, `uid of ${JSON.stringify(name)}`);
  const gid = input.varintUpTo(MAX_OWNER_ID, `gid of ${JSON.stringify(name)}`);
  const attributes: EntryAttributes = { name, mode, uid, gid, mtimeNs: input.bigSigned() };
  switch (typeCode) {
    case TYPE_CODES.file:
      return decodeFile(input, attributes);
    case TYPE_CODES.directory:
      return directoryEntry(attributes, asId(Buffer.from(input.raw(ID_LENGTH)), 'tree'));
    case TYPE_CODES.symlink:
      return symlinkEntry(attributes, input.string(MAX_TARGET_BYTES));
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
