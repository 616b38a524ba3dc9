/**
 * Test support for real FUSE mounts: `preserve mount` runs in a child process (a process
 * must never make blocking calls on a mount it serves), the test drives it with
 * asynchronous calls, and teardown always unmounts, with `umount -l` as the last resort.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestRepo } from './cli-support.js';
import { PRESERVE_BIN } from './support.js';

export const exec = promisify(execFile);

/** Root with /dev/fuse can mount; CI always can and must, so there nothing is skipped. */
export const canMount = process.getuid?.() === 0 && existsSync('/dev/fuse');
export const mustRunMountTests = canMount || process.env.CI !== undefined;

const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export class RunningMount {
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;

  constructor(
    readonly mountpoint: string,
    private readonly child: ChildProcess,
  ) {
    child.stdout?.setEncoding('utf8').on('data', (text: string) => (this.stdout += text));
    child.stderr?.setEncoding('utf8').on('data', (text: string) => (this.stderr += text));
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Resolves when the child says it mounted; rejects if it exits or takes too long first. */
  async ready(): Promise<void> {
    const started = Date.now();
    while (!this.stdout.includes('mounted ')) {
      if (this.child.exitCode !== null) throw new Error(`mount exited with ${this.child.exitCode}: ${this.stderr}`);
      if (Date.now() - started > START_TIMEOUT_MS) throw new Error(`mount did not start: ${this.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Sends a signal and waits for the child to end (killing it if it does not). */
  async stop(signal: NodeJS.Signals = 'SIGINT'): Promise<Exit> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * How the mount talks to the kernel: as root, its own connection unless PRESERVE_FUSE
 * says libfuse (fuse-native, which users other than root always get).
 */
export type Transport = 'kernel' | 'libfuse';

/** `env`: more of the mount's environment. */
export function startMount(repo: TestRepo, mountpoint: string, args: readonly string[], transport: Transport = 'kernel', env: NodeJS.ProcessEnv = {}): RunningMount {
  const child = spawn(process.execPath, [PRESERVE_BIN, 'mount', '--keyfile', repo.keyfile, '--backend', repo.backend, ...args, mountpoint], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env, PRESERVE_FUSE: transport },
  });
  return new RunningMount(mountpoint, child);
}

export async function isMounted(mountpoint: string): Promise<boolean> {
  const table = await readFile('/proc/self/mountinfo', 'utf8');
  return table.split('\n').some((line) => line.split(' ')[4] === mountpoint);
}

/**
 * Mounts `args` (archive name and options) of repo on a fresh folder, runs body, and
 * always stops the mount and makes sure nothing stays mounted.
 */
export async function withMount(
  repo: TestRepo,
  args: readonly string[],
  body: (mountpoint: string, mount: RunningMount) => Promise<void>,
  transport: Transport = 'kernel',
  env: NodeJS.ProcessEnv = {},
): Promise<void> {
  const mountpoint = join(repo.dir, `mnt-${Math.random().toString(36).slice(2)}`);
  await mkdir(mountpoint);
  const mount = startMount(repo, mountpoint, args, transport, env);
  try {
    await mount.ready();
    await body(mountpoint, mount);
  } finally {
    await mount.stop();
    if (await isMounted(mountpoint)) await exec('umount', ['-l', mountpoint]);
  }
}
