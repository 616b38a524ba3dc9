/**
 * chunker: how file content is cut into blocks — content-defined boundaries (gear.ts)
 * over buffered reads, so the same bytes give the same chunks wherever they sit in a file.
 */
import type { FileHandle } from 'node:fs/promises';
import type { GearBoundaries } from './gear.js';

export { DEFAULT_CHUNK_SIZES, GearBoundaries, gearTable, type ChunkSizes } from './gear.js';

export interface Chunker {
  /**
   * The file's content from its current start, as consecutive non-empty chunks.
   * `expectedSize` (from stat) only sizes buffers; a file that grew or shrank meanwhile
   * is still read to its real end, and the chunks do not depend on it.
   */
  chunks(file: FileHandle, expectedSize: number): AsyncIterable<Buffer>;
}

const READ_SIZE = 8 * 1024 * 1024;

export class ContentDefinedChunker implements Chunker {
  constructor(private readonly boundaries: GearBoundaries) {}

  async *chunks(file: FileHandle, expectedSize: number): AsyncIterable<Buffer> {
    const max = this.boundaries.sizes.max;
    let expectedLeft = expectedSize;
    let carried: Buffer = Buffer.alloc(0);
    // A small file is read whole, plus one byte to see its end; a large one in big reads.
    const wantedNext = () => (expectedLeft > 0 ? Math.min(READ_SIZE, expectedLeft + 1) : READ_SIZE);
    let wanted = wantedNext();
    let reading = readAhead(file, wanted, expectedLeft);
    for (;;) {
      const fresh = await reading;
      const atEnd = fresh.length < wanted;
      expectedLeft -= fresh.length;
      // The next read runs while this one is cut and its chunks are sealed and stored.
      if (!atEnd) {
        wanted = wantedNext();
        reading = readAhead(file, wanted, expectedLeft);
      }
      const data = carried.length === 0 ? fresh : Buffer.concat([carried, fresh]);
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
    }
  }
}

/** readUpTo, started before it is awaited: a failure is the awaiter's, and never unhandled if the caller stops first. */
function readAhead(file: FileHandle, length: number, expectedLeft: number): Promise<Buffer> {
  const reading = readUpTo(file, length, expectedLeft);
  reading.catch(() => undefined);
  return reading;
}

/**
 * Reads up to `length` bytes into a fresh buffer (chunks are views into it); shorter only
 * at the end of the file. A short read that ends exactly where stat said the file ends is
 * taken as the end, which saves a read per small file; the caller's fstat after reading
 * catches a file that was still growing.
 */
async function readUpTo(file: FileHandle, length: number, expectedLeft: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await file.read(buffer, filled, length - filled, null);
    filled += bytesRead;
    if (bytesRead === 0 || filled === expectedLeft) break;
  }
  return buffer.subarray(0, filled);
}
