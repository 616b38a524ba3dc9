/**
 * cli: the `preserve` command line. One file per command turns flags into typed options
 * and calls src/commands; this file builds the program and decides the exit status in
 * one place (SPEC §1: 0 ok, 1 a problem was found, 2 bad usage or configuration).
 */
import { Command, CommanderError } from 'commander';
import { ExitStatus, PreserveError, describeError } from '../errors/index.js';
import { CliContext } from './context.js';
import { registerCreate } from './create.js';
import { registerDelete } from './delete.js';
import { registerDiff } from './diff.js';
import { registerGc } from './gc.js';
import { registerKey } from './key.js';
import { registerKeygen } from './keygen.js';
import { registerList } from './list.js';
import { registerMount } from './mount.js';
import { registerRestore } from './restore.js';
import { registerVerify } from './verify.js';

function buildProgram(context: CliContext): Command {
  const program = new Command('preserve')
    .description('encrypted, deduplicating backups that mount read-only through FUSE')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  for (const register of [registerKeygen, registerCreate, registerList, registerRestore, registerVerify, registerDiff, registerMount, registerDelete, registerGc, registerKey]) {
    register(program, context);
  }
  for (const command of program.commands) command.exitOverride();
  return program;
}

export async function run(argv: readonly string[] = process.argv): Promise<number> {
  // Read before parsing, so that even errors commander raises get their stack traces.
  const context = new CliContext(argv.includes('--verbose') || argv.includes('-v'));
  let status: number = ExitStatus.ok;
  try {
    await buildProgram(context).parseAsync(argv);
  } catch (error) {
    status = exitStatusFor(error, context);
  }
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
  const message = error instanceof PreserveError ? error.message : describeError(error);
  process.stderr.write(`preserve: ${message}\n`);
  if (context.verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return error instanceof PreserveError ? error.exitStatus : ExitStatus.problem;
}
