/**
 * Measures the content-defined chunker: boundary-finding speed on random data, chunk size
 * spread, and dedup after inserting 1 KiB at the front and in the middle of a file.
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
const known = new Set(chunks.map(digest));
for (const [label, position] of [['front', 0], ['middle', Math.floor(data.length / 2)]] as const) {
  const edited = Buffer.concat([data.subarray(0, position), randomBytes(1024), data.subarray(position)]);
  const fresh = boundaries.split(edited).filter((c) => !known.has(digest(c)));
  const freshBytes = fresh.reduce((sum, c) => sum + c.length, 0);
  console.log(`1 KiB inserted at the ${label}: ${fresh.length} new chunks, ${(freshBytes / 2 ** 20).toFixed(2)} MiB newly stored of ${mib} MiB`);
}
