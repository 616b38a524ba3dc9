/**
 * The options several commands share, defined once: the same flag means the same thing
 * everywhere, and `config show` can list exactly what the commands use. Values come from
 * the command line, else the environment (Option.env), else the config file (applied by
 * main.ts with source 'config'), else the default.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { RETENTION_RULES, type RetentionInterval, type RetentionPolicy, type RetentionRule } from '../commands/index.js';
import { parseInterval, wholeNumber } from './parsers.js';

export interface RepositoryFlags {
  /** Undefined when neither --keyfile, PRESERVE_KEYFILE nor the config file names one. */
  readonly keyfile?: string;
  /** Every --backend, in order; else PRESERVE_BACKEND, else the config file's; undefined when none is set. */
  readonly backend?: readonly string[];
}

export const collect = (value: string, previous: readonly string[]): string[] => [...previous, value];

/** --keyfile, --config and the output options, on every command. */
export function withKeyfileFlag(command: Command): Command {
  return command
    .addOption(new Option('--keyfile <file>', 'the master key file').env('PRESERVE_KEYFILE'))
    .addOption(new Option('--config <file>', 'settings file (default ~/.config/preserve/config.json)').env('PRESERVE_CONFIG'))
    .option('-v, --verbose', 'print details, and stack traces with errors')
    .option('-q, --quiet', 'print only warnings and errors: no progress, no summary')
    .option('--logfile <file>', 'also write every message, with a timestamp, to FILE as JSON lines');
}

/** The above and --backend (repeatable), on every command that opens a repository. */
export function withRepositoryFlags(command: Command): Command {
  // Repeated on the command line, backends add up; but the command line replaces the environment's
  // or the config file's backend rather than adding to it, and the environment the config file's.
  for (const event of ['option:backend', 'optionEnv:backend']) {
    command.on(event, () => {
      const source = command.getOptionValueSource('backend');
      if (source !== undefined && source !== (event === 'option:backend' ? 'cli' : 'env')) command.setOptionValueWithSource('backend', undefined, 'default');
    });
  }
  return withKeyfileFlag(command).addOption(
    new Option(
      '--backend <url>',
      'where the backups live: a folder, file:///abs/path, sftp://user@host[:port]/path or s3://bucket/prefix; repeat it to write to several and read from the first good copy',
    )
      .env('PRESERVE_BACKEND')
      .argParser((url: string, previous: readonly string[] | undefined) => [...(previous ?? []), url]),
  );
}

/** --exclude, --exclude-file, --exclude-caches and --exclude-if-present; lists from the config file and the command line both apply. */
export function withExcludeFlags(command: Command): Command {
  return command
    .option('--exclude <pattern>', 'leave out matching entries; repeatable (see README)', collect, [])
    .option('--exclude-file <file>', 'leave out entries matching the patterns in FILE, one per line; repeatable', collect, [])
    .option('--exclude-caches', 'leave out folders that hold a CACHEDIR.TAG file (https://bford.info/cachedir/)')
    .option('--exclude-if-present <name>', 'leave out folders that hold an entry named NAME; repeatable', collect, []);
}

/**
 * Options whose value comes from the command line only, never from a config key of the same
 * name: restore's --exclude is not create's `exclude`, whose patterns were meant for backups
 * and would silently leave files out of a restore of an archive made without them.
 */
const commandLineOnly = new WeakSet<Option>();

export function isCommandLineOnly(option: Option): boolean {
  return commandLineOnly.has(option);
}

/** restore's --exclude, --include and their -file forms: patterns as create's, matched against paths in the archive. */
export function withRestorePatternFlags(command: Command): Command {
  const options = [
    new Option('--exclude <pattern>', 'do not restore matching entries (patterns as for create); repeatable').argParser(collect).default([]),
    new Option('--exclude-file <file>', 'do not restore entries matching the patterns in FILE, one per line; repeatable').argParser(collect).default([]),
    new Option('--include <pattern>', 'restore only matching entries, with all they hold and the folders on the way to them; repeatable').argParser(collect).default([]),
    new Option('--include-file <file>', 'restore only entries matching the patterns in FILE, one per line; repeatable').argParser(collect).default([]),
  ];
  for (const option of options) {
    commandLineOnly.add(option);
    command.addOption(option);
  }
  return command;
}

export function withCacheDirFlag(command: Command): Command {
  return command.addOption(
    new Option('--cache-dir <folder>', 'where to remember unchanged files (default ~/.cache/preserve)').env('PRESERVE_CACHE_DIR'),
  );
}

const MIB = 1024 * 1024;
const UNIT_SCALE: Record<string, number> = { '': MIB, K: 1024, M: MIB, G: 1024 * MIB };

/** "500K", "256", "256M", "256MiB", "1G": a plain number means MiB; undefined for 0 or what does not parse. */
function sizeInBytes(value: string): number | undefined {
  const match = /^(\d+)\s*([KMG]?)(?:i?B)?$/i.exec(value.trim());
  const bytes = match ? Number(match[1]) * (UNIT_SCALE[(match[2] ?? '').toUpperCase()] ?? MIB) : 0;
  return bytes > 0 ? bytes : undefined;
}

/** A memory size (sizeInBytes), at least 1 MiB. */
export function parseSize(value: string): number {
  const bytes = sizeInBytes(value);
  if (bytes === undefined || bytes < MIB) throw new InvalidArgumentError('expected a size of at least 1 MiB, such as 256M or 1G');
  return bytes;
}

/** A file size (sizeInBytes), for --exclude-larger-than. */
export function parseFileSize(value: string): number {
  const bytes = sizeInBytes(value);
  if (bytes === undefined) throw new InvalidArgumentError('expected a size such as 500K, 100M or 2G');
  return bytes;
}

export function withCacheSizeFlag(command: Command): Command {
  return command.addOption(new Option('--cache-size <size>', 'memory for decrypted blocks, such as 512M or 1G').argParser(parseSize).default(256 * MIB, '256M'));
}

/** --keep-last, --keep-hourly, …, --keep-within: prune's rules, as flags or config keys (keepDaily, …). */
export type RetentionFlags = { readonly [K in RetentionKey]?: number } & { readonly keepWithin?: RetentionInterval };
type RetentionKey = `keep${Capitalize<RetentionRule>}`;

const RULE_HELP: Record<RetentionRule, string> = {
  last: 'the newest N archives',
  hourly: 'the newest archive of each of the last N hours that have one',
  daily: 'the newest archive of each of the last N days that have one',
  weekly: 'the newest archive of each of the last N weeks (ISO, from Monday) that have one',
  monthly: 'the newest archive of each of the last N months that have one',
  yearly: 'the newest archive of each of the last N years that have one',
};

export function withRetentionFlags(command: Command): Command {
  command.option('--keep-within <interval>', 'keep every archive made within INTERVAL before now: 24H, 7d, 4w, 6m (months of 31 days) or 1y', parseInterval);
  for (const rule of RETENTION_RULES) command.option(`--keep-${rule} <n>`, `keep ${RULE_HELP[rule]}`, wholeNumber());
  return command;
}

/** The config keys and option attributes of the rules. */
export const RETENTION_KEYS: readonly (RetentionKey | 'keepWithin')[] = ['keepWithin', ...RETENTION_RULES.map(retentionKey)];

export function retentionPolicy(flags: RetentionFlags): RetentionPolicy {
  return { ...Object.fromEntries(RETENTION_RULES.map((rule) => [rule, flags[retentionKey(rule)] ?? 0])), within: flags.keepWithin };
}


function retentionKey<T extends RetentionRule>(rule: T): `keep${Capitalize<T>}` {
  return `keep${rule.charAt(0).toUpperCase()}${rule.slice(1)}` as `keep${Capitalize<T>}`;
}
