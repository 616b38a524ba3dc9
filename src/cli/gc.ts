import type { Command } from 'commander';
import { type GcReport, collectGarbage } from '../commands/index.js';
import type { CliContext } from './context.js';
import { type RepositoryFlags, withRepositoryFlags } from './flags.js';
import { countOf, formatBytes } from './format.js';
import { releasingLocksOnSignal } from './interrupt.js';

function describeFreed({ trees, blocks, temporaries }: GcReport): string {
  const objects = `${countOf(trees.freed, 'folder')} and ${countOf(blocks.freed, 'block')} (${formatBytes(trees.freedBytes + blocks.freedBytes)})`;
  const leftovers = temporaries.freed === 0 ? '' : `, and ${countOf(temporaries.freed, 'temporary file')} left by interrupted runs (${formatBytes(temporaries.freedBytes)})`;
  return objects + leftovers;
}

export function registerGc(program: Command, context: CliContext): void {
  withRepositoryFlags(program.command('gc').description('remove the blocks and folders that no archive uses any more'))
    .option('--dry-run', 'only report what would be freed')
    .action(async (flags: RepositoryFlags & { dryRun?: boolean }) => {
      // With several backends gc needs every one: a backend it skipped could hold an archive that keeps data alive.
      const repository = await context.openRepository(flags, { strict: true });
      const leftBehind = 'what it removed so far stays removed, and the next gc finishes the job';
      const report = await releasingLocksOnSignal(context, leftBehind, () => collectGarbage(repository, { dryRun: flags.dryRun === true }, context));
      const kept = `${countOf(report.archives, 'archive')} ${report.archives === 1 ? 'uses' : 'use'} ${countOf(report.trees.kept, 'folder')} and ${countOf(report.blocks.kept, 'block')}`;
      const freed = describeFreed(report);
      context.print(flags.dryRun ? `${kept}; gc would free ${freed}` : `${kept}; freed ${freed}`);
    });
}
