/**
 * dump: one entry of an archive written to a stream, for a machine without FUSE or a pipe
 * into another tool, as `restic dump` and `borg export-tar` do: a file's content as it is;
 * a folder with all it holds, or a symlink, as a tar (POSIX pax, which GNU tar and bsdtar
 * read) named by paths in the archive. Blocks are fetched ahead of the one being written,
 * as restore does, and every one is authenticated before its bytes go out.
 */
import { isUtf8 } from 'node:buffer';
import { once } from 'node:events';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Pack } from 'tar-stream';
import { type BlockSource, type Entry, type ExtendedAttribute, type FileEntry, type Snapshot, readChunksAhead } from '../archive/index.js';
import { PartialFailureError, describeError, isErrnoException } from '../errors/index.js';
import { withRecentBlocks } from '../store/block-cache.js';
import { ACCESS_ACL, DEFAULT_ACL, aclText } from '../xattrs/acl.js';
import { archiveEntries } from './list-entries.js';
import type { ProblemReporter } from './reporting.js';

/** Blocks of a file fetched ahead of the one being written. */
const FETCH_AHEAD = 4;
/**
 * Tar entries whose first blocks are fetched before their turn, at most this many, holding
 * at most BYTES_AHEAD of blocks: a small file's block is fetched while the files before it
 * are written (one at a time, the main thread sat idle a quarter of a dump waiting for
 * each), and a run of large files cannot fill memory.
 */
const ENTRIES_AHEAD = 32;
const BYTES_AHEAD = 32 * 1024 * 1024;
/**
 * A tar's bytes are gathered up to this many before each write to the output: tar-stream
 * makes several small pieces per entry (pax record, header, content, padding), and writing
 * each was a system call of its own.
 */
const WRITE_BATCH_BYTES = 256 * 1024;
/** The largest id tar-stream writes in a ustar header (six octal digits); a larger one goes in the pax header too. */
const USTAR_MAX_ID = 0o777777;

export interface DumpSummary {
  /** Entries written (a file's content counts as one). */
  entries: number;
  bytes: number;
  /** Entries left out of a tar: names a tar cannot carry. */
  problems: number;
}

/** How `entry` is dumped: a file's own bytes, anything else a tar. */
export function dumpsAsTar(entry: Entry): boolean {
  return entry.type !== 'file';
}

/**
 * Writes the entry at `path` (found beforehand with entryAt) to output. A block that is
 * missing or fails authentication stops the dump with exit status 1: what was written is
 * incomplete, and a tar could not go on past an entry whose size its header promised. An
 * output closed early (`| head`) ends the dump without an error: its reader wanted no more.
 */
export async function dumpEntry(snapshot: Snapshot, source: BlockSource, path: string, entry: Entry, output: Writable, reporter: ProblemReporter): Promise<DumpSummary> {
  const summary: DumpSummary = { entries: 0, bytes: 0, problems: 0 };
  const blocks = withRecentBlocks(source);
  try {
    if (dumpsAsTar(entry)) await writeTar(snapshot, blocks, path, output, reporter, summary);
    else await writeContent(blocks, entry as FileEntry, output, summary);
  } catch (error) {
    if (isErrnoException(error) && error.code === 'EPIPE') return summary;
    throw new PartialFailureError(`dump of "${path}" stopped, its output is incomplete: ${describeError(error)}`);
  }
  return summary;
}

async function writeContent(blocks: BlockSource, entry: FileEntry, output: Writable, summary: DumpSummary): Promise<void> {
  await pipeline(Readable.from(readChunksAhead(blocks, entry.chunks, FETCH_AHEAD)), output, { end: false });
  summary.entries++;
  summary.bytes += entry.size;
}

async function writeTar(snapshot: Snapshot, blocks: BlockSource, path: string, output: Writable, reporter: ProblemReporter, summary: DumpSummary): Promise<void> {
  // Loaded here, not with the module: every command's start-up would pay for it (about 23 ms).
  const { pack } = await import('tar-stream');
  const tar = pack();
  const piping = pipeline(tar, coalescedWrites(), output, { end: false });
  // A closed output destroys the tar, after which an entry's write may never be called
  // back: every wait below also ends when the output fails.
  const unlessOutputFails = endingOnFailure(piping);
  const names = new TarNames(snapshot, reporter);
  try {
    for await (const { header, content } of tarItems(snapshot, blocks, path, names)) {
      const { sink, taken } = addEntry(tar, header);
      if (content) {
        for await (const bytes of content) {
          if (!sink.write(bytes)) await unlessOutputFails(once(sink, 'drain'));
          summary.bytes += bytes.length;
        }
        sink.end(null); // streamx's end takes the last data, none here
      }
      await unlessOutputFails(taken);
      summary.entries++;
    }
    tar.finalize();
    summary.problems = names.leftOut;
  } catch (error) {
    tar.destroy(error instanceof Error ? error : new Error(String(error)));
    // Rejects with the output's own failure (EPIPE) when that came first and the entry's
    // error is its echo; otherwise with the error just given to destroy.
    await piping;
    throw error;
  }
  await piping;
}

/**
 * A wait for `work` that also ends, rejected, when `piping` fails. Each wait races a
 * promise of its own, dropped when it ends: racing every wait against one promise that
 * never settles added a reaction to that promise per wait, kept to the end, and a dump of
 * 1,000,000 entries grew to 1 GB.
 */
function endingOnFailure(piping: Promise<void>): <T>(work: Promise<T>) => Promise<T> {
  const waits = new Set<(error: unknown) => void>();
  let failure: { error: unknown } | undefined;
  piping.catch((error: unknown) => {
    failure = { error };
    for (const fail of waits) fail(error);
  });
  return async (work) => {
    if (failure) throw failure.error;
    let fail: (error: unknown) => void = () => undefined;
    const failed = new Promise<never>((_, reject) => {
      fail = reject;
    });
    waits.add(fail);
    try {
      return await Promise.race([work, failed]);
    } finally {
      waits.delete(fail);
    }
  };
}

/** Passes bytes on in pieces of about WRITE_BATCH_BYTES; a piece that large already goes on as it is, uncopied. */
function coalescedWrites(): Transform {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const passPending = (stream: Transform): void => {
    if (pendingBytes === 0) return;
    stream.push(pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes));
    pending = [];
    pendingBytes = 0;
  };
  return new Transform({
    transform(piece: Buffer, _encoding, done) {
      if (piece.length >= WRITE_BATCH_BYTES) {
        passPending(this);
        this.push(piece);
      } else {
        pending.push(piece);
        pendingBytes += piece.length;
        if (pendingBytes >= WRITE_BATCH_BYTES) passPending(this);
      }
      done();
    },
    flush(done) {
      passPending(this);
      done();
    },
  });
}

interface TarItem {
  readonly header: TarHeader;
  /** A file's content, its first blocks already on the way. */
  readonly content?: AsyncGenerator<Buffer>;
  /** What those first blocks hold. */
  readonly bytesAhead: number;
}

/** The tar's entries in order, each file's fetch started up to ENTRIES_AHEAD entries (and BYTES_AHEAD) before its turn. */
async function* tarItems(snapshot: Snapshot, blocks: BlockSource, path: string, names: TarNames): AsyncGenerator<TarItem> {
  const waiting: TarItem[] = [];
  let bytesAhead = 0;
  for await (const run of archiveEntries(snapshot, [path])) {
    for (const { path: entryPath, entry } of run) {
      const header = names.headerFor(entryPath, entry);
      if (!header) continue;
      const item = header.type === 'file' ? fileItem(header, blocks, entry as FileEntry) : { header, bytesAhead: 0 };
      waiting.push(item);
      bytesAhead += item.bytesAhead;
      while (waiting.length > ENTRIES_AHEAD || bytesAhead > BYTES_AHEAD) {
        const next = waiting.shift() as TarItem;
        bytesAhead -= next.bytesAhead;
        yield next;
      }
    }
  }
  yield* waiting;
}

function fileItem(header: TarHeader, blocks: BlockSource, entry: FileEntry): TarItem {
  const first = entry.chunks.slice(0, FETCH_AHEAD);
  return { header, content: readChunksAhead(blocks, entry.chunks, FETCH_AHEAD), bytesAhead: first.reduce((sum, chunk) => sum + chunk.length, 0) };
}

/** Starts an entry of the tar; `taken` settles once tar-stream has all of it. */
function addEntry(tar: Pack, header: TarHeader): { sink: ReturnType<Pack['entry']>; taken: Promise<void> } {
  let settle: (error?: Error | null) => void = () => undefined;
  const taken = new Promise<void>((resolve, reject) => {
    settle = (error) => (error ? reject(error) : resolve());
  });
  taken.catch(() => undefined);
  const sink = tar.entry(header, settle);
  // A destroyed tar fails the entry's sink too; its error reaches `taken` through the callback.
  sink.on('error', () => undefined);
  return { sink, taken };
}

type TarHeader = Parameters<Pack['entry']>[0] & { type: 'file' | 'link' | 'symlink' | 'directory' };

/**
 * Tar headers for archive entries: owners with the archive's names, times to the
 * nanosecond (pax `mtime`), and a hardlink group's later members as links to the first
 * one written. A name that is not UTF-8 (src/filenames) cannot be written by tar-stream,
 * which takes names as text: that entry is reported and left out, with all it holds.
 */
class TarNames {
  private readonly firstOfLinkGroup = new Map<number, string>();
  /** The path of a folder left out, whose content follows it in the walk and is left out too. */
  private skippedFolder: string | undefined;
  /** Entries reported and left out (not counting what a folder left out held). */
  leftOut = 0;

  constructor(
    private readonly snapshot: Snapshot,
    private readonly reporter: ProblemReporter,
  ) {}

  /** The entry's header; undefined when it is left out. */
  headerFor(path: string, entry: Entry): TarHeader | undefined {
    if (this.skippedFolder !== undefined && path.startsWith(`${this.skippedFolder}/`)) return undefined;
    this.skippedFolder = undefined;
    if (!path.isWellFormed() || (entry.type === 'symlink' && !entry.target.isWellFormed())) {
      this.leftOut++;
      this.reporter.problem(path, new Error(`a name that is not UTF-8 cannot be written to the tar; left out${entry.type === 'directory' ? ' with all it holds' : ''}`));
      if (entry.type === 'directory') this.skippedFolder = path;
      return undefined;
    }
    const header: TarHeader = { ...this.attributes(path, entry), name: entry.type === 'directory' ? `${path}/` : path, type: entry.type };
    if (entry.type === 'symlink') header.linkname = entry.target;
    if (entry.type === 'file') {
      const first = entry.linkGroup === 0 ? undefined : this.firstOfLinkGroup.get(entry.linkGroup);
      if (first !== undefined) return { ...header, type: 'link', linkname: first };
      if (entry.linkGroup !== 0) this.firstOfLinkGroup.set(entry.linkGroup, path);
      header.size = entry.size;
    }
    return header;
  }

  private attributes(path: string, entry: Entry): Omit<TarHeader, 'name' | 'type'> {
    const { userNames, groupNames } = this.snapshot.metadata;
    const pax: Record<string, string> = { mtime: paxTime(entry.mtimeNs) };
    if (entry.uid > USTAR_MAX_ID) pax.uid = String(entry.uid);
    if (entry.gid > USTAR_MAX_ID) pax.gid = String(entry.gid);
    for (const xattr of entry.xattrs) this.addXattr(pax, path, xattr);
    return {
      mode: entry.mode,
      uid: Math.min(entry.uid, USTAR_MAX_ID),
      gid: Math.min(entry.gid, USTAR_MAX_ID),
      uname: userNames.get(entry.uid) ?? '',
      gname: groupNames.get(entry.gid) ?? '',
      mtime: new Date(Number(entry.mtimeNs / 1_000_000n)),
      pax,
    };
  }

  /**
   * An extended attribute as GNU tar writes it (and bsdtar reads): an ACL in text as
   * SCHILY.acl.access or .default, any other as SCHILY.xattr.NAME with its value as it is.
   * tar-stream takes pax values as text, so a value that is not UTF-8 (a file capability,
   * say) cannot be carried: it is left out, with a warning.
   */
  private addXattr(pax: Record<string, string>, path: string, { name, value }: ExtendedAttribute): void {
    const acl = name === ACCESS_ACL || name === DEFAULT_ACL ? aclText(value) : undefined;
    if (acl !== undefined) pax[name === ACCESS_ACL ? 'SCHILY.acl.access' : 'SCHILY.acl.default'] = acl;
    else if (isUtf8(value) && !name.includes('=')) pax[`SCHILY.xattr.${name}`] = value.toString('utf8');
    else this.reporter.warning(`${path}: its extended attribute ${name} is not text, which this tar cannot carry; left out`);
  }
}

/** Nanoseconds since the epoch as pax writes a time: decimal seconds, "-" before a time before 1970. */
function paxTime(ns: bigint): string {
  const magnitude = ns < 0n ? -ns : ns;
  const fraction = (magnitude % 1_000_000_000n).toString().padStart(9, '0');
  return `${ns < 0n ? '-' : ''}${magnitude / 1_000_000_000n}.${fraction}`;
}
