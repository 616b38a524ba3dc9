import type { Command } from 'commander';
import { copyArchives } from '../commands/index.js';
import { KeyError, PartialFailureError, UsageError } from '../errors/index.js';
import type { CliContext } from './context.js';
import { type RepositoryFlags, withRepositoryFlags } from './flags.js';
import { countOf, formatBytes } from './format.js';

interface CopyFlags extends RepositoryFlags {
  readonly to: string;
  readonly toKeyfile?: string;
}

export function registerCopy(program: Command, context: CliContext): void {
  withRepositoryFlags(program.command('copy').description('copy archives (every one, or those named) to another backend, which may have another key'))
    .argument('[names...]', 'the archives to copy (default: every archive the other backend lacks)')
    .requiredOption('--to <url>', 'the backend to copy to, as --backend names one (a folder is made if missing)')
    .option('--to-keyfile <file>', "the key of the backend copied to (default: --keyfile's)")
    .action(async (names: string[], flags: CopyFlags) => {
      const source = await context.openRepository(flags);
      // Every archive named is read before the destination is opened (or made): an unknown one is exit 2 with nothing done.
      const listing = names.length === 0 ? await source.catalog.list() : undefined;
      const records = listing ? context.readableArchives(listing) : await Promise.all(names.map((name) => source.catalog.read(name)));
      const destination = await context.openRepository({ ...flags, keyfile: flags.toKeyfile ?? flags.keyfile, backend: [flags.to] }, { createIfMissing: true });
      const to = destination.backend.location;
      if (to === source.backend.location) throw new UsageError(`${to} is the backend the archives are on; --to names where to copy them`);
      await destination.catalog.assertKeyMatches().catch((error: unknown) => {
        throw error instanceof KeyError ? new KeyError(`${error.message}; give its key with --to-keyfile`, { cause: error }) : error;
      });
      const counts = { copied: 0, present: 0, failed: 0 };
      const progress = context.progress('copy', 'file');
      await copyArchives(source, records, destination, context, (outcome) => {
        counts[outcome.kind]++;
        if (outcome.kind === 'copied') {
          const t = outcome.metadata.totals;
          context.print(`copied ${JSON.stringify(outcome.name)}: ${countOf(t.files, 'file')}, ${formatBytes(t.bytes)} (${formatBytes(outcome.addedBytes)} added to ${to})`);
        } else if (outcome.kind === 'present') {
          context.print(`${JSON.stringify(outcome.name)} is on ${to} already`);
        }
      }, progress).finally(() => progress.stop());
      context.summary(`${countOf(counts.copied, 'archive')} copied to ${to}, ${counts.present} there already`);
      // With the damaged archive objects, which readableArchives reported.
      const unreadable = counts.failed + (listing?.damaged.length ?? 0);
      if (unreadable > 0) throw new PartialFailureError(`${countOf(unreadable, 'archive')} could not be read and ${unreadable === 1 ? 'was' : 'were'} not copied`);
    });
}
