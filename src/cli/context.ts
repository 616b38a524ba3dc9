/**
 * What every CLI command shares: printing, reporting per-item problems, and opening the
 * repository from the common options.
 */
import type { Command } from 'commander';
import type { CatalogListing } from '../archive/index.js';
import type { ProblemReporter } from '../commands/index.js';
import { PartialFailureError, describeError } from '../errors/index.js';
import { type Repository, openRepository } from '../repository/index.js';

export interface RepositoryFlags {
  readonly keyfile: string;
  readonly backend: string;
}

export class CliContext implements ProblemReporter {
  constructor(
    /** Print stack traces with errors (--verbose). */
    readonly verbose: boolean,
    private readonly stdout: NodeJS.WritableStream = process.stdout,
    private readonly stderr: NodeJS.WritableStream = process.stderr,
  ) {}

  print(line: string): void {
    this.stdout.write(`${line}\n`);
  }

  info(message: string): void {
    if (this.verbose) this.stderr.write(`preserve: ${message}\n`);
  }

  warning(message: string): void {
    this.stderr.write(`preserve: warning: ${message}\n`);
  }

  problem(path: string, error: unknown): void {
    this.stderr.write(`preserve: ${path}: ${describeError(error)}\n`);
    if (this.verbose && error instanceof Error && error.stack) this.stderr.write(`${error.stack}\n`);
  }

  /** Reports each archive object that could not be read; the archives that could are returned. */
  readableArchives(listing: CatalogListing): CatalogListing['archives'] {
    for (const { key, error } of listing.damaged) this.problem(key, error);
    return listing.archives;
  }

  openRepository(flags: RepositoryFlags, createIfMissing = false): Promise<Repository> {
    return openRepository({ keyfile: flags.keyfile, backend: flags.backend, createIfMissing, onWarning: (m) => this.warning(m) });
  }
}

/** --keyfile, --backend (with their environment defaults) and --verbose, on every command. */
export function withRepositoryFlags(command: Command): Command {
  return withKeyfileFlag(command)
    .option('--backend <url>', 'where the backups live: file:///abs/path or a folder path (env PRESERVE_BACKEND)', process.env.PRESERVE_BACKEND ?? '');
}

export function withKeyfileFlag(command: Command): Command {
  return command
    .option('--keyfile <file>', 'the master key file (env PRESERVE_KEYFILE)', process.env.PRESERVE_KEYFILE ?? '')
    .option('-v, --verbose', 'print details, and stack traces with errors');
}

/** The exit-1 error for a command that finished its work but met damaged archive objects. */
export function damagedArchivesError(count: number): PartialFailureError {
  return new PartialFailureError(`${count} archive ${count === 1 ? 'object is' : 'objects are'} damaged (see above)`);
}
