/**
 * Measures the content-defined chunker: boundary-finding speed on random data, chunk size
 * spread, and what inserting 1 KiB at the front or in the middle of a file stores anew.
 *   node dist/scripts/bench-chunker.js [MiB, default 256]
 */
import { createHash, randomBytes } from 'node:crypto';
import { DEFAULT_CHUNK_SIZES, GearBoundaries, gearTable } from '../src/chunker/index.js';

const mib = Number(process.argv[2] ?? 256);
const boundaries = new GearBoundaries(gearTable(randomBytes(32)));

const digest = (chunk: Buffer) => createHash('sha256').update(chunk).digest('hex');
const data = randomBytes(mib * 1024 * 1024);
boundaries.split(data); // warm up the JIT
const started = process.hrtime.bigint();
const chunks = boundaries.split(data);
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const sizes = chunks.map((c) => c.length).sort((a, b) => a - b);
const at = (q: number) => ((sizes[Math.floor(q * (sizes.length - 1))] ?? 0) / 1024 / 1024).toFixed(2);
console.log(`sizes min/avg/max (MiB): ${DEFAULT_CHUNK_SIZES.min / 2 ** 20}/${DEFAULT_CHUNK_SIZES.average / 2 ** 20}/${DEFAULT_CHUNK_SIZES.max / 2 ** 20}`);
console.log(`speed: ${(mib / seconds).toFixed(0)} MiB/s over ${mib} MiB of random data, one core`);
console.log(`chunks: ${chunks.length}, mean ${(data.length / chunks.length / 2 ** 20).toFixed(2)} MiB; p10 ${at(0.1)}, median ${at(0.5)}, p90 ${at(0.9)} MiB`);
// What an insertion costs depends on where the repository's boundaries fall, so it is
// measured over many secrets (each a fresh repository) on a 16 MiB piece of the data.
const DRAWS = 200;
const PIECE = 16 * 1024 * 1024;
for (const [label, position] of [['front', 0], ['middle', PIECE / 2]] as const) {
  const stored: number[] = [];
  for (let draw = 0; draw < DRAWS; draw++) {
    const drawn = new GearBoundaries(gearTable(randomBytes(32)));
    const start = (draw * PIECE) % (data.length - PIECE + 1);
    const piece = data.subarray(start, start + PIECE);
    const known = new Set(drawn.split(piece).map(digest));
    const edited = Buffer.concat([piece.subarray(0, position), randomBytes(1024), piece.subarray(position)]);
    stored.push(drawn.split(edited).reduce((sum, c) => sum + (known.has(digest(c)) ? 0 : c.length), 0));
  }
  stored.sort((a, b) => a - b);
  const mean = stored.reduce((sum, n) => sum + n, 0) / DRAWS;
  const quantile = (q: number) => ((stored[Math.floor(q * (DRAWS - 1))] ?? 0) / 2 ** 20).toFixed(2);
  console.log(
    `1 KiB inserted at the ${label}, over ${DRAWS} secrets: newly stored mean ${(mean / 2 ** 20).toFixed(2)} MiB; p10 ${quantile(0.1)}, median ${quantile(0.5)}, p90 ${quantile(0.9)}`,
  );
}
