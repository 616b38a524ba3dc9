import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CryptoPool, KEY_SET_ORDER, type KeySetName, constantTimeEqual, decrypt, deriveKeys, encrypt } from '../src/crypto/index.js';
import { AuthenticationError } from '../src/errors/index.js';
import { seededBytes } from './support.js';

/**
 * Known answers computed by an implementation other than ours: Python hashlib/hmac and
 * the `cryptography` package's ChaCha20, by `python3 scripts/crypto-vectors.py`.
 */
interface Vectors {
  masterKeyHex: string;
  keySets: Record<KeySetName, { sivKey: string; cipherKey: string }>;
  cases: { keySet: KeySetName; aad: string; plaintext: string; id: string; ciphertext: string }[];
}
const vectors = JSON.parse(readFileSync(join(process.cwd(), 'test', 'crypto-vectors.json'), 'utf8')) as Vectors;
const keys = deriveKeys(Buffer.from(vectors.masterKeyHex, 'hex'));
const hex = (text: string) => Buffer.from(text, 'hex');

test('key sets match the independent PBKDF2-HMAC-SHA512 derivation, in SPEC order', () => {
  assert.equal(KEY_SET_ORDER.slice(0, 4), ['block', 'archiveName', 'archiveBlocklist', 'archiveMetadata']);
  for (const name of KEY_SET_ORDER) {
    assert.is(keys[name].sivKey.toString('hex'), vectors.keySets[name].sivKey, `${name} siv key`);
    assert.is(keys[name].cipherKey.toString('hex'), vectors.keySets[name].cipherKey, `${name} cipher key`);
  }
});

test('encrypt gives the known ids and ciphertexts', () => {
  for (const vector of vectors.cases) {
    const sealed = encrypt(keys[vector.keySet], hex(vector.aad), hex(vector.plaintext));
    assert.is(sealed.id.toString('hex'), vector.id, `${vector.keySet} id`);
    assert.is(sealed.ciphertext.toString('hex'), vector.ciphertext, `${vector.keySet} ciphertext`);
  }
});

test('decrypt recovers the known plaintexts', () => {
  for (const vector of vectors.cases) {
    const plaintext = decrypt(keys[vector.keySet], hex(vector.id), hex(vector.aad), hex(vector.ciphertext), 'vector');
    assert.is(plaintext.toString('hex'), vector.plaintext);
  }
});

test('round trip for many sizes, and identical chunks give identical ids', () => {
  for (const [seed, size] of [[1, 0], [2, 1], [3, 63], [4, 64], [5, 65], [6, 4096], [7, 1 << 20]] as const) {
    const plaintext = seededBytes(seed, size);
    const sealed = encrypt(keys.block, Buffer.alloc(0), plaintext);
    assert.ok(decrypt(keys.block, sealed.id, Buffer.alloc(0), sealed.ciphertext, 'round trip').equals(plaintext));
    assert.ok(encrypt(keys.block, Buffer.alloc(0), Buffer.from(plaintext)).id.equals(sealed.id));
  }
});

test('any flipped bit in id or ciphertext is rejected', () => {
  const plaintext = seededBytes(11, 97);
  const aad = Buffer.from('archive id');
  const sealed = encrypt(keys.archiveMetadata, aad, plaintext);
  for (const [label, original] of [['id', sealed.id], ['ciphertext', sealed.ciphertext]] as const) {
    for (let bit = 0; bit < original.length * 8; bit++) {
      const tampered = Buffer.from(original);
      tampered[bit >> 3] = (tampered[bit >> 3] as number) ^ (1 << (bit & 7));
      const id = label === 'id' ? tampered : sealed.id;
      const ciphertext = label === 'ciphertext' ? tampered : sealed.ciphertext;
      assert.throws(() => decrypt(keys.archiveMetadata, id, aad, ciphertext, 'tampered'), (e: unknown) => e instanceof AuthenticationError, `${label} bit ${bit}`);
    }
  }
});

test('the wrong aad, key set or a truncated ciphertext is rejected', () => {
  const sealed = encrypt(keys.archiveMetadata, Buffer.from('a'), Buffer.from('payload'));
  const rejects = (fn: () => unknown) => assert.throws(fn, (e: unknown) => e instanceof AuthenticationError);
  rejects(() => decrypt(keys.archiveMetadata, sealed.id, Buffer.from('b'), sealed.ciphertext, 'x'));
  rejects(() => decrypt(keys.block, sealed.id, Buffer.from('a'), sealed.ciphertext, 'x'));
  rejects(() => decrypt(keys.archiveMetadata, sealed.id, Buffer.from('a'), sealed.ciphertext.subarray(1), 'x'));
  rejects(() => decrypt(keys.archiveMetadata, sealed.id.subarray(1), Buffer.from('a'), sealed.ciphertext, 'x'));
});

test('constantTimeEqual compares content and length', () => {
  assert.ok(constantTimeEqual(Buffer.from('abc'), Buffer.from('abc')));
  assert.not.ok(constantTimeEqual(Buffer.from('abc'), Buffer.from('abd')));
  assert.not.ok(constantTimeEqual(Buffer.from('abc'), Buffer.from('ab')));
});

test('a master key of the wrong length is refused', () => {
  assert.throws(() => deriveKeys(Buffer.alloc(64)), /128 bytes/);
});

test('the crypto pool seals and opens like the inline construction, on workers for large objects', async () => {
  const pool = new CryptoPool(keys.block, 2);
  try {
    for (const plaintext of [Buffer.alloc(0), Buffer.from('small'), seededBytes(12, 1024 * 1024 + 3)]) {
      const sealed = await pool.seal(plaintext);
      const inline = encrypt(keys.block, Buffer.alloc(0), plaintext);
      assert.ok(sealed.id.equals(inline.id) && sealed.ciphertext.equals(inline.ciphertext), `${plaintext.length} bytes`);
      assert.ok((await pool.open(sealed.id, Buffer.from(sealed.ciphertext), 'block')).equals(plaintext));
    }
    // Small objects are handled inline, large ones on a worker: damage must show on both.
    for (const size of [100, 100_000]) {
      const sealed = encrypt(keys.block, Buffer.alloc(0), seededBytes(13, size));
      sealed.ciphertext[3] = (sealed.ciphertext[3] as number) ^ 1;
      try {
        await pool.open(sealed.id, sealed.ciphertext, 'block x');
        assert.unreachable('a damaged object was opened');
      } catch (error) {
        assert.instance(error, AuthenticationError);
        assert.match((error as Error).message, 'block x');
      }
    }
  } finally {
    await pool.close();
  }
});

test.run();
