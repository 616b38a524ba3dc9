import type { Command } from 'commander';
import { type KindCounts, collectGarbage } from '../commands/index.js';
import type { CliContext } from './context.js';
import { type RepositoryFlags, withRepositoryFlags } from './flags.js';
import { formatBytes } from './format.js';

function describeFreed(trees: KindCounts, blocks: KindCounts): string {
  return `${trees.freed} folders and ${blocks.freed} blocks (${formatBytes(trees.freedBytes + blocks.freedBytes)})`;
}

export function registerGc(program: Command, context: CliContext): void {
  withRepositoryFlags(program.command('gc').description('remove the blocks and folders that no archive uses any more'))
    .option('--dry-run', 'only report what would be freed')
    .action(async (flags: RepositoryFlags & { dryRun?: boolean }) => {
      // With several backends gc needs every one: a backend it skipped could hold an archive that keeps data alive.
      const repository = await context.openRepository(flags, { strict: true });
      const report = await collectGarbage(repository, { dryRun: flags.dryRun === true }, context);
      const kept = `${report.archives} archives use ${report.trees.kept} folders and ${report.blocks.kept} blocks`;
      const freed = describeFreed(report.trees, report.blocks);
      context.print(flags.dryRun ? `${kept}; gc would free ${freed}` : `${kept}; freed ${freed}`);
    });
}
