/**
 * The one wrapper around every FUSE handler. fuse-native hangs the kernel call until its
 * timeout when a handler throws or never calls back, and an unhandled rejection would
 * take the whole mount down; so each handler's work is a promise whose outcome becomes
 * exactly one callback: the result, the errno of an expected FsError, or EIO for
 * anything else, which is reported once.
 */
import { constants } from 'node:os';
import { describeError } from '../src/errors/index.js';

export type ErrnoName = 'ENOENT' | 'ENOTDIR' | 'EISDIR' | 'EINVAL' | 'EROFS' | 'EIO' | 'ENOSYS' | 'EPROTO' | 'ENODATA' | 'ERANGE';

/** Both transports answer with negative errno values. */
export function errno(name: ErrnoName): number {
  return -constants.errno[name];
}

/** An expected answer to the kernel ("no such file", "read-only"), never reported. */
export class FsError extends Error {
  constructor(
    readonly code: ErrnoName,
    message: string,
  ) {
    super(message);
    this.name = 'FsError';
  }
}

/** Where unexpected failures go, with the path inside the mount they concern. */
export type ProblemSink = (path: string, error: unknown) => void;

/** Reports each distinct failure once: the kernel retries failed reads page by page. */
export class OnceReporter {
  private readonly seen = new Set<string>();

  constructor(private readonly sink: ProblemSink) {}

  report(path: string, error: unknown): void {
    const key = `${path}\0${describeError(error)}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.sink(path, error);
  }

  get count(): number {
    return this.seen.size;
  }
}

/**
 * Runs `work` and answers the kernel once with `[code, ...values]` or an errno. The answer
 * goes out from the promise's continuation, never from inside the handler: while a read
 * waits for its blocks the event loop takes in other requests, so several are in flight.
 * (Deferring answers one more loop turn with setImmediate measured no faster on large
 * reads here, and 35–45% slower on `tar` of small files, which waits on every answer.)
 */
export function serve<Values extends unknown[]>(
  reporter: OnceReporter,
  path: string,
  /** fuse-native takes an errno alone on every callback and fills in the other values. */
  callback: (code: number, ...values: Values | []) => void,
  work: () => Promise<[number, ...Values]>,
): void {
  new Promise<[number, ...Values]>((resolve) => resolve(work())).then(
    (result) => callback(...result),
    (error: unknown) => callback(errnoFor(error, path, reporter)),
  );
}

/** The errno for a failed request: an FsError's own, else EIO, reported once with the path. */
export function errnoFor(error: unknown, path: string, reporter: OnceReporter): number {
  if (error instanceof FsError) return errno(error.code);
  reporter.report(path, error);
  return errno('EIO');
}
