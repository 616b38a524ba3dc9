/**
 * What a disk read costs on this machine: 4 KiB reads at random offsets of a large file,
 * the page cache dropped first (as root), 1, 4, 16 and 64 at a time through libuv's pool
 * (as Preserve reads block files), then with the whole file in the page cache (what a read
 * costs without its disk request), through the pool and synchronously on one thread (what
 * the hand-off between threads costs). Prints reads per second, the disk requests they
 * made (/proc/diskstats) and the system time per read.
 * The benchmark counts each tool's disk requests (scripts/bench); this gives their price.
 *   node dist/scripts/bench-disk-reads.js FILE [READS, default 8000]
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';

const LANES = [1, 4, 16, 64];
const PAGE = 4096;

// libuv's pool (4 threads by default) would cap the reads in flight; its size is read once, at start.
if (process.env.UV_THREADPOOL_SIZE === undefined) {
  const run = spawnSync(process.execPath, process.argv.slice(1), { stdio: 'inherit', env: { ...process.env, UV_THREADPOOL_SIZE: String(Math.max(...LANES)) } });
  process.exit(run.status ?? 1);
}

const file = process.argv[2] ?? usage();
const reads = Number(process.argv[3] ?? 8000);
const { size, dev } = statSync(file);
const pages = Math.floor(size / PAGE);

function usage(): never {
  console.error('usage: node dist/scripts/bench-disk-reads.js FILE [READS]');
  process.exit(2);
}

/** Requests served so far by the disk holding the file; undefined when it is not in /proc/diskstats. */
function diskRequests(): number | undefined {
  const [major, minor] = [Math.floor(dev / 256) & 0xfff, (dev & 0xff) | ((dev >> 12) & 0xfff00)];
  for (const line of readFileSync('/proc/diskstats', 'utf8').split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (Number(fields[0]) === major && Number(fields[1]) === minor) return Number(fields[3]) + Number(fields[7]);
  }
  return undefined;
}

function dropCaches(): void {
  spawnSync('sync');
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3');
  } catch (error) {
    console.error(`bench-disk-reads: cannot drop the page cache (${(error as Error).message}); run as root for cold reads`);
  }
}

/** One way of making the reads: its label, and the reads themselves. */
interface Way {
  readonly label: string;
  readonly readAll: (handle: FileHandle) => Promise<void> | void;
}

const randomOffset = () => Math.floor(Math.random() * pages) * PAGE;

function throughPool(lanes: number): Way {
  return {
    label: `${String(lanes).padStart(2)} at a time through libuv's pool`,
    readAll: async (handle) => {
      let left = reads;
      const lane = async () => {
        const buffer = Buffer.allocUnsafe(PAGE);
        while (left-- > 0) await handle.read(buffer, 0, PAGE, randomOffset());
      };
      await Promise.all(Array.from({ length: lanes }, lane));
    },
  };
}

const synchronously: Way = {
  label: 'one at a time, synchronously on this thread',
  readAll: (handle) => {
    const buffer = Buffer.allocUnsafe(PAGE);
    for (let left = reads; left > 0; left--) readSync(handle.fd, buffer, 0, PAGE, randomOffset());
  },
};

async function measure(cache: 'cold' | 'warm', way: Way): Promise<string> {
  if (cache === 'cold') dropCaches();
  else spawnSync('cat', [file], { stdio: ['ignore', 'ignore', 'inherit'] });
  const handle = await open(file, 'r');
  const requestsBefore = diskRequests();
  const cpuBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  await way.readAll(handle);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const systemMicroseconds = process.cpuUsage(cpuBefore).system;
  const requestsAfter = diskRequests();
  await handle.close();
  const requests = requestsBefore === undefined || requestsAfter === undefined ? '-' : String(requestsAfter - requestsBefore);
  return `${cache}, ${way.label}: ${(reads / seconds).toFixed(0)} reads/s, ${requests} disk requests, ${(systemMicroseconds / reads).toFixed(1)} µs of system time per read`;
}

console.log(`${reads} reads of ${PAGE} bytes at random offsets of ${file} (${(size / 2 ** 20).toFixed(0)} MiB)`);
for (const lanes of LANES) console.log(await measure('cold', throughPool(lanes)));
console.log(await measure('warm', throughPool(4)));
console.log(await measure('warm', synchronously));
