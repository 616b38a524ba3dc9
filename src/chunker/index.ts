/**
 * chunker: how file content is cut into blocks. Fixed-size chunks for now; the Chunker
 * interface lets a content-defined chunker replace it without touching its callers.
 */
import type { FileHandle } from 'node:fs/promises';

export const DEFAULT_CHUNK_SIZE = 1024 * 1024;

export interface Chunker {
  /** The file's content from its current start, as consecutive non-empty chunks. */
  chunks(file: FileHandle): AsyncIterable<Buffer>;
}

export class FixedSizeChunker implements Chunker {
  constructor(readonly chunkSize: number = DEFAULT_CHUNK_SIZE) {
    if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) throw new RangeError(`chunk size must be positive, got ${chunkSize}`);
  }

  async *chunks(file: FileHandle): AsyncIterable<Buffer> {
    for (;;) {
      // A fresh buffer per chunk: it is handed on to encryption, never reused.
      const buffer = Buffer.allocUnsafe(this.chunkSize);
      let filled = 0;
      while (filled < this.chunkSize) {
        const { bytesRead } = await file.read(buffer, filled, this.chunkSize - filled, null);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      if (filled > 0) yield buffer.subarray(0, filled);
      if (filled < this.chunkSize) return;
    }
  }
}
