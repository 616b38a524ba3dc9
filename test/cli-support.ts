/** A throwaway repository for CLI tests: a key, a backend folder and a source tree in one temp folder. */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as assert from 'uvu/assert';
import { type Repository, openRepository } from '../src/repository/index.js';
import { type CliResult, PRESERVE_BIN, makeFixtureTree, makeTempDir, runPreserve } from './support.js';

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

/** A `preserve` command running in the background, for tests that signal or race it. */
export class RunningCommand {
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly child: ChildProcess) {
    child.stdout?.setEncoding('utf8').on('data', (text: string) => (this.stdout += text));
    child.stderr?.setEncoding('utf8').on('data', (text: string) => (this.stderr += text));
    this.exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  }

  /** Resolves once stdout or stderr matches; rejects if the command ends or takes too long first. */
  async waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<void> {
    const started = Date.now();
    while (!pattern.test(this.stdout) && !pattern.test(this.stderr)) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`ended before ${pattern}: ${this.stderr}`);
      if (Date.now() - started > timeoutMs) throw new Error(`no ${pattern} after ${timeoutMs} ms: ${this.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Signals the command unless it has ended, and waits for it to end. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/**
 * Starts `preserve <command> --keyfile … --backend … <args>` on repo in the background; its
 * stdout goes to `stdoutFd` when given (bytes, for output that is not text), else is collected.
 */
export function startPreserve(repo: TestRepo, command: string, args: readonly string[], env: Record<string, string> = {}, stdoutFd?: number): RunningCommand {
  const child = spawn(process.execPath, [PRESERVE_BIN, command, '--keyfile', repo.keyfile, '--backend', repo.backend, ...args], {
    stdio: ['ignore', stdoutFd ?? 'pipe', 'pipe'],
    env: { ...process.env, PRESERVE_CACHE_DIR: join(repo.dir, 'cache'), ...env },
  });
  return new RunningCommand(child);
}

/** Runs body with a fresh test repository, removed afterwards whatever happens. */
export async function withTestRepo(label: string, body: (repo: TestRepo) => Promise<void>): Promise<void> {
  const repo = await makeTestRepo(label);
  try {
    await body(repo);
  } finally {
    await repo.remove();
  }
}

export function assertOk(result: { status: number; stderr: string }, what: string): void {
  assert.is(result.status, 0, `${what} failed: ${result.stderr}`);
}

/** The repository of a test repo, opened in this process (for tests that read or write objects directly). */
export function openTestRepository(repo: TestRepo): Promise<Repository> {
  return openRepository({ keyfile: repo.keyfile, backends: [repo.backend], createIfMissing: true, onWarning: () => undefined });
}

/** The backend files that hold an entry of an archive: a file's blocks, or a folder's own tree. */
export async function objectFilesOf(repo: TestRepo, archive: string, path: string): Promise<string[]> {
  const repository = await openTestRepository(repo);
  const entry = await (await repository.snapshot(archive)).lookup(path);
  if (entry?.type === 'file') return entry.chunks.map((chunk) => join(repo.backend, repository.blocks.locate(chunk.id)));
  if (entry?.type === 'directory') return [join(repo.backend, repository.trees.locate(entry.tree))];
  throw new Error(`${archive}:${path} is neither a file nor a folder`);
}

/** Runs `preserve ARGS` as the user `uid` (only root can), with a home and cache of that user's; as the current user when uid is undefined. */
export function runAs(uid: number | undefined, args: string[]): Promise<{ status: number; stderr: string }> {
  if (uid === undefined) return runPreserve(args);
  const home = join(tmpdir(), `preserve-home-${uid}`);
  const env = { ...process.env, HOME: home, PRESERVE_CACHE_DIR: join(home, 'cache') };
  return promisify(execFile)(process.execPath, [PRESERVE_BIN, ...args], { uid, gid: uid, env }).then(
    (r) => ({ status: 0, stderr: r.stderr }),
    (e: { code: number; stderr: string }) => ({ status: e.code, stderr: e.stderr }),
  );
}
