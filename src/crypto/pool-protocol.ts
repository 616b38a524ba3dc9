/** The tasks and results passed between the crypto pool and its worker threads. */
export type CryptoTask =
  | { readonly op: 'encrypt'; readonly data: Uint8Array }
  | { readonly op: 'decrypt'; readonly id: Uint8Array; readonly data: Uint8Array }
  | { readonly op: 'open-file'; readonly id: Uint8Array; readonly path: string };

/**
 * encrypt: the SIV (32 bytes) then the ciphertext, in one buffer so it moves without
 * copying; decrypt and open-file: the plaintext.
 */
export type CryptoResult = Uint8Array | { readonly failure: 'authentication' | 'missing' };
