#!/usr/bin/env python3
"""Known-answer vectors for SPEC §2, computed independently of Preserve's TypeScript code.

Uses Python's hashlib/hmac for PBKDF2-HMAC-SHA512 and HMAC-SHA512, and the `cryptography`
package (OpenSSL) for ChaCha20 with IV = 8 zero bytes || nonce. Run once; its JSON output
is pasted into test/crypto.test.ts.  Usage: python3 scripts/crypto-vectors.py
"""
import hashlib, hmac, json, struct
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

master = bytes(range(128))
stream = hashlib.pbkdf2_hmac('sha512', master, b'', 1, 256 * 6)
names = ['block', 'archiveName', 'archiveBlocklist', 'archiveMetadata', 'tree', 'chunker']
keysets = {n: (stream[i*256:i*256+128], stream[i*256+128:(i+1)*256]) for i, n in enumerate(names)}

def siv(keys, aad, pt):
    mac = hmac.new(keys[0], aad + pt + struct.pack('<Q', len(aad)) + struct.pack('<Q', len(pt)), hashlib.sha512)
    return mac.digest()[:32]

def cipher(keys, s, data):
    h = hmac.new(keys[1], s, hashlib.sha512).digest()
    enc = Cipher(algorithms.ChaCha20(h[:32], b'\0' * 8 + h[32:40]), mode=None).encryptor()
    return enc.update(data) + enc.finalize()

cases = [
    ('block', b'', b''),
    ('block', b'', b'hello, preserve'),
    ('block', b'', bytes(i % 251 for i in range(1000))),
    ('archiveName', b'', 'nightly-2026-11-21 ünïcødé'.encode()),
    ('archiveMetadata', bytes(range(32)), b'metadata bound to an archive id'),
    ('tree', b'aad', bytes(200)),
]
out = {
    'masterKeyHex': master.hex(),
    'keySets': {n: {'sivKey': k[0].hex(), 'cipherKey': k[1].hex()} for n, k in keysets.items()},
    'cases': [],
}
for name, aad, pt in cases:
    s = siv(keysets[name], aad, pt)
    out['cases'].append({'keySet': name, 'aad': aad.hex(), 'plaintext': pt.hex(), 'id': s.hex(), 'ciphertext': cipher(keysets[name], s, pt).hex()})
print(json.dumps(out, indent=1))
