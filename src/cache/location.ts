import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The cache root: an explicit folder (--cache-dir or PRESERVE_CACHE_DIR), else
 * $XDG_CACHE_HOME/preserve, else ~/.cache/preserve.
 */
export function cacheFolder(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return explicit;
  if (env.PRESERVE_CACHE_DIR) return env.PRESERVE_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'preserve');
}
