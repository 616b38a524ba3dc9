/** A throwaway repository for CLI tests: a key, a backend folder and a source tree in one temp folder. */
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type CliResult, makeFixtureTree, makeTempDir, runPreserve } from './support.js';

export interface TestRepo {
  readonly dir: string;
  readonly keyfile: string;
  readonly backend: string;
  readonly source: string;
  /** Runs `preserve <command> --keyfile … --backend … <args>`; args that name a --backend replace the repo's. */
  run(command: string, ...args: string[]): Promise<CliResult>;
  remove(): Promise<void>;
}

export async function makeTestRepo(label: string): Promise<TestRepo> {
  const temp = await makeTempDir(label);
  const keyfile = join(temp.path, 'key');
  const backend = join(temp.path, 'backend');
  const source = join(temp.path, 'source');
  const keygen = await runPreserve(['keygen', '--keyfile', keyfile]);
  if (keygen.status !== 0) throw new Error(`keygen failed: ${keygen.stderr}`);
  await makeFixtureTree(source);
  return {
    dir: temp.path,
    keyfile,
    backend,
    source,
    // The cache lives in the temp folder too, so tests never touch the user's ~/.cache.
    run: (command, ...args) =>
      runPreserve([command, '--keyfile', keyfile, ...(args.includes('--backend') ? [] : ['--backend', backend]), ...args], { PRESERVE_CACHE_DIR: join(temp.path, 'cache') }),
    remove: temp.remove,
  };
}

/** Paths of every object file under a backend folder's prefix (blocks, trees, archives). */
export async function objectFiles(backend: string, prefix: string): Promise<string[]> {
  const entries = await readdir(join(backend, prefix), { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path, e.name)).sort();
}

/** Flips one byte in a file, as disk corruption or tampering would. */
export async function flipByte(path: string, offset = 0): Promise<void> {
  const bytes = await readFile(path);
  bytes[offset] = (bytes[offset] as number) ^ 0xff;
  await writeFile(path, bytes);
}
