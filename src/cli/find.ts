import type { Command } from 'commander';
import { EntryFinder, type ListedEntry } from '../commands/index.js';
import { PartialFailureError } from '../errors/index.js';
import { compileExcludes } from '../selection/index.js';
import type { CliContext } from './context.js';
import { type RepositoryFlags, withRepositoryFlags } from './flags.js';
import { countOf } from './format.js';
import { type Names, entryFields, entryLine } from './list.js';

interface FindFlags extends RepositoryFlags {
  readonly archive?: string;
  readonly json?: boolean;
  readonly ignoreCase?: boolean;
}

export function registerFind(program: Command, context: CliContext): void {
  withRepositoryFlags(program.command('find').description('list the entries of every archive, oldest first, that a PATTERN matches (as --exclude patterns match)'))
    .argument('<patterns...>', 'a name matched at any depth (*.pdf, taxes.ods), or a path in the archive (Documents/**/*.pdf)')
    .option('--archive <name>', 'search only this archive')
    .option('-i, --ignore-case', 'match names and paths whatever their case')
    .option('--json', 'print a JSON object per entry, one per line, as list --json does, with the archive')
    .action(async (patterns: string[], flags: FindFlags) => {
      const repository = await context.openRepository(flags);
      const listing = await repository.catalog.select(flags.archive);
      const records = context.readableArchives(listing);
      const finder = new EntryFinder(compileExcludes(patterns, { ignoreCase: flags.ignoreCase === true }), context);
      let entries = 0;
      let archivesWithMatches = 0;
      for (const record of records) {
        const snapshot = repository.snapshotOf(record);
        const { name, userNames, groupNames } = snapshot.metadata;
        const describe = (listed: ListedEntry) => (flags.json ? foundJson(name, listed, userNames, groupNames) : entryLine({ ...listed, path: `${name}:/${listed.path}` }, userNames, groupNames));
        const found = await finder.search(snapshot, (run) => context.print(run.map(describe).join('\n')));
        entries += found;
        if (found > 0) archivesWithMatches++;
      }
      if (!flags.json) context.summary(`${countOf(entries, 'entry', 'entries')} in ${archivesWithMatches} of ${countOf(records.length, 'archive')}`);
      const unreadable = listing.damaged.length + finder.unreadableFolders;
      if (unreadable > 0) throw new PartialFailureError(`${countOf(unreadable, 'archive or folder', 'archives and folders')} could not be read and ${unreadable === 1 ? 'was' : 'were'} not searched (see above)`);
    });
}

function foundJson(archive: string, listed: ListedEntry, users: Names, groups: Names): string {
  return JSON.stringify({ archive, ...entryFields(listed, users, groups) });
}
