/**
 * What every CLI command shares: printing, reporting per-item problems, and opening the
 * repository from the common options.
 */
import type { ProblemReporter } from '../commands/index.js';
import { describeError } from '../errors/index.js';
import { type Repository, openRepository } from '../repository/index.js';

import type { RepositoryFlags } from './flags.js';

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

  openRepository(flags: RepositoryFlags, createIfMissing = false): Promise<Repository> {
    return openRepository({ keyfile: flags.keyfile, backend: flags.backend, createIfMissing, onWarning: (m) => this.warning(m) });
  }
}
