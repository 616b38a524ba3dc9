import type { Command } from 'commander';
import { idToHex } from '../store/ids.js';
import type { CliContext } from './context.js';
import { type RepositoryFlags, withRepositoryFlags } from './flags.js';
import { formatBytes, formatTable, formatTime } from './format.js';

export function registerList(program: Command, context: CliContext): void {
  withRepositoryFlags(program.command('list').description('show the archives on the backend, oldest first'))
    .option('--json', 'print a JSON array instead of a table')
    .action(async (flags: RepositoryFlags & { json?: boolean }) => {
      const repository = await context.openRepository(flags);
      const records = await repository.catalog.list();
      if (flags.json) {
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
        context.print(`no archives on ${repository.backend.location}`);
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
    });
}
