import type { Command } from 'commander';
import { removeCorruptObjects, verifyArchives } from '../commands/index.js';
import { PartialFailureError, describeError } from '../errors/index.js';
import type { CliContext } from './context.js';
import { type RepositoryFlags, withRepositoryFlags } from './flags.js';
import { countOf } from './format.js';
import { percentage } from './parsers.js';

export function registerVerify(program: Command, context: CliContext): void {
  withRepositoryFlags(program.command('verify').description('fetch and authenticate the blocks of archive NAME, or of every archive'))
    .argument('[name]', 'archive to check (default: all)')
    .option('--sample <percent>', 'fetch only a random sample of this percentage of blocks, and only look for the others on the backend (0: fetch none)', percentage({ orZero: true }), 100)
    .option('--repair', 'remove the blocks and folders that fail authentication, so that the next create of their content stores them again')
    .action(async (name: string | undefined, flags: RepositoryFlags & { sample: number; repair?: boolean }) => {
      const repository = await context.openRepository(flags);
      const listing = await repository.catalog.select(name);
      const progress = context.progress('verify', 'block');
      const snapshots = listing.archives.map((record) => repository.snapshotOf(record));
      const report = await verifyArchives(snapshots, repository, { samplePercent: flags.sample, progress }).finally(() => progress.stop());
      const problems = [...listing.damaged.map(({ key, error }) => ({ object: `archive object ${key}`, error: describeError(error), corrupt: undefined, usedBy: [] })), ...report.problems];
      for (const problem of problems) {
        context.print(`${problem.object}: ${problem.error}`);
        for (const user of problem.usedBy) context.print(`  used by ${user}`);
      }
      const lookedFor = report.blocksReferenced - report.blocksChecked;
      context.summary(
        `checked ${countOf(report.archives, 'archive')}: ${countOf(report.trees, 'folder')}, ${report.blocksChecked} of ${countOf(report.blocksReferenced, 'block')}` +
          `${lookedFor > 0 ? ` (the other ${lookedFor} looked for on the backend)` : ''}; ${countOf(problems.length, 'problem')}`,
      );
      const removed = flags.repair ? await removeCorruptObjects(repository, report.problems, (message) => context.warning(message)) : [];
      for (const key of removed) context.print(`removed ${key}`);
      if (removed.length > 0) {
        context.summary(
          `removed ${countOf(removed.length, 'object')} that failed authentication; the next create of the folders that hold their content stores them again, ` +
            'which mends every archive above that uses them (the others stay as they are: run verify after that create)',
        );
      }
      if (problems.length > 0) throw new PartialFailureError(`verify found ${countOf(problems.length, 'damaged or missing object')}`);
    });
}
