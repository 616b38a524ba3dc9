/**
 * chunker: how file content is cut into blocks. Fixed-size chunks for now; the Chunker
 * interface lets a content-defined chunker replace it without touching its callers.
 */
import type { FileHandle } from 'node:fs/promises';

export const DEFAULT_CHUNK_SIZE = 1024 * 1024;

export interface Chunker {
  /**
   * The file's content from its current start, as consecutive non-empty chunks.
   * `expectedSize` (from stat) only sizes buffers; a file that grew or shrank meanwhile
   * is still read to its real end.
   */
  chunks(file: FileHandle, expectedSize: number): AsyncIterable<Buffer>;
}

export class FixedSizeChunker implements Chunker {
  constructor(readonly chunkSize: number = DEFAULT_CHUNK_SIZE) {
    if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) throw new RangeError(`chunk size must be positive, got ${chunkSize}`);
  }

  async *chunks(file: FileHandle, expectedSize: number): AsyncIterable<Buffer> {
    let expectedLeft = expectedSize;
    let atEnd = false;
    while (!atEnd) {
      // A fresh buffer per chunk, since it is handed on. Sized one byte past the expected
      // end, so a small file's end is found without a 1 MiB allocation.
      let buffer: Buffer = Buffer.allocUnsafe(Math.min(this.chunkSize, Math.max(expectedLeft, 0) + 1));
      let filled = 0;
      while (filled < this.chunkSize) {
        if (filled === buffer.length) buffer = grow(buffer, this.chunkSize); // longer than stat said
        const { bytesRead } = await file.read(buffer, filled, buffer.length - filled, null);
        if (bytesRead === 0) {
          atEnd = true;
          break;
        }
        filled += bytesRead;
      }
      expectedLeft -= filled;
      if (filled > 0) yield buffer.subarray(0, filled);
    }
  }
}

function grow(buffer: Buffer, size: number): Buffer {
  const bigger = Buffer.allocUnsafe(size);
  buffer.copy(bigger);
  return bigger;
}
