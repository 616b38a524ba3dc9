import type { Command } from 'commander';
import { createArchive } from '../commands/index.js';
import { PartialFailureError } from '../errors/index.js';
import { type CliContext, type RepositoryFlags, withRepositoryFlags } from './context.js';
import { formatBytes } from './format.js';
import { reportBackends } from './backend-report.js';

interface CreateFlags extends RepositoryFlags {
  readonly exclude: string[];
  readonly dereference?: boolean;
  readonly oneFileSystem?: boolean;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function registerCreate(program: Command, context: CliContext): void {
  withRepositoryFlags(program.command('create').description('back up PATH as a new archive NAME'))
    .argument('<name>', 'name of the new archive (must not exist yet)')
    .argument('<path>', 'folder to back up')
    .option('--exclude <pattern>', 'leave out matching entries; repeatable (see README)', collect, [])
    .option('--dereference', 'store what symlinks point to instead of the links')
    .option('--one-file-system', 'do not descend into folders on other filesystems')
    .action(async (name: string, path: string, flags: CreateFlags) => {
      const started = Date.now();
      const repository = await context.openRepository(flags, { createIfMissing: true });
      const { metadata } = await createArchive(
        repository,
        { name, sourcePath: path, excludes: flags.exclude, dereference: flags.dereference === true, oneFileSystem: flags.oneFileSystem === true },
        context,
      );
      const t = metadata.totals;
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      context.print(
        `archive ${JSON.stringify(name)} created: ${t.files} files, ${t.directories} folders, ${t.symlinks} symlinks, ` +
          `${formatBytes(t.bytes)} (${formatBytes(t.storedBytes)} newly stored) in ${seconds} s`,
      );
      reportBackends(context, repository, `archive ${JSON.stringify(name)}`);
      if (t.skipped > 0) {
        throw new PartialFailureError(`${t.skipped} ${t.skipped === 1 ? 'entry' : 'entries'} could not be read and ${t.skipped === 1 ? 'was' : 'were'} left out of the archive`);
      }
    });
}
