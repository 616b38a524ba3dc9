/**
 * What every CLI command shares: printing, reporting per-item problems, and opening the
 * repository from the common options.
 */
import type { Command } from 'commander';
import type { ProblemReporter } from '../commands/index.js';
import { describeError } from '../errors/index.js';
import { type Backend, openBackends } from '../backend/index.js';
import { type Repository, openRepository } from '../repository/index.js';

export interface RepositoryFlags {
  readonly keyfile: string;
  /** Every --backend given, in order; PRESERVE_BACKEND when none is. */
  readonly backend?: string[];
}

export interface OpenOptions {
  /** Only `create` makes a missing backend folder. */
  readonly createIfMissing?: boolean;
  /** With several backends, fail on any backend's failure instead of going on without it (gc). */
  readonly strict?: boolean;
}

/** What run() closes when the command ends: repositories and bare backends. */
interface Closable {
  close?(): Promise<void>;
}

export class CliContext implements ProblemReporter {
  private readonly opened: Closable[] = [];

  constructor(
    /** Print stack traces with errors (--verbose). */
    readonly verbose: boolean,
    private readonly stdout: NodeJS.WritableStream = process.stdout,
    private readonly stderr: NodeJS.WritableStream = process.stderr,
  ) {}

  print(line: string): void {
    this.stdout.write(`${line}\n`);
  }

  warning(message: string): void {
    this.stderr.write(`preserve: warning: ${message}\n`);
  }

  problem(path: string, error: unknown): void {
    this.stderr.write(`preserve: ${path}: ${describeError(error)}\n`);
    if (this.verbose && error instanceof Error && error.stack) this.stderr.write(`${error.stack}\n`);
  }

  /** Opens the repository the flags name; run() closes it when the command ends. */
  async openRepository(flags: RepositoryFlags, options: OpenOptions = {}): Promise<Repository> {
    const repository = await openRepository({
      keyfile: flags.keyfile,
      backends: backendUrls(flags),
      createIfMissing: options.createIfMissing ?? false,
      tolerateFailures: options.strict !== true,
      onWarning: (m) => this.warning(m),
    });
    this.opened.push(repository);
    return repository;
  }

  /** Opens the backends the flags name without a key (key recover); run() closes them. */
  async openBackends(flags: Pick<RepositoryFlags, 'backend'>): Promise<Backend> {
    const backend = await openBackends(backendUrls(flags), { createIfMissing: false, tolerateFailures: true, onWarning: (m) => this.warning(m) });
    this.opened.push(backend);
    return backend;
  }

  /** Releases every repository's and backend's connections, so that the process can end. */
  async closeRepositories(): Promise<void> {
    await Promise.all(this.opened.splice(0).map((opened) => opened.close?.()));
  }
}

export function backendUrls(flags: Pick<RepositoryFlags, 'backend'>): string[] {
  if (flags.backend !== undefined && flags.backend.length > 0) return flags.backend;
  return process.env.PRESERVE_BACKEND ? [process.env.PRESERVE_BACKEND] : [];
}

/** --keyfile, --backend (with their environment defaults) and --verbose, on every command. */
export function withRepositoryFlags(command: Command): Command {
  return withKeyfileFlag(command)
    .option(
      '--backend <url>',
      'where the backups live: a folder path, file:///abs/path, sftp://user@host[:port]/path or s3://bucket/prefix; ' +
        'repeat it to write to several and read from the first good copy (env PRESERVE_BACKEND)',
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    );
}

export function withKeyfileFlag(command: Command): Command {
  return command
    .option('--keyfile <file>', 'the master key file (env PRESERVE_KEYFILE)', process.env.PRESERVE_KEYFILE ?? '')
    .option('-v, --verbose', 'print details, and stack traces with errors');
}
