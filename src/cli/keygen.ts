import type { Command } from 'commander';
import { UsageError } from '../errors/index.js';
import { generateKeyfile } from '../keyfile/index.js';
import type { CliContext } from './context.js';
import { withKeyfileFlag } from './flags.js';

export function registerKeygen(program: Command, context: CliContext): void {
  withKeyfileFlag(program.command('keygen').description('write a new random master key to --keyfile (mode 0600); never overwrites'))
    .action(async (flags: { keyfile: string }) => {
      if (flags.keyfile === '') throw new UsageError('keygen needs --keyfile FILE (or PRESERVE_KEYFILE) to know where to write the key');
      await generateKeyfile(flags.keyfile);
      context.print(`wrote a new key to ${flags.keyfile}; keep a copy somewhere safe: without it no backup can be read`);
    });
}
