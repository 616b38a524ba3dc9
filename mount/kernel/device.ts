/**
 * A FUSE connection of our own: /dev/fuse opened here, the file system mounted by
 * handing that descriptor to mount(8), requests read through libuv's thread pool and
 * answered with one synchronous write each. Root only: mount(2) with a FUSE descriptor
 * needs CAP_SYS_ADMIN (other users go through libfuse's setuid fusermount, which hands
 * the descriptor back over a Unix socket that node cannot receive from).
 */
import { execFile, spawn } from 'node:child_process';
import { close, open, read, writevSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { UsageError, describeError, isErrnoException } from '../../src/errors/index.js';
import { fuseDeviceAt, isMounted } from '../mountinfo.js';
import { IN_HEADER_SIZE } from './protocol.js';

const run = promisify(execFile);
const openDevice = promisify(open);
const FUSE_DEVICE = '/dev/fuse';
/**
 * Requests read at once, at most. Each pending read holds one of libuv's threads until
 * the kernel has a request, and the rest of the mount (reading blocks and folders from
 * the backend) needs at least two of them left, or a request would wait for a block that
 * waits for a thread that waits for a request.
 */
const MOST_READS_IN_FLIGHT = 2;
const THREADS_LEFT_TO_THE_MOUNT = 2;
/** libuv's thread pool: 4 threads unless UV_THREADPOOL_SIZE says otherwise. */
const DEFAULT_POOL_SIZE = 4;
const LARGEST_POOL_SIZE = 1024;
/** The kernel refuses reads into buffers under 8 KiB; a read-only mount's requests are small. */
const REQUEST_BUFFER_SIZE = 64 * 1024;
/** The descriptor's number in mount(8): the one after its standard input, output and error. */
const CHILD_FD = 3;

export interface MountParameters {
  readonly mountpoint: string;
  readonly allowOther: boolean;
}

/** Called with each request, its bytes valid only until the handler returns. */
export type RequestHandler = (request: Buffer) => void;

export class FuseDevice {
  /** Reads handed to the thread pool and not yet returned. */
  private reading = 0;
  /** Set once the connection is over: no more reads are started, the descriptor closes after the last. */
  private ending = false;
  private closing = false;
  private failure: unknown;
  private readonly ended: Promise<void>;
  private markEnded!: () => void;

  private constructor(private readonly fd: number) {
    this.ended = new Promise((resolve) => {
      this.markEnded = resolve;
    });
  }

  /** Fails with a UsageError when libuv's pool is too small to leave the mount its threads. */
  static async open(): Promise<FuseDevice> {
    if (readsInFlight() < 1) {
      throw new UsageError(`mount needs UV_THREADPOOL_SIZE of at least ${1 + THREADS_LEFT_TO_THE_MOUNT}, not ${JSON.stringify(process.env.UV_THREADPOOL_SIZE)}`);
    }
    return new FuseDevice(await openDevice(FUSE_DEVICE, 'r+'));
  }

  /**
   * Starts taking requests, after mount(): before it, reads fail (EPERM). The kernel's
   * first request is INIT, which `handle` must answer before the mount is usable.
   */
  serve(handle: RequestHandler): void {
    for (let slot = 0; slot < readsInFlight(); slot++) this.readNext(Buffer.allocUnsafe(REQUEST_BUFFER_SIZE), handle);
  }

  private readNext(buffer: Buffer, handle: RequestHandler): void {
    if (this.ending) return this.closeWhenIdle();
    this.reading++;
    read(this.fd, buffer, 0, buffer.length, null, (error, length) => {
      this.reading--;
      if (error && !RETRIED_READ_ERRORS.has(error.code ?? '')) {
        // ENODEV: the file system was unmounted; anything else ends the connection too.
        this.end(error.code === 'ENODEV' ? undefined : error);
      } else if (!error && !this.ending && length >= IN_HEADER_SIZE) {
        try {
          handle(buffer.subarray(0, length));
        } catch (failure) {
          this.end(failure); // a request the handler could not decode: the connection cannot go on
        }
      }
      this.readNext(buffer, handle);
    });
  }

  /**
   * One answer, written whole. An answer to a request the kernel has given up on is
   * dropped; a failure to write ends the connection (and comes out of untilEnded).
   */
  reply(parts: readonly Buffer[]): void {
    if (this.ending) return;
    try {
      writevSync(this.fd, parts as Buffer[]);
    } catch (error) {
      if (isErrnoException(error) && error.code === 'ENOENT') return; // the request was interrupted meanwhile
      this.end(isErrnoException(error) && error.code === 'ENODEV' ? undefined : error);
    }
  }

  /** Before serve(), when mounting failed: nothing reads, so the descriptor closes at once. */
  close(): Promise<void> {
    this.end();
    return this.ended;
  }

  /** mount(8) without its helpers: the kernel takes the connection from mount's fd 3. */
  async mount(parameters: MountParameters): Promise<void> {
    const options = [
      'ro',
      'nosuid',
      'nodev',
      `fd=${CHILD_FD}`,
      'rootmode=40000',
      `user_id=${process.getuid?.() ?? 0}`,
      `group_id=${process.getgid?.() ?? 0}`,
      'default_permissions',
      ...(parameters.allowOther ? ['allow_other'] : []),
    ];
    const args = ['-i', '-t', 'fuse.preserve', '-o', options.join(','), 'preserve', parameters.mountpoint];
    try {
      await runWithDescriptor('mount', args, this.fd);
    } catch (error) {
      throw new UsageError(`cannot mount at ${parameters.mountpoint}: ${describeError(error)}`, { cause: error });
    }
  }

  /**
   * The kernel reads ahead of a reader by its backing device's setting, 128 KiB for a new
   * one, whatever INIT allowed, so a large file would still come in 128 KiB requests.
   */
  async setReadahead(mountpoint: string, kib: number): Promise<void> {
    const device = await fuseDeviceAt(mountpoint);
    if (device === undefined) throw new Error(`${mountpoint} is not in /proc/self/mountinfo`);
    await writeFile(`/sys/class/bdi/${device}/read_ahead_kb`, String(kib));
  }

  /** Resolves when the connection is over (unmounted here or outside); rejects if reading failed. */
  async untilEnded(): Promise<void> {
    await this.ended;
    if (this.failure !== undefined) throw this.failure;
  }

  /**
   * Forced lazy unmount: the kernel aborts the connection (so the reads waiting in the
   * thread pool return) and detaches the mount even while files in it are open, as
   * fuse-native's `fusermount -uz` and session teardown did.
   */
  async unmount(mountpoint: string): Promise<void> {
    if (!this.ending) {
      try {
        await run('umount', ['-f', '-l', mountpoint]);
      } catch (error) {
        // Unmounted from outside meanwhile: the reads are returning ENODEV.
        if (await isMounted(mountpoint)) throw error;
      }
    }
    this.end();
    await this.ended;
  }

  private end(error?: unknown): void {
    if (!this.ending) this.failure = error;
    this.ending = true;
    this.closeWhenIdle();
  }

  /** The descriptor closes after the last read returns, so that no read can reach a reused number. */
  private closeWhenIdle(): void {
    if (this.reading > 0 || this.closing) return;
    this.closing = true;
    close(this.fd, () => this.markEnded());
  }
}

/** How many requests to read at once with the thread pool this process has. */
export function readsInFlight(poolSize = threadPoolSize()): number {
  return Math.min(MOST_READS_IN_FLIGHT, poolSize - THREADS_LEFT_TO_THE_MOUNT);
}

/** As libuv reads UV_THREADPOOL_SIZE: atoi, where 0 (or no number) means 1 thread. */
export function threadPoolSize(setting = process.env.UV_THREADPOOL_SIZE): number {
  if (setting === undefined) return DEFAULT_POOL_SIZE;
  const threads = Number.parseInt(setting, 10) || 0;
  return threads === 0 ? 1 : threads < 0 ? LARGEST_POOL_SIZE : Math.min(threads, LARGEST_POOL_SIZE);
}

/** A read interrupted, or of a request withdrawn before it was read: read again. */
const RETRIED_READ_ERRORS: ReadonlySet<string> = new Set(['EINTR', 'EAGAIN', 'ENOENT']);

/** Runs a command with `fd` as its descriptor 3; fails with its standard error. */
function runWithDescriptor(command: string, args: readonly string[], fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe', fd] });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(stderr.trim() || `${command} exited with status ${code}`))));
  });
}
