/**
 * chunker: how file content is cut into blocks — content-defined boundaries (gear.ts)
 * over buffered reads, so the same bytes give the same chunks wherever they sit in a file.
 */
import type { GearBoundaries } from './gear.js';

export { DEFAULT_CHUNK_SIZES, GearBoundaries, gearTable, type ChunkSizes } from './gear.js';

/**
 * Bytes read in order from where the last read ended, as an open file's FileHandle reads
 * them with a null position; 0 bytes read means the end. A stream (standard input, a
 * command's output) is read through src/pipeline/stream-input.ts.
 */
export interface ByteSource {
  read(buffer: Buffer, offset: number, length: number, position: null): Promise<{ bytesRead: number }>;
}

export interface Chunker {
  /**
   * The content from the source's current position, as consecutive non-empty chunks, each
   * valid until the next one is asked for (they are views of buffers that are read into
   * again). `expectedSize` (from stat; 0 when unknown) only sizes buffers; a file that grew
   * or shrank meanwhile is still read to its real end, and the chunks do not depend on it.
   */
  chunks(file: ByteSource, expectedSize: number): AsyncIterable<Buffer>;
}

const READ_SIZE = 8 * 1024 * 1024;

export class ContentDefinedChunker implements Chunker {
  constructor(private readonly boundaries: GearBoundaries) {}

  async *chunks(file: ByteSource, expectedSize: number): AsyncIterable<Buffer> {
    const max = this.boundaries.sizes.max;
    let expectedLeft = expectedSize;
    let carried: Buffer = Buffer.alloc(0);
    // A small file is read whole, plus one byte to see its end; a large one in big reads.
    const wantedNext = () => (expectedLeft > 0 ? Math.min(READ_SIZE, expectedLeft + 1) : READ_SIZE);
    let wanted = wantedNext();
    // The first read carries nothing over; every later one leaves `max` bytes free in front
    // of what it reads, for the tail the read before left uncut (always shorter than max).
    // Reads take turns between two buffers, one cut while the other is read into: a buffer
    // per read made a 512 MiB file allocate (and fault in) 768 MiB.
    let spare: Buffer | undefined;
    let reading = readAhead(file, undefined, 0, wanted, expectedLeft);
    for (;;) {
      const { buffer, start, end } = await reading;
      const atEnd = end - start < wanted;
      expectedLeft -= end - start;
      // Copying the tail in front of the new bytes, rather than concatenating both, copies
      // less than max bytes per read instead of all of them. It is copied before the next
      // read starts, as that read may go to the buffer the tail is in.
      const from = start - carried.length;
      carried.copy(buffer, from);
      // The next read runs while this one is cut and its chunks are sealed and stored.
      if (!atEnd) {
        wanted = wantedNext();
        reading = readAhead(file, spare, max, wanted, expectedLeft);
      }
      const data = buffer.subarray(from, end);
      let offset = 0;
      // Cut only with a whole max-size window in view, or the end of the file: then the
      // boundaries are the same whatever the read sizes were.
      while (offset < data.length && (atEnd || data.length - offset >= max)) {
        const length = this.boundaries.cut(data, offset, data.length);
        yield data.subarray(offset, offset + length);
        offset += length;
      }
      if (atEnd) return;
      carried = data.subarray(offset);
      spare = buffer;
    }
  }
}

interface Read {
  /** `start` bytes of room, then what was read, up to `end`. */
  readonly buffer: Buffer;
  readonly start: number;
  readonly end: number;
}

/** readUpTo, started before it is awaited: a failure is the awaiter's, and never unhandled if the caller stops first. */
function readAhead(file: ByteSource, into: Buffer | undefined, room: number, length: number, expectedLeft: number): Promise<Read> {
  const reading = readUpTo(file, into, room, length, expectedLeft);
  reading.catch(() => undefined);
  return reading;
}

/**
 * Reads up to `length` bytes after `room` bytes left free, into `into` when it is large
 * enough, otherwise into a fresh buffer; shorter only at the end of the file. A short read
 * that ends exactly where stat said the file ends is taken as the end, which saves a read
 * per small file; the caller's fstat after reading catches a file that was still growing.
 */
async function readUpTo(file: ByteSource, into: Buffer | undefined, room: number, length: number, expectedLeft: number): Promise<Read> {
  const buffer = into && into.length >= room + length ? into : Buffer.allocUnsafe(room + length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await file.read(buffer, room + filled, length - filled, null);
    filled += bytesRead;
    if (bytesRead === 0 || filled === expectedLeft) break;
  }
  return { buffer, start: room, end: room + filled };
}
