/**
 * Backup and restore throughput to each kind of backend, on one dataset, printed as one
 * table: the file backend, SFTP to an OpenSSH server on loopback, S3 to the s3rver test
 * server on loopback (the same servers the tests use, from test/servers.ts).
 *
 *   scripts/bench-backends   # env: BENCH_DIR (default /tmp/preserve-bench-backends), BIG_MIB (default 256),
 *                            #      BENCH_BACKENDS (default "file sftp s3")
 *
 * Dataset (rebuilt only when missing): a copy of /usr/share/doc (thousands of small and
 * medium files) plus one BIG_MIB file of seeded pseudo-random bytes. Each backend gets a
 * new key and an empty location; caches are dropped before each run where the kernel allows.
 */
import { execFile } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { cp, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { promisify } from 'node:util';
import { type TestServer, startS3Server, startSshServer } from '../test/servers.js';
import { runPreserve, seededBytes } from '../test/support.js';

const exec = promisify(execFile);
const benchDir = process.env.BENCH_DIR ?? '/tmp/preserve-bench-backends';
const bigMiB = Number(process.env.BIG_MIB ?? 256);
const data = join(benchDir, 'data');
const chosen = new Set((process.env.BENCH_BACKENDS ?? 'file sftp s3').split(/\s+/));

async function makeDataset(): Promise<void> {
  if (existsSync(join(data, '.complete'))) return;
  await rm(data, { recursive: true, force: true });
  await mkdir(data, { recursive: true });
  await cp('/usr/share/doc', join(data, 'doc'), { recursive: true, verbatimSymlinks: true });
  const out = createWriteStream(join(data, 'big.bin'));
  for (let i = 0; i < bigMiB; i++) out.write(seededBytes(i + 1, 1024 * 1024));
  out.end();
  await finished(out);
  await writeFile(join(data, '.complete'), '');
}

async function datasetBytes(path: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(path, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

async function dropCaches(): Promise<void> {
  await exec('sh', ['-c', 'sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true']);
}

interface Row {
  readonly backend: string;
  readonly backupSeconds: number;
  readonly restoreSeconds: number;
}

async function measure(label: string, url: string, env: Record<string, string>): Promise<Row> {
  const keyfile = join(benchDir, `key-${label}`);
  await rm(keyfile, { force: true });
  const run = async (...args: string[]): Promise<number> => {
    await dropCaches();
    const started = performance.now();
    const result = await runPreserve([...args, '--keyfile', keyfile, '--backend', url], env);
    if (result.status !== 0) throw new Error(`${label}: preserve ${args[0]} failed: ${result.stderr}`);
    return (performance.now() - started) / 1000;
  };
  const keygen = await runPreserve(['keygen', '--keyfile', keyfile]);
  if (keygen.status !== 0) throw new Error(keygen.stderr);
  const target = join(benchDir, `restore-${label}`);
  await rm(target, { recursive: true, force: true });
  const backupSeconds = await run('create', 'bench', data);
  const restoreSeconds = await run('restore', 'bench', target);
  await rm(target, { recursive: true, force: true });
  process.stderr.write(`bench-backends: ${label}: backup ${backupSeconds.toFixed(1)} s, restore ${restoreSeconds.toFixed(1)} s\n`);
  return { backend: label, backupSeconds, restoreSeconds };
}

async function main(): Promise<void> {
  await mkdir(benchDir, { recursive: true });
  await makeDataset();
  const bytes = await datasetBytes(data);
  const files = (await readdir(data, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).length;
  const rows: Row[] = [];
  if (chosen.has('file')) {
    const fileBackend = join(benchDir, 'file-backend');
    await rm(fileBackend, { recursive: true, force: true });
    rows.push(await measure('file', fileBackend, {}));
    await rm(fileBackend, { recursive: true, force: true });
  }
  const servers = [
    ['sftp', 'sftp (OpenSSH, loopback)', startSshServer],
    ['s3', 's3 (s3rver, loopback)', startS3Server],
  ] as const;
  for (const [name, label, start] of servers) {
    if (!chosen.has(name)) continue;
    let server: TestServer | undefined;
    try {
      server = await start();
      rows.push(await measure(label, server.backendUrl('bench'), server.env));
    } finally {
      await server?.stop();
    }
  }
  const mib = bytes / 1024 / 1024;
  const lines = [
    `Backend throughput, ${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, dataset ${files} files / ${mib.toFixed(0)} MiB (a ${bigMiB} MiB random file and /usr/share/doc)`,
    '',
    '| backend | backup (s) | backup (MiB/s) | restore (s) | restore (MiB/s) |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.backend} | ${r.backupSeconds.toFixed(1)} | ${(mib / r.backupSeconds).toFixed(0)} | ${r.restoreSeconds.toFixed(1)} | ${(mib / r.restoreSeconds).toFixed(0)} |`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
