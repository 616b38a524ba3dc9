/** Unit tests for the small pure pieces: chunker, exclude patterns, owner tables, snapshot reads. */
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type FileEntry, FileContent } from '../src/archive/index.js';
import { FixedSizeChunker } from '../src/chunker/index.js';
import { idMapper, namesFor, parseNameDatabase } from '../src/owners/index.js';
import { compileExcludes } from '../src/selection/index.js';
import { type BlockId, asId } from '../src/store/ids.js';
import { makeTempDir, seededBytes } from './support.js';

async function chunksOf(content: Buffer, chunkSize: number, expectedSize = content.length): Promise<Buffer[]> {
  const dir = await makeTempDir('chunker');
  try {
    await writeFile(join(dir.path, 'f'), content);
    const handle = await open(join(dir.path, 'f'), 'r');
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of new FixedSizeChunker(chunkSize).chunks(handle, expectedSize)) chunks.push(Buffer.from(chunk));
      return chunks;
    } finally {
      await handle.close();
    }
  } finally {
    await dir.remove();
  }
}

test('fixed chunker: full chunks then the remainder; nothing for an empty file', async () => {
  const content = seededBytes(5, 10_000);
  const chunks = await chunksOf(content, 4096);
  assert.equal(chunks.map((c) => c.length), [4096, 4096, 1808]);
  assert.ok(Buffer.concat(chunks).equals(content));
  assert.equal(await chunksOf(Buffer.alloc(0), 4096), []);
  assert.equal((await chunksOf(seededBytes(6, 8192), 4096)).map((c) => c.length), [4096, 4096]);
});

test('fixed chunker: boundaries do not depend on the size stat reported', async () => {
  const content = seededBytes(8, 10_000);
  for (const expected of [0, 100, 4095, 4096, 9999, 10_000, 50_000]) {
    const chunks = await chunksOf(content, 4096, expected);
    assert.equal(chunks.map((c) => c.length), [4096, 4096, 1808], `expected size ${expected}`);
    assert.ok(Buffer.concat(chunks).equals(content));
  }
});

test('excludes: names match at any depth, paths match from the root, ** spans folders', () => {
  const excluded = compileExcludes(['*.tmp', 'node_modules', 'build/**', '/cache', '.git/']);
  for (const path of ['a.tmp', 'x/y/b.tmp', 'node_modules', 'src/node_modules', 'build/out/x.o', 'cache', '.git', 'sub/.git']) {
    assert.ok(excluded(path), `${path} should be excluded`);
  }
  for (const path of ['a.tmpx', 'src/build/x', 'sub/cache', 'keep.txt', 'node_modules_not']) {
    assert.not.ok(excluded(path), `${path} should be kept`);
  }
  assert.not.ok(compileExcludes([])('anything'));
});

test('owners: passwd parsing, name tables and mapping by name with numeric fallback', () => {
  const local = parseNameDatabase('root:x:0:0::/root:/bin/sh\n# comment\nann:x:2001:2001::/home/ann:/bin/sh\nbroken line\n');
  assert.is(local.idByName.get('ann'), 2001);
  assert.equal([...namesFor([0, 2001, 4242], local)], [[0, 'root'], [2001, 'ann']]);
  const map = idMapper(new Map([[1000, 'ann'], [1001, 'bob']]), local);
  assert.is(map(1000), 2001, 'known name maps to the local id');
  assert.is(map(1001), 1001, 'unknown local name keeps the archive number');
  assert.is(map(5), 5, 'id without a name keeps its number');
});

test('file content: ranged reads across chunk boundaries by binary search', async () => {
  const content = seededBytes(9, 10_000);
  const lengths = [1000, 3000, 1, 5999];
  const blocks = new Map<string, Buffer>();
  let offset = 0;
  const chunks = lengths.map((length, index) => {
    const id = asId(Buffer.alloc(32, index + 1), 'block');
    blocks.set(id.toString('hex'), content.subarray(offset, offset + length));
    offset += length;
    return { id, length };
  });
  const fetched: number[] = [];
  const entry: FileEntry = { type: 'file', name: 'f', mode: 0o644, uid: 0, gid: 0, mtimeNs: 0n, size: 10_000, linkGroup: 0, chunks };
  const file = new FileContent(entry, {
    readBlock: async (id: BlockId) => {
      fetched.push(id[0] as number);
      return blocks.get(id.toString('hex')) as Buffer;
    },
  });
  for (const [start, length] of [[0, 10], [990, 20], [3999, 2], [4000, 6000], [9990, 100], [0, 10_000], [10_000, 5]] as const) {
    assert.ok((await file.read(start, length)).equals(content.subarray(start, Math.min(start + length, 10_000))), `read ${start}+${length}`);
  }
  fetched.length = 0;
  await file.read(1500, 10);
  assert.equal(fetched, [2], 'only the covering block is fetched');
});

test.run();
