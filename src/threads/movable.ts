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

/** A part at least this large moves as it is when it may; smaller ones cost less to copy than to move one by one. */
const MOVE_AS_IS_BYTES = 64 * 1024;

/**
 * The parts, to post to another thread with `transferList`, copying as little as it may:
 * when the caller hands them over (`handedOver`), a large part that owns its memory moves
 * as it is, leaving the caller's buffer empty; the others are copied together into one
 * buffer that moves, and go as views of it.
 */
export function movableParts(parts: readonly Uint8Array[], handedOver: boolean): { parts: Uint8Array[]; transferList: ArrayBuffer[] } {
  const moving = new Set<ArrayBuffer>();
  const asIs = parts.map((part) => {
    const memory = part.buffer as ArrayBuffer;
    const moves = handedOver && part.byteLength >= MOVE_AS_IS_BYTES && ownsItsMemory(part) && !moving.has(memory);
    if (moves) moving.add(memory);
    return moves;
  });
  const packed = concatMovable(parts.filter((_, index) => !asIs[index]));
  let offset = 0;
  const posted = parts.map((part, index) => (asIs[index] ? part : packed.subarray(offset, (offset += part.length))));
  return { parts: posted, transferList: [packed.buffer as ArrayBuffer, ...moving] };
}
