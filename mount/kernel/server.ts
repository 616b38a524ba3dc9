/**
 * Answers the kernel's requests from the view: one handler per opcode, each decoding
 * what it needs from the request before the next read reuses its buffer, and answering
 * exactly once (requests the kernel expects no answer to: FORGET, BATCH_FORGET, INTERRUPT).
 */
import { LRUCache } from 'lru-cache';
import type { ExtendedAttribute } from '../../src/archive/index.js';
import { KERNEL_CACHE_SECONDS } from '../attributes.js';
import { FuseUnavailableError } from '../fuse.js';
import type { Readers } from '../readers.js';
import { type ErrnoName, FsError, type OnceReporter, errno, errnoFor } from '../reply.js';
import type { MountView, Node } from '../view.js';
import type { FuseDevice } from './device.js';
import { NodeTable, childPath } from './nodes.js';
import {
  CHANGING_OPCODES,
  type DirectoryItem,
  InitFlag,
  OLDEST_MINOR,
  Opcode,
  PROTOCOL_MAJOR,
  PROTOCOL_MINOR,
  type RequestHeader,
  bodyOf,
  decodeBatchForget,
  decodeForget,
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
  encodeOutHeader,
  encodeStatfs,
  encodeXattrNames,
  encodeXattrSize,
} from './protocol.js';

/** Reads of up to 1 MiB (256 pages of 4 KiB) instead of the kernel's default 128 KiB: an eighth of the requests. */
const MAX_PAGES = 256;
export const LARGEST_READ_KIB = MAX_PAGES * 4;
const WANTED_FLAGS =
  InitFlag.ASYNC_READ |
  InitFlag.DO_READDIRPLUS |
  InitFlag.NO_OPEN_SUPPORT |
  InitFlag.NO_OPENDIR_SUPPORT |
  InitFlag.PARALLEL_DIROPS |
  InitFlag.MAX_PAGES |
  InitFlag.CACHE_SYMLINKS;
/** What this file system cannot do without: open-less files and folders, readdirplus, large reads. */
const NEEDED_FLAGS = InitFlag.NO_OPEN_SUPPORT | InitFlag.NO_OPENDIR_SUPPORT | InitFlag.DO_READDIRPLUS | InitFlag.MAX_PAGES;
/** Folders being listed at once: READDIRPLUS comes in pieces of a few hundred entries. */
const LISTINGS_KEPT = 16;

type Listing = Awaited<ReturnType<MountView['list']>>;

export class KernelServer {
  private readonly nodes = new NodeTable();
  private readonly listings = new LRUCache<number, Listing>({ max: LISTINGS_KEPT });
  private readonly initialized: Promise<void>;
  private markInitialized!: (error?: unknown) => void;

  constructor(
    private readonly device: Pick<FuseDevice, 'reply'>,
    private readonly view: MountView,
    private readonly readers: Readers,
    private readonly reporter: OnceReporter,
  ) {
    this.initialized = new Promise((resolve, reject) => {
      this.markInitialized = (error) => (error === undefined ? resolve() : reject(error));
    });
  }

  /** The node of `path` while the kernel holds it: what a push of the file's pages names. */
  nodeAt(path: string): number | undefined {
    return this.nodes.nodeAt(path);
  }

  /** Resolves once the kernel's INIT is answered: the mount is usable. */
  untilInitialized(): Promise<void> {
    return this.initialized;
  }

  readonly handle = (request: Buffer): void => {
    const header = decodeHeader(request);
    const body = bodyOf(request, header);
    switch (header.opcode) {
      case Opcode.INIT:
        return this.init(header, body);
      case Opcode.LOOKUP:
        return this.lookup(header, decodeName(body).toString('utf8'));
      case Opcode.GETATTR:
        return this.serve(header, async (path) => [encodeAttr(this.view.stat(await this.view.resolve(path)), KERNEL_CACHE_SECONDS)]);
      case Opcode.READLINK:
        return this.serve(header, async (path) => [Buffer.from(await this.view.readlink(path), 'utf8')]);
      case Opcode.READ: {
        const { offset, size } = decodeRead(body);
        return this.serve(header, (path) => this.readers.read(path, size, offset));
      }
      case Opcode.READDIRPLUS: {
        const { offset, size } = decodeRead(body);
        return this.serve(header, async (path) => [await this.readdirplus(header.nodeid, path, offset, size)]);
      }
      case Opcode.STATFS:
        return this.answer(header, [encodeStatfs(this.view.statfs())]);
      case Opcode.GETXATTR: {
        const { size, name } = decodeXattrRequest(body);
        const wanted = name.toString('utf8');
        return this.answerXattrs(header, (xattrs) => {
          const found = xattrs.find((xattr) => xattr.name === wanted);
          return found ? sizedAnswer(found.value, size) : 'ENODATA';
        });
      }
      case Opcode.LISTXATTR: {
        const { size } = decodeXattrRequest(body);
        return this.answerXattrs(header, (xattrs) => sizedAnswer(encodeXattrNames(xattrs.map((xattr) => xattr.name)), size));
      }
      case Opcode.FORGET:
        return this.nodes.forget(header.nodeid, decodeForget(body));
      case Opcode.BATCH_FORGET:
        for (const [node, lookups] of decodeBatchForget(body)) this.nodes.forget(node, lookups);
        return;
      case Opcode.INTERRUPT:
        return; // every request is answered soon anyway
      case Opcode.RELEASE:
      case Opcode.RELEASEDIR:
      case Opcode.DESTROY:
        return this.answer(header, []);
      default:
        // OPEN and OPENDIR answered ENOSYS mean "no need to open" to the kernel; FLUSH,
        // FSYNC and ACCESS answered so are never asked again.
        return this.fail(header, CHANGING_OPCODES.has(header.opcode) ? 'EROFS' : 'ENOSYS');
    }
  };

  private init(header: RequestHeader, body: Buffer): void {
    const offer = decodeInit(body);
    if (offer.major !== PROTOCOL_MAJOR || offer.minor < OLDEST_MINOR || (offer.flags & NEEDED_FLAGS) !== NEEDED_FLAGS) {
      this.fail(header, 'EPROTO');
      this.markInitialized(
        new FuseUnavailableError(
          `FUSE is unavailable: the kernel speaks FUSE ${offer.major}.${offer.minor} without what the mount needs (7.${OLDEST_MINOR}, Linux 5.1, or later); PRESERVE_FUSE=libfuse mounts through libfuse instead`,
        ),
      );
      return;
    }
    this.answer(header, [
      encodeInit({ minor: Math.min(offer.minor, PROTOCOL_MINOR), maxReadahead: offer.maxReadahead, flags: offer.flags & WANTED_FLAGS, maxPages: MAX_PAGES }),
    ]);
    this.markInitialized();
  }

  /** A name found gives its node; a name not found is an entry the kernel may remember as absent. */
  private lookup(header: RequestHeader, name: string): void {
    this.serve(header, async (parent) => {
      const path = childPath(parent, name);
      try {
        const node = await this.view.resolve(path);
        const attributes = this.view.stat(node);
        this.nodes.lookedUp(attributes.ino, path, this.view.xattrsOf(node));
        return [encodeEntry(attributes, KERNEL_CACHE_SECONDS)];
      } catch (error) {
        if (error instanceof FsError && error.code === 'ENOENT') return [encodeEntry(undefined, KERNEL_CACHE_SECONDS)];
        throw error;
      }
    });
  }

  /** The entries from position `offset` on that fit in `size` bytes, each with its attributes. */
  private async readdirplus(folder: number, path: string, offset: number, size: number): Promise<Buffer> {
    if (offset === 0) this.listings.delete(folder);
    let listing = this.listings.get(folder);
    if (!listing) {
      listing = await this.view.list(path);
      this.listings.set(folder, listing);
    }
    const items: DirectoryItem[] = [];
    let bytes = 0;
    for (let index = offset; index < listing.names.length; index++) {
      const node = listing.nodes[index] as Node;
      const item = this.itemOf(listing.names[index] as string, node, index >= 2);
      bytes += direntPlusSize(item);
      if (bytes > size) break;
      items.push(item);
      if (item.counted) this.nodes.lookedUp(item.attr.ino, childPath(path, listing.names[index] as string), this.view.xattrsOf(node));
    }
    // Once the kernel has every entry (it holds their nodes, so files can be handed to it).
    if (items.length > 0 && offset + items.length === listing.names.length) void this.readers.listed(path);
    return encodeDirentPlus(items, offset, KERNEL_CACHE_SECONDS);
  }

  private itemOf(name: string, node: Node, counted: boolean): DirectoryItem {
    return { name: Buffer.from(name, 'utf8'), attr: this.view.stat(node), counted };
  }

  /**
   * Answers GETXATTR or LISTXATTR from the node's extended attributes: at once from the
   * node table (the root's through the view). When no archive shown has any, ENOSYS
   * tells the kernel never to ask again.
   */
  private answerXattrs(header: RequestHeader, answer: (xattrs: readonly ExtendedAttribute[]) => Buffer[] | ErrnoName): void {
    if (!this.view.hasXattrs) return this.fail(header, 'ENOSYS');
    const reply = (parts: Buffer[] | ErrnoName) => (typeof parts === 'string' ? this.fail(header, parts) : this.answer(header, parts));
    const known = this.nodes.xattrsOf(header.nodeid);
    if (known) return reply(answer(known));
    this.serve(header, async (path) => {
      const parts = answer(this.view.xattrsOf(await this.view.resolve(path)));
      if (typeof parts === 'string') throw new FsError(parts, `extended attributes of ${path}`);
      return parts;
    });
  }

  /** Runs `work` with the path of the request's node and answers with what it gives or its errno. */
  private serve(header: RequestHeader, work: (path: string) => Promise<Buffer[]>): void {
    const path = this.nodes.pathOf(header.nodeid);
    if (path === undefined) return this.fail(header, 'ENOENT');
    new Promise<Buffer[]>((resolve) => resolve(work(path))).then(
      (parts) => this.answer(header, parts),
      (error: unknown) => this.reply(header, errnoFor(error, path, this.reporter), []),
    );
  }

  private answer(header: RequestHeader, parts: Buffer[]): void {
    this.reply(header, 0, parts);
  }

  private fail(header: RequestHeader, code: ErrnoName): void {
    this.reply(header, errno(code), []);
  }

  private reply(header: RequestHeader, error: number, parts: Buffer[]): void {
    const length = parts.reduce((sum, part) => sum + part.length, 0);
    this.device.reply([encodeOutHeader(header.unique, error, length), ...parts]);
  }
}

/** What GETXATTR and LISTXATTR answer: the size alone when asked (size 0), the bytes when they fit the caller's buffer, ERANGE otherwise. */
function sizedAnswer(bytes: Buffer, size: number): Buffer[] | ErrnoName {
  if (size === 0) return [encodeXattrSize(bytes.length)];
  return bytes.length > size ? 'ERANGE' : [bytes];
}
