import type { Command } from 'commander';
import { describeHolder, removeLocks } from '../repository/index.js';
import { reportBackends } from './backend-report.js';
import type { CliContext } from './context.js';
import { type RepositoryFlags, withRepositoryFlags } from './flags.js';

export function registerUnlock(program: Command, context: CliContext): void {
  withRepositoryFlags(program.command('unlock').description("remove the locks of create and gc runs that are gone (stale); with --all, every lock"))
    .option('--all', 'remove live locks too: only when no preserve runs on this backend (a machine that died mid-backup, say)')
    .action(async (flags: RepositoryFlags & { all?: boolean }) => {
      const repository = await context.openRepository(flags);
      let found = 0;
      for await (const { key, holder, removed } of removeLocks(repository.backend, flags.all === true)) {
        found++;
        const who = holder === 'unreadable' ? 'an unreadable lock, which may be a run\'s' : `${describeHolder(holder)}${removed ? '' : ', live'}`;
        context.print(`${removed ? 'removed' : 'kept'} ${key}: ${who}${removed ? '' : ' (--all removes it)'}`);
      }
      if (found === 0) context.print(`no locks on ${repository.backend.location}`);
      reportBackends(context, repository, 'the removal of the locks');
    });
}
