import type { Command } from 'commander';
import { type Change, diffArchives } from '../commands/index.js';
import type { CliContext } from './context.js';
import { type RepositoryFlags, withRepositoryFlags } from './flags.js';

const MARKERS = { added: '+', removed: '-', changed: 'M' } as const;

function formatChange(change: Change): string {
  const path = change.type === 'directory' ? `${change.path}/` : change.path;
  const aspects = change.aspects.length > 0 ? ` (${change.aspects.join(', ')})` : '';
  return `${MARKERS[change.kind]} ${path}${aspects}`;
}

export function registerDiff(program: Command, context: CliContext): void {
  withRepositoryFlags(program.command('diff').description('list entries added (+), removed (-) and changed (M) from NAME1 to NAME2'))
    .argument('<name1>', 'the earlier archive')
    .argument('<name2>', 'the later archive')
    .option('--json', 'print a JSON array of changes')
    .action(async (name1: string, name2: string, flags: RepositoryFlags & { json?: boolean }) => {
      const repository = await context.openRepository(flags);
      const [before, after] = await Promise.all([repository.snapshot(name1), repository.snapshot(name2)]);
      const changes = await diffArchives(before, after);
      if (flags.json) context.print(JSON.stringify(changes, null, 2));
      else for (const change of changes) context.print(formatChange(change));
    });
}
