import type { Command } from 'commander';
import { dumpEntry, dumpsAsTar, entryAt } from '../commands/index.js';
import { PartialFailureError, UsageError } from '../errors/index.js';
import type { CliContext } from './context.js';
import { type RepositoryFlags, withRepositoryFlags } from './flags.js';
import { countOf, formatBytes } from './format.js';
import { boundHeapGrowth } from './heap-growth.js';

export function registerDump(program: Command, context: CliContext): void {
  withRepositoryFlags(program.command('dump').description("write a file of archive NAME to stdout, or a folder or symlink (with all it holds) as a tar"))
    .argument('<name>', 'archive to read')
    .argument('<path>', 'the file or folder inside the archive ("/" for all of it)')
    .action(async (name: string, path: string, flags: RepositoryFlags) => {
      boundHeapGrowth();
      const repository = await context.openRepository(flags);
      const snapshot = await repository.snapshot(name);
      const entry = await entryAt(snapshot, path);
      if (dumpsAsTar(entry) && process.stdout.isTTY) {
        throw new UsageError(`"${path}" would be written as a tar to the terminal; send it to a file or a pipe (preserve dump ${name} ${path} > out.tar)`);
      }
      const summary = await dumpEntry(snapshot, repository, path, entry, process.stdout, context);
      context.info(`dumped ${countOf(summary.entries, 'entry', 'entries')}, ${formatBytes(summary.bytes)} of content`);
      if (summary.problems > 0) {
        throw new PartialFailureError(`${countOf(summary.problems, 'entry', 'entries')} could not be written to the tar (see above)`);
      }
    });
}
