/**
 * Memory handed from one thread to another. Posting a buffer copies all of the memory it
 * is a view into (a 10-byte view of a 4 MiB read buffer sends 4 MiB); moving it instead
 * (a transfer list) copies nothing, but only memory that nobody else still uses may move.
 */

/**
 * Whether a buffer owns all of its memory and may be moved to another thread: a small
 * Buffer is a slice of a shared pool and a chunk is a view into a larger read buffer;
 * moving either would take memory that others still use.
 */
export function ownsItsMemory(bytes: Uint8Array): boolean {
  const memory = bytes.buffer;
  return memory instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === memory.byteLength;
}

/** The parts one after the other in memory of their own, never a slice of Node's shared pool, so that it may be moved. */
export function concatMovable(parts: readonly Uint8Array[]): Buffer {
  const out = Buffer.allocUnsafeSlow(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
