/**
 * Encoding of an archive's top object (docs/FORMAT.md §Archive metadata): where and when
 * it was made, the root folder, totals, the uid/gid → name tables and hardlink group
 * sizes. It is small whatever the size of the archive, so mounting reads only this.
 */
import { ID_LENGTH, asId } from '../store/ids.js';
import { ByteReader, ByteWriter } from './codec.js';
import { type DirectoryEntry, MAX_OWNER_ID, NO_XATTRS, directoryEntry } from './entry.js';
import { decodeXattrs, encodeXattrs } from './tree-format.js';

/**
 * Version 2 adds the count of entries with extended attributes and the root folder's at
 * the end; it is written only for an archive with some, so other archives read as they
 * always did.
 */
export const METADATA_FORMAT_VERSION = 1;
const XATTRS_VERSION = 2;
/** The most bytes of text a field holds (the name, the source, the host); create refuses a longer source. */
export const MAX_TEXT_BYTES = 65536;

export interface ArchiveTotals {
  readonly files: number;
  readonly directories: number;
  readonly symlinks: number;
  /** Sum of file sizes (hardlinked content counted once). */
  readonly bytes: number;
  /** Ciphertext bytes this archive added to the backend (what was not deduplicated). */
  readonly storedBytes: number;
  /** Entries reported and left out while creating. */
  readonly skipped: number;
  /** Entries with extended attributes, the backed-up folder included: with none, a mount need not be asked for them. */
  readonly xattrEntries: number;
}

export interface ArchiveMetadata {
  readonly name: string;
  readonly sourcePath: string;
  readonly hostname: string;
  readonly createdAtNs: bigint;
  /** The backed-up folder itself; its name is the empty string. */
  readonly root: DirectoryEntry;
  readonly totals: ArchiveTotals;
  readonly userNames: ReadonlyMap<number, string>;
  readonly groupNames: ReadonlyMap<number, string>;
  /** Hardlink group → number of entries in the archive that belong to it. */
  readonly linkGroupSizes: ReadonlyMap<number, number>;
}

/** The totals of version 1, in their order. */
const TOTAL_FIELDS = ['files', 'directories', 'symlinks', 'bytes', 'storedBytes', 'skipped'] as const;

export function encodeMetadata(metadata: ArchiveMetadata): Buffer {
  const withXattrs = metadata.totals.xattrEntries > 0 || metadata.root.xattrs.length > 0;
  const out = new ByteWriter().u8(withXattrs ? XATTRS_VERSION : METADATA_FORMAT_VERSION);
  out.string(metadata.name).string(metadata.sourcePath).string(metadata.hostname).bigSigned(metadata.createdAtNs);
  const root = metadata.root;
  out.varint(root.mode).varint(root.uid).varint(root.gid).bigSigned(root.mtimeNs).raw(root.tree);
  for (const field of TOTAL_FIELDS) out.varint(metadata.totals[field]);
  writeNameTable(out, metadata.userNames);
  writeNameTable(out, metadata.groupNames);
  out.varint(metadata.linkGroupSizes.size);
  for (const [group, size] of metadata.linkGroupSizes) out.varint(group).varint(size);
  if (withXattrs) encodeXattrs(out.varint(metadata.totals.xattrEntries), root.xattrs);
  return out.finish();
}

export function decodeMetadata(bytes: Buffer, what: string): ArchiveMetadata {
  const input = new ByteReader(bytes, what);
  const version = input.u8();
  if (version !== METADATA_FORMAT_VERSION && version !== XATTRS_VERSION) input.fail(`unsupported archive metadata version ${version}`);
  const name = input.string(MAX_TEXT_BYTES);
  const sourcePath = input.string(MAX_TEXT_BYTES);
  const hostname = input.string(MAX_TEXT_BYTES);
  const createdAtNs = input.bigSigned();
  const mode = input.varint();
  if (mode > 0o7777) input.fail('root mode has bits beyond 7777');
  const uid = input.varintUpTo(MAX_OWNER_ID, 'root uid');
  const gid = input.varintUpTo(MAX_OWNER_ID, 'root gid');
  const mtimeNs = input.bigSigned();
  const tree = asId(Buffer.from(input.raw(ID_LENGTH)), 'tree');
  const firstTotals = Object.fromEntries(TOTAL_FIELDS.map((field) => [field, input.varint()])) as Omit<ArchiveTotals, 'xattrEntries'>;
  const userNames = readNameTable(input);
  const groupNames = readNameTable(input);
  const linkGroupSizes = new Map<number, number>();
  const groups = input.varint();
  for (let i = 0; i < groups; i++) linkGroupSizes.set(input.varint(), input.varint());
  const xattrEntries = version === XATTRS_VERSION ? input.varint() : 0;
  const xattrs = version === XATTRS_VERSION ? decodeXattrs(input, '/') : NO_XATTRS;
  input.end();
  const totals: ArchiveTotals = { ...firstTotals, xattrEntries };
  const root: DirectoryEntry = directoryEntry({ name: '', mode, uid, gid, mtimeNs, xattrs }, tree);
  return { name, sourcePath, hostname, createdAtNs, root, totals, userNames, groupNames, linkGroupSizes };
}

function writeNameTable(out: ByteWriter, table: ReadonlyMap<number, string>): void {
  out.varint(table.size);
  for (const [id, name] of table) out.varint(id).string(name);
}

function readNameTable(input: ByteReader): Map<number, string> {
  const table = new Map<number, string>();
  const size = input.varint();
  for (let i = 0; i < size; i++) table.set(input.varintUpTo(MAX_OWNER_ID, 'owner id'), input.string(256));
  return table;
}
