import { type Command, InvalidArgumentError } from 'commander';
import { wipe } from '../crypto/index.js';
import { KDF_BOUNDS } from '../crypto/passphrase-kdf.js';
import { UsageError } from '../errors/index.js';
import { generateKeyfile, writeKeyfile } from '../keyfile/index.js';
import { FROM_PASSPHRASE_DEFAULTS, masterKeyFromPassphrase } from '../keyfile/from-passphrase.js';
import type { CliContext } from './context.js';
import { withKeyfileFlag } from './flags.js';
import { readPassphrase } from './passphrase.js';

interface KeygenFlags {
  readonly keyfile?: string;
  readonly fromPassphrase?: boolean;
  readonly kdfMemory: number;
  readonly kdfPasses: number;
}

function boundedInteger(min: number, max: number): (value: string) => number {
  return (value) => {
    const number = Number(value);
    if (!/^\d+$/.test(value) || number < min || number > max) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    return number;
  };
}

export function registerKeygen(program: Command, context: CliContext): void {
  withKeyfileFlag(program.command('keygen').description('write a new master key to --keyfile (mode 0600): random, or derived from a passphrase; never overwrites'))
    .option('--from-passphrase', 'derive the key from a passphrase (argon2id): the same passphrase and parameters give the same key anywhere')
    .option('--kdf-memory <MiB>', 'with --from-passphrase: argon2id memory; a key is remade only with the same value', boundedInteger(KDF_BOUNDS.memoryKiB.min / 1024, KDF_BOUNDS.memoryKiB.max / 1024), FROM_PASSPHRASE_DEFAULTS.memoryKiB / 1024)
    .option('--kdf-passes <n>', 'with --from-passphrase: argon2id passes; a key is remade only with the same value', boundedInteger(KDF_BOUNDS.passes.min, KDF_BOUNDS.passes.max), FROM_PASSPHRASE_DEFAULTS.passes)
    .action(async (flags: KeygenFlags) => {
      if (!flags.keyfile) throw new UsageError('keygen needs --keyfile FILE (or PRESERVE_KEYFILE) to know where to write the key');
      if (!flags.fromPassphrase) {
        await generateKeyfile(flags.keyfile);
        context.print(`wrote a new key to ${flags.keyfile}; keep a copy somewhere safe: without it no backup can be read`);
        return;
      }
      const passphrase = await readPassphrase({ prompt: 'passphrase to derive the key from', confirm: true, onWarning: (m) => context.warning(m) });
      const key = await masterKeyFromPassphrase(passphrase, { memoryKiB: flags.kdfMemory * 1024, passes: flags.kdfPasses, parallelism: 1 });
      try {
        await writeKeyfile(flags.keyfile, key);
      } finally {
        wipe(key);
      }
      context.print(`wrote the key derived from the passphrase (argon2id, ${flags.kdfMemory} MiB, ${flags.kdfPasses} passes) to ${flags.keyfile}`);
    });
}
