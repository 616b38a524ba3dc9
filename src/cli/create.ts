import type { Command } from 'commander';
import { localFolderOf } from '../backend/index.js';
import { FileCache, MemoryFileCache, cacheFolder } from '../cache/index.js';
import { type CreateOptions, type CreateResult, createArchive, createArchiveFromStream } from '../commands/index.js';
import { PartialFailureError, UsageError } from '../errors/index.js';
import { readPathsFile, readPatternFile } from '../selection/index.js';
import type { SourceReader } from '../pipeline/source-reader.js';
import { type StreamInput, commandOutput, standardInput } from '../pipeline/stream-input.js';
import type { Repository } from '../repository/index.js';
import type { CliContext } from './context.js';
import { type RepositoryFlags, collect, parseFileSize, withCacheDirFlag, withExcludeFlags, withRepositoryFlags } from './flags.js';
import { reportBackends } from './backend-report.js';
import { openCacheDatabase } from './cache-database.js';
import { countOf, formatBytes } from './format.js';
import { boundHeapGrowth } from './heap-growth.js';
import { releasingLocksOnSignal } from './interrupt.js';
import { wholeNumber } from './parsers.js';

interface CreateFlags extends RepositoryFlags {
  readonly exclude: string[];
  readonly excludeFile: string[];
  readonly excludeCaches?: boolean;
  readonly excludeIfPresent: string[];
  readonly dereference?: boolean;
  readonly oneFileSystem?: boolean;
  /** false with --no-xattrs. */
  readonly xattrs: boolean;
  readonly excludeLargerThan?: number;
  /** false with --no-cache. */
  readonly cache: boolean;
  readonly cacheDir?: string;
  readonly rescanDelay: number;
  readonly stdinFilename: string;
  readonly stdinFromCommand?: boolean;
  readonly filesFrom: string[];
  readonly dryRun?: boolean;
}

export function registerCreate(program: Command, context: CliContext): void {
  const command = program.command('create').description('back up PATH (or several) as a new archive NAME');
  withCacheDirFlag(withExcludeFlags(withRepositoryFlags(command)))
    .argument('<name>', 'name of the new archive (must not exist yet)')
    .argument('[path]', 'folder to back up, whose content becomes the archive; - for standard input; with --stdin-from-command, the command to run')
    .argument('[paths...]', "more files or folders, all kept where they lie under / (as is a lone file); with --stdin-from-command, the command's arguments (put -- before the command)")
    .option('--files-from <file>', 'back up the paths listed in FILE too, one per line (# starts a comment); repeatable', collect, [])
    .option('--dry-run', 'do all but store: say what the archive would hold and what it would add to the backend')
    .option('--dereference', 'store what symlinks point to instead of the links')
    .option('--one-file-system', 'do not descend into folders on other filesystems')
    .option('--no-xattrs', 'leave out extended attributes (which also hold ACLs and file capabilities)')
    .option('--exclude-larger-than <size>', 'leave out files larger than SIZE, such as 500K, 100M or 2G (a plain number means MiB)', parseFileSize)
    .option('--no-cache', 'read every file, remembering nothing between runs')
    .option('--rescan-delay <ms>', 'wait this long after reading a file that had just changed before re-checking the files read for changes', wholeNumber('milliseconds'), 1000)
    .option('--stdin-filename <name>', "the name standard input (or the command's output) has in the archive", 'stdin')
    .option('--stdin-from-command', 'back up what the command writes to its standard output; no archive is made unless it exits with status 0')
    .action(async (name: string, path: string | undefined, morePaths: string[], flags: CreateFlags, invoked: Command) => {
      const started = Date.now();
      boundHeapGrowth();
      const given = path === undefined ? [] : [path, ...morePaths];
      const stream = streamToBackUp(given, flags);
      if (!stream && invoked.getOptionValueSource('stdinFilename') === 'cli') throw new UsageError('--stdin-filename names what `create NAME -` or --stdin-from-command backs up, not a folder');
      if (stream && flags.dryRun) throw new UsageError('--dry-run is for paths: a stream read for nothing could not be read again');
      if (stream) return backUpStream(context, name, stream, flags, started);
      const paths = [...given, ...(await Promise.all(flags.filesFrom.map(readPathsFile))).flat()];
      if (paths.length === 0) throw new UsageError(flags.filesFrom.length > 0 ? `--files-from lists no path: ${flags.filesFrom.join(', ')}` : 'create needs a PATH to back up (or - for standard input)');
      const fromFiles = await Promise.all(flags.excludeFile.map((file) => readPatternFile(file, 'exclude file')));
      const dryRun = flags.dryRun === true;
      const repository = await context.openRepository(flags, { createIfMissing: !dryRun, dryRun });
      // The source threads take about 250 ms to start (node, then the modules): started
      // now, they are ready when the walk begins rather than 100 ms into it, the time the
      // cache takes to open and the backend to load its notes.
      const source = repository.openSourceReader();
      let result: CreateResult;
      try {
        result = await backUp(context, repository, source, { name, paths, flags, excludes: [...flags.exclude, ...fromFiles.flat()] });
      } finally {
        await source.close();
      }
      const t = result.metadata.totals;
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const content = `${countOf(t.files, 'file')} (${result.filesRead} read, ${result.filesUnchanged} unchanged), ${countOf(t.directories, 'folder')}, ${countOf(t.symlinks, 'symlink')}, ${formatBytes(t.bytes)}`;
      context.summary(
        dryRun
          ? `dry run: archive ${JSON.stringify(name)} would hold ${content} and add ${formatBytes(t.storedBytes)} to the backend; nothing was stored (${seconds} s)`
          : `archive ${JSON.stringify(name)} created: ${content} (${formatBytes(t.storedBytes)} newly stored) in ${seconds} s`,
      );
      reportBackends(context, repository, `archive ${JSON.stringify(name)}`);
      if (t.skipped > 0) {
        throw new PartialFailureError(`${countOf(t.skipped, 'entry', 'entries')} could not be read and ${t.skipped === 1 ? 'was' : 'were'} left out of the archive`);
      }
    });
}

/** What a create stopped by a signal says it leaves. */
function leftBehind(name: string): string {
  return `no archive ${JSON.stringify(name)} was made; the next create reuses what this one stored`;
}

/** How to open the stream the command line names, or undefined when it names paths. */
function streamToBackUp(given: readonly string[], flags: CreateFlags): (() => StreamInput) | undefined {
  const [command, ...args] = given;
  if (flags.stdinFromCommand) {
    if (command === undefined) throw new UsageError('--stdin-from-command needs the command to run: create NAME --stdin-from-command -- CMD [ARG…]');
    if (flags.filesFrom.length > 0) throw new UsageError("--files-from and --stdin-from-command do not go together: one backs up paths, the other a command's output");
    return () => commandOutput(command, args);
  }
  if (!given.includes('-')) return undefined;
  if (given.length > 1 || flags.filesFrom.length > 0) throw new UsageError('standard input (-) is backed up alone, not with other paths; a command to run needs --stdin-from-command');
  // Asked now, so that a terminal is refused before the backend is opened.
  const input = standardInput();
  return () => input;
}

/** createArchiveFromStream, stopped cleanly by Ctrl-C as a folder's create is. */
async function backUpStream(context: CliContext, name: string, open: () => StreamInput, flags: CreateFlags, started: number): Promise<void> {
  const repository = await context.openRepository(flags, { createIfMissing: true });
  const progress = context.progress('create', 'file');
  const result = await releasingLocksOnSignal(context, leftBehind(name), () =>
    createArchiveFromStream(repository, open, { name, filename: flags.stdinFilename, progress }, context),
  ).finally(() => progress.stop());
  const t = result.metadata.totals;
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  context.summary(`archive ${JSON.stringify(name)} created: one file, ${JSON.stringify(flags.stdinFilename)}, ${formatBytes(t.bytes)} (${formatBytes(t.storedBytes)} newly stored) in ${seconds} s`);
  reportBackends(context, repository, `archive ${JSON.stringify(name)}`);
}

/** createArchive with the cache (its notes on the backend too) and a progress display. */
async function backUp(
  context: CliContext,
  repository: Repository,
  source: SourceReader,
  { name, paths, flags, excludes }: { name: string; paths: string[]; flags: CreateFlags; excludes: string[] },
): Promise<CreateResult> {
  const cacheRoot = cacheFolder(flags.cacheDir);
  const cache = flags.cache ? await openCacheDatabase(cacheRoot, repository.identity, FileCache.open, context, 'every file will be read') : undefined;
  // A dry run reads the cache, to skip what is unchanged, as a real run would, and writes nothing to it.
  const backupCache = flags.dryRun ? new MemoryFileCache(cache) : cache;
  const progress = context.progress('create', 'file');
  try {
    const backendNotes = await cache?.readBackendNotes();
    if (backendNotes) await repository.backend.readNotes?.(backendNotes);
    const options: CreateOptions = {
      name,
      sourcePaths: paths,
      excludes,
      excludeCaches: flags.excludeCaches === true,
      excludeIfPresent: flags.excludeIfPresent,
      dereference: flags.dereference === true,
      oneFileSystem: flags.oneFileSystem === true,
      noXattrs: !flags.xattrs,
      excludeLargerThan: flags.excludeLargerThan,
      cache: backupCache,
      // Its own cache and backend folders would otherwise be backed up into the backend, run after run.
      skippedFolders: [cacheRoot, ...(flags.backend ?? []).flatMap((url) => localFolderOf(url) ?? [])],
      rescanDelayMs: flags.rescanDelay,
      progress,
    };
    const result = await releasingLocksOnSignal(context, leftBehind(name), () => createArchive(repository, source, options, context));
    if (cache && backendNotes && !flags.dryRun) await writeNotes(cache, repository, backendNotes);
    return result;
  } finally {
    progress.stop();
    await cache?.close();
  }
}

/**
 * After a run that succeeded: what the backends learnt about themselves, for the next run's
 * lookups. Only the notes a backend replaced are written (an unchanged backup's are as
 * they were read, 4 MB for the benchmark's backend).
 */
async function writeNotes(cache: FileCache, repository: Repository, notes: Map<string, Uint8Array>): Promise<void> {
  const read = new Map(notes);
  await repository.backend.writeNotes?.(notes);
  await cache.writeBackendNotes(new Map([...notes].filter(([location, bytes]) => read.get(location) !== bytes)));
}
