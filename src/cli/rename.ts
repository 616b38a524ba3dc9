import type { Command } from 'commander';
import { renameArchive } from '../commands/index.js';
import { reportBackends } from './backend-report.js';
import type { CliContext } from './context.js';
import { type RepositoryFlags, withRepositoryFlags } from './flags.js';

export function registerRename(program: Command, context: CliContext): void {
  withRepositoryFlags(program.command('rename').description('give archive OLD the name NEW (its content and creation time stay)'))
    .argument('<old>', 'the archive to rename')
    .argument('<new>', 'its new name (must not exist yet)')
    .action(async (oldName: string, newName: string, flags: RepositoryFlags) => {
      const repository = await context.openRepository(flags);
      await renameArchive(repository.catalog, oldName, newName);
      context.summary(`renamed archive ${JSON.stringify(oldName)} to ${JSON.stringify(newName)}`);
      reportBackends(context, repository, `the renaming of ${JSON.stringify(oldName)}`);
    });
}
