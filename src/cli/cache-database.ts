import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError } from '../errors/index.js';
import type { CliContext } from './context.js';

/**
 * Opens the database `name` in the cache folder `root`. One that cannot be opened
 * (another run holds it) only costs speed: a warning says so, ending with `without`
 * ("every file will be read"), and the caller goes on without it.
 */
export async function openCacheDatabase<T>(root: string, name: string, open: (folder: string) => Promise<T>, context: CliContext, without: string): Promise<T | undefined> {
  const folder = join(root, name);
  try {
    await mkdir(root, { recursive: true, mode: 0o700 });
    return await open(folder);
  } catch (error) {
    // level wraps the real reason (a lock held by another run, say) in its own error.
    const reason = error instanceof Error && error.cause !== undefined ? error.cause : error;
    context.warning(`cannot use the cache ${folder} (${describeError(reason)}); ${without}`);
    return undefined;
  }
}
