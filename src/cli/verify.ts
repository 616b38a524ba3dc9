import { type Command, InvalidArgumentError } from 'commander';
import { verifyArchives } from '../commands/index.js';
import { PartialFailureError } from '../errors/index.js';
import type { CliContext } from './context.js';
import { type RepositoryFlags, withRepositoryFlags } from './flags.js';

function parsePercent(value: string): number {
  const percent = Number(value);
  if (!(percent > 0 && percent <= 100)) throw new InvalidArgumentError('expected a percentage greater than 0 and at most 100');
  return percent;
}

export function registerVerify(program: Command, context: CliContext): void {
  withRepositoryFlags(program.command('verify').description('fetch and authenticate the blocks of archive NAME, or of every archive'))
    .argument('[name]', 'archive to check (default: all)')
    .option('--sample <percent>', 'check only a random sample of this percentage of blocks', parsePercent, 100)
    .action(async (name: string | undefined, flags: RepositoryFlags & { sample: number }) => {
      const repository = await context.openRepository(flags);
      const records = name === undefined ? await repository.catalog.list() : [await repository.catalog.read(name)];
      const progress = context.progress('verify', 'blocks');
      const snapshots = records.map((record) => repository.snapshotOf(record));
      const report = await verifyArchives(snapshots, repository, { samplePercent: flags.sample, progress }).finally(() => progress.stop());
      for (const problem of report.problems) {
        context.print(`${problem.object}: ${problem.error}`);
        for (const user of problem.usedBy) context.print(`  used by ${user}`);
      }
      context.summary(
        `checked ${report.archives} archives: ${report.trees} folders, ${report.blocksChecked} of ${report.blocksReferenced} blocks; ` +
          `${report.problems.length} problems`,
      );
      if (report.problems.length > 0) throw new PartialFailureError(`verify found ${report.problems.length} damaged or missing objects`);
    });
}
