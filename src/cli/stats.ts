import type { Command } from 'commander';
import { type RepositoryStats, type Tally, repositoryStats } from '../commands/index.js';
import { PartialFailureError } from '../errors/index.js';
import type { CliContext } from './context.js';
import { type RepositoryFlags, withRepositoryFlags } from './flags.js';
import { countOf, formatBytes, formatTable } from './format.js';

export function registerStats(program: Command, context: CliContext): void {
  withRepositoryFlags(program.command('stats').description('what the archives (all, or those named) hold, and what they and the rest take on the backend'))
    .argument('[names...]', 'archives to measure (default: all)')
    .option('--json', 'print the figures as a JSON object')
    .action(async (names: string[], flags: RepositoryFlags & { json?: boolean }) => {
      const repository = await context.openRepository(flags);
      const stats = await repositoryStats(repository, names);
      if (flags.json) context.print(JSON.stringify(stats, null, 2));
      else for (const line of formatTable(describe(stats))) context.print(line);
      if (stats.missing > 0) {
        throw new PartialFailureError(`${countOf(stats.missing, 'block or folder', 'blocks and folders')} these archives use cannot be found on the backend; run verify`);
      }
    });
}

function describe(stats: RepositoryStats): string[][] {
  const all = stats.exclusive === undefined;
  const them = stats.archives.length === 1 ? 'it' : 'them';
  const rows = [
    ['archives', all ? `${stats.archives.length}` : `${stats.archives.join(', ')} (${stats.archives.length} of ${stats.allArchives})`],
    ['restored', `${formatBytes(stats.restored.bytes)} in ${countOf(stats.restored.files, 'file')}, added up over the archives`],
    ['content', `${amount(stats.content, 'distinct block')}${stats.content.bytes > 0 ? `: ${(stats.restored.bytes / stats.content.bytes).toFixed(1)}× less than restored` : ''}`],
    ['stored', `${amount(stats.stored, 'block or folder', 'blocks and folders')} on the backend${stats.missing > 0 ? `, and ${stats.missing} missing` : ''}`],
  ];
  if (stats.exclusive) rows.push(['only theirs', `${amount(stats.exclusive, 'block or folder', 'blocks and folders')} no other archive uses: what deleting ${them} then gc frees`]);
  rows.push(['backend', `${amount(stats.backend, 'object')} in all, of which ${formatBytes(stats.unused.bytes)} no archive uses (gc frees it)`]);
  return rows;
}

function amount(tally: Tally, singular: string, plural?: string): string {
  return `${formatBytes(tally.bytes)} in ${countOf(tally.count, singular, plural)}`;
}
