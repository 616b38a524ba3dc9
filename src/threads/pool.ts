/**
 * piscina pools whose threads load their module with import(), never with require().
 * piscina tries require() first, and from Node 20.19 on require() of an ES module loads it
 * synchronously; a thread terminated in the middle of that, as a pool is destroyed while
 * its threads start (a mount unmounted right after it came up), aborted the whole process:
 * "FATAL ERROR: v8::Module::IsGraphAsync must be used on an instantiated module", under
 * piscina's require() (test/mount.test.ts in CI, 2026-12-07). With require() of ES modules
 * turned off in the threads, that require() fails before loading anything, and piscina
 * imports the module instead, where a termination is an ordinary rejection.
 *
 * Threads given their own options no longer inherit node's from its command line. V8's
 * (the launcher's heap sizes) are the whole process's and still apply; node's own, such as
 * --cpu-prof, would have to be given here to reach the threads.
 */
import { Piscina } from 'piscina';

type PoolOptions = NonNullable<ConstructorParameters<typeof Piscina>[0]>;

/** Node versions without require() of ES modules have no flag to turn it off, and need none. */
const IMPORT_ONLY = process.allowedNodeEnvironmentFlags.has('--experimental-require-module') ? { execArgv: ['--no-experimental-require-module'] } : {};

export function threadPool<Task = unknown, Result = unknown>(options: PoolOptions): Piscina<Task, Result> {
  return new Piscina<Task, Result>({ ...options, ...IMPORT_ONLY });
}
