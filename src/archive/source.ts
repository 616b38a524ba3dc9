/**
 * What an archive's source path records (docs/FORMAT.md): the folder that became the
 * archive's root, and, when create was given several paths (or one that is not a folder),
 * those paths, which the archive holds where they lie under that folder ('/'). The parts
 * are separated by NUL, which no path holds, so one folder's source is its path alone, as
 * before, and a stream's is `stdin:NAME`.
 */
const SEPARATOR = '\0';

/** The source path of an archive of `root`; `paths` (absolute, sorted) when only they were backed up under it. */
export function encodeSource(root: string, paths?: readonly string[]): string {
  return paths === undefined ? root : [root, ...paths].join(SEPARATOR);
}

/** The folder the archive's root stands for: link targets that start with it point into the archive. */
export function sourceRootOf(sourcePath: string): string {
  return sourcePath.split(SEPARATOR, 1)[0] as string;
}

/** The paths create was given: the root alone, or the paths backed up under it. */
export function sourcePathsOf(sourcePath: string): string[] {
  const [root, ...paths] = sourcePath.split(SEPARATOR);
  return paths.length > 0 ? paths : [root as string];
}

/** Paths describeSource names; a list from --files-from may hold thousands. */
const PATHS_DESCRIBED = 3;

/** The source as a person reads it: the paths given, separated by spaces, the first few of many. */
export function describeSource(sourcePath: string): string {
  const paths = sourcePathsOf(sourcePath);
  const rest = paths.length - PATHS_DESCRIBED;
  return rest > 0 ? `${paths.slice(0, PATHS_DESCRIBED).join(' ')} (and ${rest} more)` : paths.join(' ');
}
