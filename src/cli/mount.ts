import { join } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { PartialFailureError } from '../errors/index.js';
import { type CliContext, damagedArchivesError } from './context.js';
import { countOf } from './format.js';
import { type RepositoryFlags, withCacheSizeFlag, withRepositoryFlags } from './flags.js';

interface MountFlags extends RepositoryFlags {
  readonly cacheSize: number;
  readonly readahead: number;
  readonly numericIds?: boolean;
  readonly uid?: number;
  readonly gid?: number;
  readonly allowOther?: boolean;
  /** false with --no-xattrs. */
  readonly xattrs: boolean;
}

function integerParser(min: number, max: number): (value: string) => number {
  return (value) => {
    const number = Number(value);
    if (!/^\d+$/.test(value) || number < min || number > max) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    return number;
  };
}

const parseId = integerParser(0, 2 ** 32 - 2);

function describeArchives(name: string | undefined, count: number): string {
  return name === undefined ? countOf(count, 'archive') : `archive ${JSON.stringify(name)}`;
}

/** Root unmounts directly; other users need libfuse's setuid helper. */
function unmountCommand(): string {
  return process.getuid?.() === 0 ? 'umount' : 'fusermount -u';
}

export function registerMount(program: Command, context: CliContext): void {
  const command = program.command('mount').description('show archive NAME, or every archive as a folder, read-only at MOUNTPOINT until Ctrl-C');
  withCacheSizeFlag(withRepositoryFlags(command))
    .usage('[options] [NAME] MOUNTPOINT')
    // Commander cannot put an optional argument before a required one; the action sorts them out.
    .argument('<name-or-mountpoint>', 'NAME: the archive to show (without it, every archive as a folder)')
    .argument('[mountpoint]', 'MOUNTPOINT: an empty folder')
    .option('--readahead <blocks>', 'blocks fetched ahead of a file being read forward; also sets how many files (16×) and folders ahead in a folder (0 turns it off)', integerParser(0, 256), 16)
    .option('--numeric-ids', 'show the owner numbers recorded in the archive instead of mapping them by name')
    .option('--uid <uid>', 'show this user id as the owner of everything', parseId)
    .option('--gid <gid>', 'show this group id as the group of everything', parseId)
    .option('--allow-other', 'let other users see the mount (their access is still checked against the shown owners and modes)')
    .option('--no-xattrs', 'show no extended attributes: `cp -a` then asks nothing more per file (twice as fast on small files)')
    .action(async (first: string, second: string | undefined, flags: MountFlags) => {
      const [name, mountpointArgument] = second === undefined ? [undefined, first] : [first, second];
      // Loaded here so that no other command needs mount/ or the fuse-native addon.
      const { chooseTransport, prepareMountpoint, serveMount } = await import('../../mount/index.js');
      const mountpoint = await prepareMountpoint(mountpointArgument);
      const transport = await chooseTransport();
      const repository = await context.openRepository(flags, { cryptoWorkers: true });
      const listing = await repository.catalog.select(name);
      // A damaged archive object is reported and left out of the view; the others are shown.
      const archives = context.readableArchives(listing);
      const stop = new AbortController();
      const onSignal = (): void => stop.abort();
      process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
      try {
        const summary = await serveMount(
          transport,
          repository,
          {
            mountpoint,
            archives,
            single: name !== undefined,
            cacheBytes: flags.cacheSize,
            readahead: flags.readahead,
            owners: { numericIds: flags.numericIds === true, uid: flags.uid, gid: flags.gid },
            allowOther: flags.allowOther === true,
            xattrs: flags.xattrs,
          },
          {
            mounted: () => context.print(`mounted ${describeArchives(name, archives.length)} read-only at ${mountpoint}; stop with Ctrl-C or \`${unmountCommand()} ${mountpoint}\``),
            problem: (path, error) => context.problem(join(mountpoint, path), error),
            warning: (message) => context.warning(message),
          },
          stop.signal,
        );
        context.print(`unmounted ${mountpoint}`);
        if (summary.problems > 0) {
          throw new PartialFailureError(`${countOf(summary.problems, 'lookup or read', 'lookups or reads')} failed on damaged or missing data (see above)`);
        }
        if (listing.damaged.length > 0) throw damagedArchivesError(listing.damaged.length);
      } finally {
        process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      }
    });
}
