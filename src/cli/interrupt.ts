/**
 * Ctrl-C (SIGINT) or SIGTERM during a command that holds a backend lock (create, gc): the
 * default action ends the process at once, leaving its lock, which blocks a gc (or, for
 * gc's lock, every create) until it goes stale: 30 minutes from another host. Instead the
 * locks are released, the user is told what the interruption left, and the process ends
 * with 128 + the signal's number, as the default action would report it. A second signal
 * during the release ends it at once.
 */
import { constants } from 'node:os';
import { releaseHeldLocks } from '../repository/index.js';
import type { CliContext } from './context.js';

/** How long the release may take (a backend that hangs must not keep an interrupted run alive). */
const RELEASE_TIMEOUT_MS = 5_000;

/** Runs work with SIGINT and SIGTERM releasing the locks; `leftBehind` says what an interrupted run leaves. */
export async function releasingLocksOnSignal<T>(context: CliContext, leftBehind: string, work: () => Promise<T>): Promise<T> {
  const onSignal = (signal: NodeJS.Signals): void => {
    context.warning(`interrupted by ${signal}: ${leftBehind}`);
    const timeout = new Promise((resolve) => setTimeout(resolve, RELEASE_TIMEOUT_MS).unref());
    void Promise.race([releaseHeldLocks(), timeout]).then(() => process.exit(128 + constants.signals[signal]));
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    return await work();
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
}
