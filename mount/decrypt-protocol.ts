/** The messages between the decrypt pool and its worker threads. */

export interface DecryptRequest {
  readonly job: number;
  readonly id: Uint8Array;
  readonly ciphertext: Uint8Array;
}

export type DecryptReply =
  | { readonly job: number; readonly plaintext: Uint8Array }
  /** 'authentication' for a block that did not authenticate, else the error's text. */
  | { readonly job: number; readonly failure: string };

/**
 * Moving a buffer's memory to the other thread instead of copying it is only safe when
 * the buffer owns all of it: small Buffers are slices of a shared pool, which must stay.
 */
export function transferList(bytes: Uint8Array): ArrayBuffer[] {
  const memory = bytes.buffer;
  return memory instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === memory.byteLength ? [memory] : [];
}
