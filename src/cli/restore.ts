import { type Command, Option } from 'commander';
import { OVERWRITE_POLICIES, type OverwritePolicy, type RestoreSummary, restoreArchive } from '../commands/index.js';
import { PartialFailureError } from '../errors/index.js';
import { readPatternFile } from '../selection/index.js';
import type { CliContext } from './context.js';
import { type RepositoryFlags, withRepositoryFlags, withRestorePatternFlags } from './flags.js';
import { countOf, formatBytes } from './format.js';

interface RestoreFlags extends RepositoryFlags {
  readonly exclude: string[];
  readonly excludeFile: string[];
  readonly include: string[];
  readonly includeFile: string[];
  readonly numericOwner?: boolean;
  readonly dereference?: boolean;
  readonly hardDereference?: boolean;
  readonly sparse?: boolean;
  readonly overwrite: OverwritePolicy;
  readonly delete?: boolean;
  readonly dryRun?: boolean;
  /** false with --no-xattrs. */
  readonly xattrs: boolean;
}

export function registerRestore(program: Command, context: CliContext): void {
  withRestorePatternFlags(withRepositoryFlags(program.command('restore').description('extract archive NAME, or only the given paths, into TARGET')))
    .argument('<name>', 'archive to restore')
    .argument('<target>', 'folder to restore into (created if missing)')
    .argument('[paths...]', 'files or folders inside the archive to restore (default: everything)')
    .option('--numeric-owner', 'when run as root, restore owners by number, ignoring the user and group names recorded')
    .option('--dereference', 'restore what symlinks point to, when it is in the archive, instead of the links')
    .option('--hard-dereference', 'restore every hardlink as a separate file')
    .option('--sparse', 'leave runs of zeros in files as holes, which take no disk space')
    .option('--no-xattrs', 'restore no extended attributes (nor the ACLs and file capabilities they hold)')
    .addOption(
      new Option('--overwrite <when>', 'a file or symlink already in TARGET is replaced always, if-changed (not of the same size, time and mode), if-newer (older than the archived one) or never')
        .choices(OVERWRITE_POLICIES)
        .default('always'),
    )
    .option('--delete', 'remove what restored folders hold in TARGET that the archive does not (not what --exclude matches)')
    .option('--dry-run', 'only say what would be restored, kept and deleted (with --verbose, each path deleted); write nothing')
    .action(async (name: string, target: string, paths: string[], flags: RestoreFlags) => {
      const excludesFromFiles = await Promise.all(flags.excludeFile.map((file) => readPatternFile(file, 'exclude file')));
      const includesFromFiles = await Promise.all(flags.includeFile.map((file) => readPatternFile(file, 'include file')));
      const repository = await context.openRepository(flags);
      const snapshot = await repository.snapshot(name);
      const progress = context.progress('restore', 'file');
      const summary = await restoreArchive(
        snapshot,
        repository,
        {
          target,
          paths,
          excludes: [...flags.exclude, ...excludesFromFiles.flat()],
          includes: [...flags.include, ...includesFromFiles.flat()],
          numericOwner: flags.numericOwner === true,
          dereference: flags.dereference === true,
          hardDereference: flags.hardDereference === true,
          sparse: flags.sparse === true,
          overwrite: flags.overwrite,
          deleteUnarchived: flags.delete === true,
          dryRun: flags.dryRun === true,
          noXattrs: !flags.xattrs,
          progress,
        },
        context,
      ).finally(() => progress.stop());
      context.summary(describeRestore(summary, target, flags.dryRun === true));
      if (summary.problems > 0) {
        throw new PartialFailureError(`${countOf(summary.problems, 'entry', 'entries')} could not be restored (see above)`);
      }
    });
}

function describeRestore(summary: RestoreSummary, target: string, dryRun: boolean): string {
  const restored =
    `${countOf(summary.files, 'file')}, ${countOf(summary.directories, 'folder')}, ${countOf(summary.symlinks, 'symlink')} ` +
    `(${formatBytes(summary.bytes)}) into ${target}`;
  const kept = summary.kept > 0 ? `; ${dryRun ? 'keep' : 'kept'} ${countOf(summary.kept, 'file or symlink', 'files and symlinks')} already there` : '';
  const deleted = summary.deleted > 0 ? `; ${dryRun ? 'delete' : 'deleted'} ${countOf(summary.deleted, 'entry', 'entries')} not in the archive` : '';
  return dryRun ? `dry run: would restore ${restored}${kept}${deleted}; nothing was written` : `restored ${restored}${kept}${deleted}`;
}
