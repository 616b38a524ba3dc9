import type { Command } from 'commander';
import { BlockIdMap, cacheFolder } from '../cache/index.js';
import { type CopyOutcome, copyArchives } from '../commands/index.js';
import { KeyError, PartialFailureError, UsageError } from '../errors/index.js';
import { openCacheDatabase } from './cache-database.js';
import type { CliContext } from './context.js';
import { type RepositoryFlags, withCacheDirFlag, withRepositoryFlags } from './flags.js';
import { countOf, formatBytes } from './format.js';

interface CopyFlags extends RepositoryFlags {
  readonly to: string;
  readonly toKeyfile?: string;
  readonly cacheDir?: string;
}

export function registerCopy(program: Command, context: CliContext): void {
  withCacheDirFlag(withRepositoryFlags(program.command('copy').description('copy archives (every one, or those named) to another backend, which may have another key')))
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
      // Between two keys, which block each copied one became is kept for the next run (src/cache/block-id-map.ts).
      const name = `copied-${source.identity}-${destination.identity}`;
      const copiedBlocks =
        source.keyFingerprint === destination.keyFingerprint ? undefined : await openCacheDatabase(cacheFolder(flags.cacheDir), name, BlockIdMap.open, context, 'every block will be read and sealed again');
      const counts = { copied: 0, present: 0, failed: 0 };
      const progress = context.progress('copy', 'file');
      const onCopied = (outcome: CopyOutcome) => {
        counts[outcome.kind]++;
        printOutcome(context, outcome, to);
      };
      try {
        await copyArchives(source, records, destination, context, onCopied, { progress, copiedBlocks });
      } finally {
        progress.stop();
        await copiedBlocks?.close();
      }
      context.summary(`${countOf(counts.copied, 'archive')} copied to ${to}, ${counts.present} there already`);
      // With the damaged archive objects, which readableArchives reported.
      const unreadable = counts.failed + (listing?.damaged.length ?? 0);
      if (unreadable > 0) throw new PartialFailureError(`${countOf(unreadable, 'archive')} could not be read and ${unreadable === 1 ? 'was' : 'were'} not copied`);
    });
}

/** A line for each archive copied or found there; one that failed was reported as a problem. */
function printOutcome(context: CliContext, outcome: CopyOutcome, to: string): void {
  if (outcome.kind === 'copied') {
    const t = outcome.metadata.totals;
    context.print(`copied ${JSON.stringify(outcome.name)}: ${countOf(t.files, 'file')}, ${formatBytes(t.bytes)} (${formatBytes(outcome.addedBytes)} added to ${to})`);
  } else if (outcome.kind === 'present') {
    context.print(`${JSON.stringify(outcome.name)} is on ${to} already`);
  }
}
