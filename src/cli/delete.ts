import type { Command } from 'commander';
import { reportBackends } from './backend-report.js';
import type { CliContext } from './context.js';
import { type RepositoryFlags, withRepositoryFlags } from './flags.js';

export function registerDelete(program: Command, context: CliContext): void {
  withRepositoryFlags(program.command('delete').description('remove archive NAME; run gc afterwards to free the data only it used'))
    .argument('<name>', 'archive to remove')
    .action(async (name: string, flags: RepositoryFlags) => {
      const repository = await context.openRepository(flags);
      await repository.catalog.remove(name);
      context.print(`deleted archive ${JSON.stringify(name)}; \`preserve gc\` frees the blocks and folders no other archive uses`);
      reportBackends(context, repository, `the deletion of ${JSON.stringify(name)}`);
    });
}
