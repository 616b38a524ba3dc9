/** The tasks and results passed between the crypto pool and its worker threads. */
export type CryptoTask =
  | { readonly op: 'encrypt'; readonly data: Uint8Array }
  | { readonly op: 'decrypt'; readonly id: Uint8Array; readonly data: Uint8Array };

/** encrypt: the SIV (32 bytes) then the ciphertext, in one buffer so it moves without copying; decrypt: the plaintext. */
export type CryptoResult = Uint8Array | { readonly failure: 'authentication' };

/**
 * Whether a buffer owns all of its memory and may be moved to another thread: a small
 * Buffer is a slice of a shared pool and a chunk is a view into a larger read buffer;
 * moving either would take memory that others still use.
 */
export function ownsItsMemory(bytes: Uint8Array): boolean {
  const memory = bytes.buffer;
  return memory instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === memory.byteLength;
}
