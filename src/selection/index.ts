/**
 * selection: which paths `create` backs up (source-paths.ts), and which `create` and
 * `restore` leave out. A pattern without '/' matches an entry's name at any depth (`*.tmp`,
 * `node_modules`); a pattern with '/' matches the path in the archive: relative to the
 * backed-up folder (`build/**`, `/cache`), or from '/' when create was given several
 * paths. Globs follow minimatch, with `**` spanning folders and dotfiles matched like any
 * other name.
 */
import { readFile } from 'node:fs/promises';
import { Minimatch } from 'minimatch';
import { UsageError, describeError } from '../errors/index.js';
import { nameFromBytes } from '../filenames/index.js';

export { SourcePaths, type GivenPath } from './source-paths.js';

export type ExcludeTest = (relativePath: string) => boolean;

/** `ignoreCase` for find's --ignore-case; create's and restore's patterns match case as it is. */
export function compileExcludes(patterns: readonly string[], { ignoreCase = false } = {}): ExcludeTest {
  const byName: Minimatch[] = [];
  const byPath: Minimatch[] = [];
  const options = { dot: true, nocase: ignoreCase };
  for (const raw of patterns) {
    const pattern = raw.replace(/\/+$/, '');
    if (pattern === '') continue;
    if (pattern.includes('/')) byPath.push(new Minimatch(pattern.replace(/^\/+/, ''), options));
    else byName.push(new Minimatch(pattern, options));
  }
  if (byName.length === 0 && byPath.length === 0) return () => false;
  return (relativePath) => {
    const name = relativePath.slice(relativePath.lastIndexOf('/') + 1);
    return byName.some((m) => m.match(name)) || byPath.some((m) => m.match(relativePath));
  };
}

/** Whether the path (its names in order) or a folder on the way to it matches: what lies under an excluded folder is excluded too. */
export function excludedAlongPath(isExcluded: ExcludeTest, parts: readonly string[]): boolean {
  return parts.some((_, index) => isExcluded(parts.slice(0, index + 1).join('/')));
}

/** Patterns from a file, one per line, trimmed; blank lines and lines starting with # are ignored. `what` names the file in the error. */
export async function readPatternFile(path: string, what: 'exclude file' | 'include file'): Promise<string[]> {
  return (await readListFile(path, what)).map((line) => line.trim());
}

/**
 * Paths to back up from a file (create --files-from), one per line, as restic's
 * --files-from: blank lines and lines starting with # are ignored, the rest taken as they
 * are (a name may start or end with spaces), bytes that are not UTF-8 included.
 */
export function readPathsFile(path: string): Promise<string[]> {
  return readListFile(path, 'file list');
}

/** The lines of a file (without a trailing \r) but the blank ones and the comments; `what` names the file in the error. */
async function readListFile(path: string, what: string): Promise<string[]> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new UsageError(`cannot read ${what} ${path}: ${describeError(error)}`, { cause: error });
  }
  // Latin-1 maps each byte to one character and back, so the lines keep their bytes for nameFromBytes.
  return bytes
    .toString('latin1')
    .split('\n')
    .map((line) => nameFromBytes(Buffer.from(line.endsWith('\r') ? line.slice(0, -1) : line, 'latin1')))
    .filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'));
}
