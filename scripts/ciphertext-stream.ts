/**
 * Writes an endless stream of Preserve ciphertext of highly structured plaintext to stdout,
 * for statistical test suites (scripts/dieharder feeds it to dieharder). A fresh random
 * master key is used unless --key HEX (256 hex characters) is given.
 *
 *   node dist/scripts/ciphertext-stream.js MODE [--key HEX]
 *
 * MODE:
 *   zeros    1 MiB of zero bytes per object, aad = the object's number (u64le), metadata keys
 *   counter  1 MiB per object of consecutive u64le counters, continuing across objects, block keys
 *   small    16-byte objects u64le(i) ‖ 8 zero bytes, block keys: one fresh ChaCha20 key per 16 bytes
 *   ids      the 32-byte ids (SIVs) of the 8-byte plaintexts u64le(i), block keys: what a backend sees
 */
import { once } from 'node:events';
import { type KeySet, computeSiv, deriveKeys, encrypt, randomBytes } from '../src/crypto/index.js';

const OBJECT_BYTES = 1024 * 1024;
const BATCH_BYTES = 1024 * 1024;
const EMPTY = Buffer.alloc(0);

function u64le(value: number): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(BigInt(value));
  return out;
}

/** The bytes of object number i in each mode. */
const modes: Record<string, (keys: ReturnType<typeof deriveKeys>, i: number) => Buffer> = {
  zeros: (keys, i) => encrypt(keys.archiveMetadata, u64le(i), Buffer.alloc(OBJECT_BYTES)).ciphertext,
  counter: (keys, i) => encrypt(keys.block, EMPTY, counterPlaintext(i)).ciphertext,
  small: (keys, i) => encrypt(keys.block, EMPTY, Buffer.concat([u64le(i), Buffer.alloc(8)])).ciphertext,
  ids: (keys, i) => siv(keys.block, u64le(i)),
};

function siv(keys: KeySet, plaintext: Buffer): Buffer {
  return computeSiv(keys, EMPTY, plaintext);
}

function counterPlaintext(object: number): Buffer {
  const out = Buffer.alloc(OBJECT_BYTES);
  const first = object * (OBJECT_BYTES / 8);
  for (let j = 0; j < OBJECT_BYTES / 8; j++) out.writeBigUInt64LE(BigInt(first + j), j * 8);
  return out;
}

async function main(): Promise<void> {
  const [mode, flag, keyHex] = process.argv.slice(2);
  const make = mode === undefined ? undefined : modes[mode];
  if (!make || (flag !== undefined && (flag !== '--key' || !/^[0-9a-f]{256}$/.test(keyHex ?? '')))) {
    process.stderr.write(`usage: ciphertext-stream ${Object.keys(modes).join('|')} [--key HEX]\n`);
    process.exitCode = 2;
    return;
  }
  const keys = deriveKeys(keyHex ? Buffer.from(keyHex, 'hex') : Buffer.from(await randomBytes(128)));
  // The reader closing the pipe is how the stream ends.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => process.exit(error.code === 'EPIPE' ? 0 : 1));
  const pending: Buffer[] = [];
  let pendingBytes = 0;
  for (let i = 0; ; i++) {
    const bytes = make(keys, i);
    pending.push(bytes);
    pendingBytes += bytes.length;
    if (pendingBytes < BATCH_BYTES) continue;
    if (!process.stdout.write(Buffer.concat(pending))) await once(process.stdout, 'drain');
    pending.length = 0;
    pendingBytes = 0;
  }
}

await main();
