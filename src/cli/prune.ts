import type { Command } from 'commander';
import { RETENTION_RULES, judgeArchives } from '../commands/index.js';
import { UsageError } from '../errors/index.js';
import { reportBackends } from './backend-report.js';
import { type CliContext, damagedArchivesError } from './context.js';
import { type RepositoryFlags, type RetentionFlags, retentionPolicy, withRepositoryFlags, withRetentionFlags } from './flags.js';
import { countOf, formatTime } from './format.js';

type PruneFlags = RepositoryFlags & RetentionFlags & { dryRun?: boolean };

export function registerPrune(program: Command, context: CliContext): void {
  const command = withRetentionFlags(
    withRepositoryFlags(
      program.command('prune').description('delete the archives that no --keep-… rule keeps, judged per host and source (folder, paths or stream); run gc afterwards to free their data'),
    ),
  );
  command.option('--dry-run', 'only say what would be kept and deleted').action(async (flags: PruneFlags) => {
    const policy = retentionPolicy(flags);
    if (policy.within === undefined && RETENTION_RULES.every((rule) => !policy[rule])) {
      throw new UsageError('prune needs at least one --keep-… rule (--keep-within, --keep-last, --keep-daily, …, or keepDaily, … in the config file); without one it would delete every archive');
    }
    const repository = await context.openRepository(flags);
    const listing = await repository.catalog.list();
    const records = context.readableArchives(listing);
    let deleted = 0;
    for (const { archive, keptBy } of judgeArchives(records.map(({ metadata }) => metadata), policy)) {
      const { name } = archive;
      const when = formatTime(archive.createdAtNs);
      if (keptBy !== undefined) {
        context.print(`keep    ${when}  ${name}  (${keptBy})`);
        continue;
      }
      if (!flags.dryRun) await repository.catalog.remove(name);
      deleted++;
      context.print(`delete  ${when}  ${name}`);
    }
    const outcome = flags.dryRun ? `would delete ${countOf(deleted, 'archive')}` : `deleted ${countOf(deleted, 'archive')}; \`preserve gc\` frees the blocks and folders no other archive uses`;
    context.summary(`${outcome}, kept ${records.length - deleted}`);
    reportBackends(context, repository, 'prune');
    // A damaged archive has no time to judge it by: it is left alone, and said so.
    if (listing.damaged.length > 0) throw damagedArchivesError(listing.damaged.length);
  });
}
