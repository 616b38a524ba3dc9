import { createHmac } from 'node:crypto';
import { readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CryptoPool, KEY_SET_ORDER, inlineSealer, type KeySetName, applyCipher, constantTimeEqual, decrypt, deriveKeys, encrypt } from '../src/crypto/index.js';
import { FileBackend } from '../src/backend/index.js';
import { AuthenticationError, ObjectNotFoundError } from '../src/errors/index.js';
import { ContentStore } from '../src/store/content-store.js';
import { makeTempDir, seededBytes } from './support.js';

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

/**
 * The original ChaCha20 block function, written here from Bernstein's description so that
 * the layout Preserve relies on (64-bit block counter in words 12-13, 64-bit nonce in words
 * 14-15) is checked against something other than OpenSSL's 16-byte IV convention.
 */
function referenceChaCha20(key: Buffer, nonce: Buffer, length: number): Buffer {
  const rotate = (v: number, n: number) => ((v << n) | (v >>> (32 - n))) >>> 0;
  const constants = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574];
  const out = Buffer.alloc(Math.ceil(length / 64) * 64);
  for (let block = 0; block * 64 < length; block++) {
    const input = [...constants, ...Array.from({ length: 8 }, (_, i) => key.readUInt32LE(i * 4)), block >>> 0, Math.floor(block / 2 ** 32), nonce.readUInt32LE(0), nonce.readUInt32LE(4)];
    const x = [...input];
    const quarter = (a: number, b: number, c: number, d: number) => {
      const [xa, xb, xc, xd] = [x[a] as number, x[b] as number, x[c] as number, x[d] as number];
      let [na, nb, nc, nd] = [xa, xb, xc, xd];
      na = (na + nb) >>> 0; nd = rotate(nd ^ na, 16);
      nc = (nc + nd) >>> 0; nb = rotate(nb ^ nc, 12);
      na = (na + nb) >>> 0; nd = rotate(nd ^ na, 8);
      nc = (nc + nd) >>> 0; nb = rotate(nb ^ nc, 7);
      [x[a], x[b], x[c], x[d]] = [na, nb, nc, nd];
    };
    for (let round = 0; round < 10; round++) {
      quarter(0, 4, 8, 12); quarter(1, 5, 9, 13); quarter(2, 6, 10, 14); quarter(3, 7, 11, 15);
      quarter(0, 5, 10, 15); quarter(1, 6, 11, 12); quarter(2, 7, 8, 13); quarter(3, 4, 9, 14);
    }
    x.forEach((word, i) => out.writeUInt32LE((word + (input[i] as number)) >>> 0, block * 64 + i * 4));
  }
  return out.subarray(0, length);
}

test('the ChaCha20 Preserve uses is the original: checked against an independent implementation', () => {
  // The well-known keystream of the all-zero key and nonce anchors the reference.
  assert.is(
    referenceChaCha20(Buffer.alloc(32), Buffer.alloc(8), 64).toString('hex'),
    '76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586',
  );
  for (const seed of [1, 2, 3]) {
    const siv = seededBytes(seed, 32);
    const plaintext = seededBytes(seed + 10, 1000);
    const h = createHmac('sha512', keys.block.cipherKey).update(siv).digest();
    const keystream = referenceChaCha20(h.subarray(0, 32), h.subarray(32, 40), plaintext.length);
    const expected = Buffer.from(plaintext.map((byte, i) => byte ^ (keystream[i] as number)));
    assert.ok(applyCipher(keys.block, siv, plaintext).equals(expected), `seed ${seed}`);
  }
});

/**
 * The audit's rule (docs/CRYPTO.md): ids, SIVs and tags are compared only through
 * constantTimeEqual. Any other byte comparison in the code must be one of these, each
 * comparing something that is neither secret nor a tag.
 */
const NON_SECRET_COMPARISONS = [
  { file: 'src/archive/catalog.ts', code: '.equals(MAGIC)', why: 'the public magic bytes of an archive object' },
  { file: 'src/archive/entry.ts', code: 'Buffer.compare(', why: 'the order of names in a tree' },
  { file: 'src/archive/tree-format.ts', code: 'Buffer.compare(previousName, name)', why: 'the order of names in a tree, checked when decoding' },
  { file: 'src/archive/tree-format.ts', code: 'Buffer.compare(previous, rawName)', why: "the order of an entry's extended attributes, checked when decoding" },
  { file: 'src/xattrs/index.ts', code: 'Buffer.compare(Buffer.from(a', why: "the order of a source file's extended attributes" },
  { file: 'src/commands/diff.ts', code: 'xattr.value.equals(', why: "decrypted extended attribute values of two archives, both the key holder's" },
  { file: 'src/commands/restore-policy.ts', code: 'xattr.value.equals(value)', why: "an archived extended attribute's value against the restore target's, both the key holder's" },
  { file: 'src/pipeline/child-path.ts', code: 'Buffer.compare(walkKey(a), walkKey(b))', why: "the order of the source's folders in create's walk" },
  { file: 'src/commands/restore-target.ts', code: 'bytes.compare(ZEROS', why: 'whether restored plaintext is zeros, for a sparse file: the key holder is the one restoring it' },
  { file: 'src/keyfile/key-backup.ts', code: '.equals(MAGIC)', why: 'the public magic bytes of a key backup' },
  { file: 'src/backend/sftp/known-hosts.ts', code: 'line.key.equals(presented)', why: "a server's public host key" },
];

function sourceFiles(folder: string): string[] {
  return readdirSync(join(process.cwd(), folder), { recursive: true, encoding: 'utf8' })
    .filter((path) => path.endsWith('.ts'))
    .map((path) => join(folder, path));
}

test('every comparison of ids and tags goes through constantTimeEqual', () => {
  const found: string[] = [];
  const seen = new Set<(typeof NON_SECRET_COMPARISONS)[number]>();
  for (const file of [...sourceFiles('src'), ...sourceFiles('mount')]) {
    readFileSync(join(process.cwd(), file), 'utf8').split('\n').forEach((line, index) => {
      if (!/\.equals\(|Buffer\.compare\(|\bcompare\(/.test(line) || line.trim().startsWith('//') || line.trim().startsWith('*')) return;
      const allowed = NON_SECRET_COMPARISONS.find((each) => file === each.file && line.includes(each.code));
      if (allowed) seen.add(allowed);
      else found.push(`${file}:${index + 1}: ${line.trim()}`);
    });
  }
  assert.equal(found, [], 'comparisons outside constantTimeEqual');
  assert.is(seen.size, NON_SECRET_COMPARISONS.length, 'the scan sees each known non-secret comparison');
  assert.match(readFileSync(join(process.cwd(), 'src/crypto/siv.ts'), 'utf8'), /if \(!constantTimeEqual\(computeSiv\(keys, aad, plaintext\), id\)\)/);
});

test('a master key of the wrong length is refused', () => {
  assert.throws(() => deriveKeys(Buffer.alloc(64)), /128 bytes/);
});

test('the inline sealer skips the cipher only for an id said to be stored, and the id is the same', async () => {
  const sealer = inlineSealer(keys.block);
  const plaintext = seededBytes(14, 300_000);
  const reference = encrypt(keys.block, Buffer.alloc(0), plaintext);
  const asked: string[] = [];
  const stored = await sealer.seal(plaintext, (id) => (asked.push(id.toString('hex')), true));
  assert.ok(stored.id.equals(reference.id));
  assert.is(stored.ciphertext, undefined);
  assert.equal(asked, [reference.id.toString('hex')], 'asked about its own id, once');
  for (const answer of [() => false, undefined]) {
    const sealed = await sealer.seal(plaintext, answer);
    assert.ok(sealed.id.equals(reference.id) && sealed.ciphertext?.equals(reference.ciphertext));
  }
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

test("the crypto pool reads a folder backend's large blocks itself: the same plaintext, a missing file, a damaged one", async () => {
  const dir = await makeTempDir('pool-files');
  const store = new ContentStore(new FileBackend(dir.path), new CryptoPool(keys.block, 2), 'block');
  try {
    // Larger than the buffer a worker keeps for reading, then smaller ones read into it,
    // of whole pages and not (a worker reads whole pages where it can, with O_DIRECT).
    const contents = [seededBytes(21, 5 * 1024 * 1024 + 1), seededBytes(22, 1024 * 1024), seededBytes(23, 20_000), seededBytes(24, 100), seededBytes(25, 65_536)];
    const ids = [];
    for (const content of contents) ids.push(await store.put(content));
    await store.flush();
    for (const [index, content] of contents.entries()) {
      const id = ids[index] as (typeof ids)[number];
      assert.ok((await store.get(id, content.length)).equals(content), `${content.length} bytes`);
      assert.ok((await store.get(id)).equals(content), `${content.length} bytes, length not given`);
    }
    const [large, damaged] = ids as [(typeof ids)[number], (typeof ids)[number]];
    const damagedPath = join(dir.path, store.locate(damaged));
    const bytes = readFileSync(damagedPath);
    bytes[10] = (bytes[10] as number) ^ 1;
    writeFileSync(damagedPath, bytes);
    try {
      await store.get(damaged, 1024 * 1024);
      assert.unreachable('a damaged block was opened');
    } catch (error) {
      assert.instance(error, AuthenticationError);
      assert.match((error as Error).message, store.locate(damaged).split('/').pop() as string);
    }
    unlinkSync(join(dir.path, store.locate(large)));
    try {
      await store.get(large, 5 * 1024 * 1024 + 1);
      assert.unreachable('a missing block was found');
    } catch (error) {
      assert.instance(error, ObjectNotFoundError);
      assert.is((error as ObjectNotFoundError).key, store.locate(large));
    }
  } finally {
    await store.close();
    await dir.remove();
  }
});

test.run();
