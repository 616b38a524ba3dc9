/**
 * cli: the `preserve` command line. One file per command turns flags into typed options
 * and calls src/commands; this file builds the program and decides the exit status in
 * one place (SPEC §1: 0 ok, 1 a problem was found, 2 bad usage or configuration).
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, type Option } from 'commander';
import { type ConfigFile, type LoadedConfig, configPathFromArgs, loadConfig } from '../config/index.js';
import { ExitStatus, PreserveError, UsageError, describeError } from '../errors/index.js';
import { argumentsAsNames } from './command-line.js';
import { registerConfig } from './config.js';
import { CliContext } from './context.js';
import { isCommandLineOnly } from './flags.js';
import { registerCopy } from './copy.js';
import { registerCreate } from './create.js';
import { registerDelete } from './delete.js';
import { registerDiff } from './diff.js';
import { registerDump } from './dump.js';
import { registerFind } from './find.js';
import { registerGc } from './gc.js';
import { registerKey } from './key.js';
import { registerKeygen } from './keygen.js';
import { registerList } from './list.js';
import { registerMount } from './mount.js';
import { registerPrune } from './prune.js';
import { registerRename } from './rename.js';
import { registerRestore } from './restore.js';
import { registerScrub } from './scrub.js';
import { registerStats } from './stats.js';
import { registerUnlock } from './unlock.js';
import { registerVerify } from './verify.js';

function buildProgram(context: CliContext, config: LoadedConfig): Command {
  const program = new Command('preserve')
    .description('encrypted, deduplicating backups that mount read-only through FUSE')
    .version(`preserve ${packageVersion()}`, '-V, --version', 'print the version')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .hook('preAction', (_program, command) => context.configure(command.opts()));
  registerConfig(program, context, config);
  const commands = [registerKeygen, registerCreate, registerList, registerStats, registerFind, registerRestore, registerDump, registerVerify, registerDiff, registerMount, registerRename, registerCopy, registerDelete, registerPrune, registerGc, registerUnlock, registerKey, registerScrub];
  for (const register of commands) {
    register(program, context);
  }
  for (const command of commandsOf(program)) command.exitOverride();
  applyConfig(program, config);
  return program;
}

/** package.json's version: the program runs from dist/src/cli, three folders below it. */
function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

function commandsOf(command: Command): Command[] {
  return command.commands.flatMap((sub) => [sub, ...commandsOf(sub)]);
}

/**
 * Config file values become option values with source 'config', which commander lets the
 * environment and the command line override; list options (--exclude) add to them. A
 * switch (--exclude-caches) takes true or false as it is. Options marked command-line only
 * (restore's --exclude) take nothing from the file.
 */
function applyConfig(program: Command, config: LoadedConfig): void {
  for (const command of commandsOf(program)) {
    for (const option of command.options) {
      if (isCommandLineOnly(option)) continue;
      const key = option.attributeName() as keyof ConfigFile;
      const value = config.values[key];
      if (value === undefined) continue;
      const parsed = Array.isArray(value) ? [...value] : typeof value === 'boolean' ? value : parseConfigValue(option, String(value), key, config.path);
      command.setOptionValueWithSource(key, parsed, 'config');
    }
  }
}

function parseConfigValue(option: Option, value: string, key: string, path: string | undefined): unknown {
  try {
    return option.parseArg ? option.parseArg(value, undefined) : value;
  } catch (error) {
    throw new UsageError(`config file ${path}: key ${JSON.stringify(key)}: ${describeError(error)}`);
  }
}

export async function run(argv: readonly string[] = argumentsAsNames()): Promise<number> {
  const context = new CliContext();
  let status: number = ExitStatus.ok;
  try {
    const config = await loadConfig(configPathFromArgs(argv));
    await buildProgram(context, config).parseAsync(argv);
  } catch (error) {
    status = exitStatusFor(error, context);
  }
  // Connections (SFTP, S3) would keep the process alive; a failure to close is reported too.
  try {
    await context.closeRepositories();
  } catch (error) {
    status = Math.max(status, exitStatusFor(error, context));
  }
  return status;
}

function exitStatusFor(error: unknown, context: CliContext): number {
  if (error instanceof CommanderError) {
    // Commander has already printed its message; help and version are not failures.
    return error.exitCode === 0 ? ExitStatus.ok : ExitStatus.usage;
  }
  context.error(error instanceof PreserveError ? error.message : describeError(error), error);
  return error instanceof PreserveError ? error.exitStatus : ExitStatus.problem;
}
