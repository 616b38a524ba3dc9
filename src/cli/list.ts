import type { Command } from 'commander';
import type { ArchiveRecord } from '../archive/index.js';
import { idToHex } from '../store/ids.js';
import { type CliContext, damagedArchivesError } from './context.js';
import { type RepositoryFlags, withRepositoryFlags } from './flags.js';
import { formatBytes, formatTable, formatTime } from './format.js';

export function registerList(program: Command, context: CliContext): void {
  withRepositoryFlags(program.command('list').description('show the archives on the backend, oldest first'))
    .option('--json', 'print a JSON array instead of a table')
    .action(async (flags: RepositoryFlags & { json?: boolean }) => {
      const repository = await context.openRepository(flags);
      const listing = await repository.catalog.list();
      const records = context.readableArchives(listing);
      printArchives(context, records, flags.json === true, repository.backend.location);
      if (listing.damaged.length > 0) throw damagedArchivesError(listing.damaged.length);
    });
}

function printArchives(context: CliContext, records: readonly ArchiveRecord[], json: boolean, location: string): void {
  if (json) {
    const rows = records.map(({ id, metadata: m }) => ({
      name: m.name,
      id: idToHex(id),
      created: new Date(Number(m.createdAtNs / 1_000_000n)).toISOString(),
      hostname: m.hostname,
      source: m.sourcePath,
      files: m.totals.files,
      directories: m.totals.directories,
      symlinks: m.totals.symlinks,
      bytes: m.totals.bytes,
      storedBytes: m.totals.storedBytes,
    }));
    context.print(JSON.stringify(rows, null, 2));
    return;
  }
  if (records.length === 0) {
    context.print(`no archives on ${location}`);
    return;
  }
  const header = ['NAME', 'CREATED', 'FILES', 'SIZE', 'SOURCE'];
  const rows = records.map(({ metadata: m }) => [
    m.name,
    formatTime(m.createdAtNs),
    String(m.totals.files),
    formatBytes(m.totals.bytes),
    `${m.hostname}:${m.sourcePath}`,
  ]);
  for (const line of formatTable([header, ...rows])) context.print(line);
}
