import { type Command, InvalidArgumentError } from 'commander';
import { backupKey, findKeyBackup, recoverKey } from '../commands/key-backup.js';
import { wipe } from '../crypto/index.js';
import { calibrateKdf } from '../crypto/passphrase-kdf.js';
import { UsageError } from '../errors/index.js';
import { loadKeyfile, writeKeyfile } from '../keyfile/index.js';
import { reportBackends } from './backend-report.js';
import type { CliContext } from './context.js';
import { type RepositoryFlags, withRepositoryFlags } from './flags.js';
import { readPassphrase } from './passphrase.js';

const DEFAULT_KDF_SECONDS = 60;

function parseSeconds(value: string): number {
  const seconds = Number(value);
  if (!(seconds > 0 && seconds <= 3600)) throw new InvalidArgumentError('expected a number of seconds greater than 0 and at most 3600');
  return seconds;
}

export function registerKey(program: Command, context: CliContext): void {
  const key = program.command('key').description('keep the master key on the backend under a passphrase, or get it back from there');

  withRepositoryFlags(key.command('backup').description('store the master key on the backend(s), encrypted under a passphrase (argon2id); replaces older backups'))
    .option(
      '--kdf-seconds <seconds>',
      `how long deriving the key from the passphrase should take here, which sets argon2id's cost (env PRESERVE_KDF_SECONDS)`,
      parseSeconds,
      process.env.PRESERVE_KDF_SECONDS ? parseSeconds(process.env.PRESERVE_KDF_SECONDS) : DEFAULT_KDF_SECONDS,
    )
    .action(async (flags: RepositoryFlags & { kdfSeconds: number }) => {
      const repository = await context.openRepository(flags);
      await repository.catalog.assertKeyMatches();
      const passphrase = await readPassphrase({ prompt: 'passphrase for the key backup', confirm: true, onWarning: (m) => context.warning(m) });
      context.print(`measuring argon2id here to make deriving the key take about ${flags.kdfSeconds} s, then sealing the key...`);
      const params = await calibrateKdf(flags.kdfSeconds);
      const masterKey = await loadKeyfile(flags.keyfile, (m) => context.warning(m));
      try {
        const result = await backupKey(repository.backend, masterKey, passphrase, params);
        context.print(
          `stored the master key as ${result.key} on ${repository.backend.location} (argon2id, ${params.memoryKiB / 1024} MiB, ${params.passes} passes)` +
            (result.replaced.length > 0 ? `; removed ${result.replaced.length} older backup(s)` : ''),
        );
      } finally {
        wipe(masterKey);
      }
      reportBackends(context, repository, 'the key backup');
    });

  withRepositoryFlags(key.command('recover').description('write the master key stored by `key backup` to --keyfile, given the passphrase'))
    .action(async (flags: RepositoryFlags) => {
      if (!flags.keyfile) throw new UsageError('key recover needs --keyfile FILE (or PRESERVE_KEYFILE) to know where to write the key');
      const backend = await context.openBackends(flags);
      const found = await findKeyBackup(backend);
      const passphrase = await readPassphrase({ prompt: `passphrase of ${found.key}`, confirm: false, onWarning: (m) => context.warning(m) });
      const masterKey = await recoverKey(backend, found, passphrase);
      try {
        await writeKeyfile(flags.keyfile, masterKey);
      } finally {
        wipe(masterKey);
      }
      context.print(`wrote the master key from ${found.key} to ${flags.keyfile}`);
    });
}
