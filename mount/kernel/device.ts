/**
 * A FUSE connection of our own: /dev/fuse opened here, the file system mounted by
 * handing that descriptor to mount(8), requests read as the event loop finds them and
 * answered with one synchronous write each. Root only: mount(2) with a FUSE descriptor
 * needs CAP_SYS_ADMIN (other users go through libfuse's setuid fusermount, which hands
 * the descriptor back over a Unix socket that node cannot receive from).
 */
import { execFile, spawn } from 'node:child_process';
import { close, open, writevSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { Socket, type SocketConstructorOpts } from 'node:net';
import { promisify } from 'node:util';
import { UsageError, describeError, isErrnoException } from '../../src/errors/index.js';
import { FuseUnavailableError } from '../fuse.js';
import { fuseDeviceAt, isMounted } from '../mountinfo.js';
import { PagePusher } from './page-pusher.js';
import { IN_HEADER_SIZE } from './protocol.js';

const run = promisify(execFile);
const openDevice = promisify(open);
const FUSE_DEVICE = '/dev/fuse';
/** The descriptor's number in mount(8): the one after its standard input, output and error. */
const CHILD_FD = 3;

export interface MountParameters {
  readonly mountpoint: string;
  readonly allowOther: boolean;
}

/** Called with each request, its bytes valid only until the handler returns. */
export type RequestHandler = (request: Buffer) => void;

export class FuseDevice {
  /** The device as a stream of requests, once serving. */
  private requests: Socket | undefined;
  /** Small files' pages handed to the kernel ahead of reads, once serving. */
  private pusher: PagePusher | undefined;
  /** Set once the connection is over: no more requests are handled, nothing more is pushed. */
  private ending = false;
  /** The kernel ended the connection: the file system was unmounted (from outside, or by our umount). */
  private unmounted = false;
  private failure: unknown;
  private readonly ended: Promise<void>;
  private markEnded!: () => void;
  /** The descriptor closed: after the connection ended, once the pusher's thread has stopped. */
  private readonly closed: Promise<void>;
  private markClosed!: () => void;

  private constructor(private readonly fd: number) {
    this.ended = new Promise((resolve) => {
      this.markEnded = resolve;
    });
    this.closed = new Promise((resolve) => {
      this.markClosed = resolve;
    });
  }

  static async open(): Promise<FuseDevice> {
    return new FuseDevice(await openDevice(FUSE_DEVICE, 'r+'));
  }

  /**
   * Starts taking requests, after mount(): before it, reads fail (EPERM). The kernel's
   * first request is INIT, which `handle` must answer before the mount is usable. Each
   * read of the device returns one request, and the stream hands each on as it came.
   */
  serve(handle: RequestHandler, onPushFailure: (error: Error) => void): void {
    const requests = (this.requests = pollingStream(this.fd, () => this.pusher?.stop() ?? Promise.resolve()));
    this.pusher = new PagePusher(this.fd, onPushFailure);
    requests.on('data', (request: Buffer) => {
      if (this.ending || request.length < IN_HEADER_SIZE) return;
      try {
        handle(request);
      } catch (failure) {
        this.end(failure); // a request the handler could not decode: the connection cannot go on
      }
    });
    // ENODEV: the file system was unmounted; ECONNABORTED: unmounted by force (ours). Anything else ends the connection too.
    requests.on('error', (error: NodeJS.ErrnoException) => {
      this.unmounted = error.code === 'ENODEV' || error.code === 'ECONNABORTED';
      this.end(this.unmounted ? undefined : error);
    });
    requests.on('close', () => this.markClosed());
  }

  /** Hands the kernel a file's whole content before anyone reads it (page-pusher.ts). */
  pushPages(node: number, content: Buffer): void {
    if (!this.ending) this.pusher?.push(node, content);
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
      this.unmounted = isErrnoException(error) && error.code === 'ENODEV';
      this.end(this.unmounted ? undefined : error);
    }
  }

  /** Before serve(), when mounting failed: the descriptor closes at once. */
  close(): Promise<void> {
    this.end();
    return this.closed;
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
   * Forced lazy unmount: the kernel aborts the connection and detaches the mount even
   * while files in it are open, as fuse-native's `fusermount -uz` and session teardown did.
   */
  async unmount(mountpoint: string): Promise<void> {
    // Also when the connection ended here (a request that could not be decoded, a failed
    // answer): the mount would stay behind, every access to it failing.
    if (!this.unmounted) {
      try {
        await run('umount', ['-f', '-l', mountpoint]);
      } catch (error) {
        // Unmounted from outside meanwhile: reading the device says ENODEV.
        if (await isMounted(mountpoint)) throw error;
      }
    }
    this.end();
    await this.closed;
  }

  /**
   * untilEnded() returns at once; the descriptor closes once the pusher's thread has
   * stopped, which may wait for the unmount: a push waiting for a page that a READ holds
   * returns only when the kernel ends the connection.
   */
  private end(error?: unknown): void {
    if (this.ending) return;
    this.failure = error;
    this.ending = true;
    this.markEnded();
    // The stream owns the descriptor once serving: destroying it closes the descriptor.
    if (this.requests) this.requests.destroy();
    else close(this.fd, () => this.markClosed());
  }
}

/**
 * The device's requests, read on this thread as epoll reports them. Node has no public way
 * to poll a character device: net.Socket takes only pipes and sockets by descriptor (libuv
 * calls a character device a file), and reading it as a file holds a thread of libuv's
 * pool per pending read, with a trip from that thread and back per request (a cold `tar`
 * of the benchmark's tree makes 44,000 requests). libuv's pipe handle polls any
 * descriptor that can be polled, /dev/fuse among them, so the descriptor is opened as one
 * through node's pipe_wrap binding (public as process.binding) and handed to a Socket.
 */
function pollingStream(fd: number, beforeClose: () => Promise<void>): Socket {
  let status: number | string;
  try {
    const { Pipe, constants } = (process as unknown as ProcessWithBindings).binding('pipe_wrap');
    const pipe = new Pipe(constants.SOCKET);
    status = pipe.open(fd);
    if (status === 0) return new DeviceStream(pipe, beforeClose);
  } catch (error) {
    status = describeError(error);
  }
  throw new FuseUnavailableError(`FUSE is unavailable: this node cannot poll ${FUSE_DEVICE} (${status}); PRESERVE_FUSE=libfuse mounts through libfuse instead`);
}

/**
 * A Socket on the device whose descriptor closes only once `beforeClose` has settled:
 * node destroys a stream, closing its descriptor, as soon as a read fails (the unmount),
 * and another thread may still be about to write to that descriptor.
 */
class DeviceStream extends Socket {
  constructor(
    handle: unknown,
    private readonly beforeClose: () => Promise<void>,
  ) {
    // `handle` is how node's own modules make a Socket of a handle; the typings leave it out.
    super({ handle, readable: true, writable: false } as SocketConstructorOpts);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.beforeClose().then(
      () => super._destroy(error, callback),
      (failure: unknown) => super._destroy(failure instanceof Error ? failure : error, callback),
    );
  }
}

/** What pollingStream uses of node's pipe_wrap binding (src/pipe_wrap.cc), which the typings leave out. */
interface ProcessWithBindings {
  binding(name: 'pipe_wrap'): {
    readonly Pipe: new (type: number) => { open(fd: number): number };
    readonly constants: { readonly SOCKET: number };
  };
}

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
