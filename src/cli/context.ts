/**
 * What every CLI command shares: results on stdout, messages through the logger, progress
 * displays, and opening the repository from the common options.
 */
import type { CatalogListing } from '../archive/index.js';
import type { ProblemReporter } from '../commands/index.js';
import { type ProgressListener, noProgress } from '../commands/progress.js';
import { PartialFailureError, describeError } from '../errors/index.js';
import { nameToBytes, shownName } from '../filenames/index.js';
import { type Backend, openBackends } from '../backend/index.js';
import { type Repository, openRepository } from '../repository/index.js';
import type { RepositoryFlags } from './flags.js';
import { type Logger, createLogger, stderrLogger } from './log.js';
import { ProgressDisplay } from './progress.js';

export interface OutputFlags {
  readonly verbose?: boolean;
  readonly quiet?: boolean;
  readonly logfile?: string;
}

/** Seconds between progress lines when stderr is not a terminal. */
const PROGRESS_INTERVAL_SECONDS = Number(process.env.PRESERVE_PROGRESS_INTERVAL ?? 10);

export interface OpenOptions {
  /** Only `create` makes a missing backend folder. */
  readonly createIfMissing?: boolean;
  /** With several backends, fail on any backend's failure instead of going on without it (gc). */
  readonly strict?: boolean;
  /** Block cryptography on worker threads (the mount). */
  readonly cryptoWorkers?: boolean;
  /** Write nothing to the backend (create --dry-run). */
  readonly dryRun?: boolean;
}

/** What run() closes when the command ends: repositories and bare backends. */
interface Closable {
  close?(): Promise<void>;
}

export class CliContext implements ProblemReporter {
  private readonly opened: Closable[] = [];
  private flags: OutputFlags = {};
  private logger: Logger = stderrLogger(false);

  /** Called once the command's options are parsed, before it runs. */
  async configure(flags: OutputFlags): Promise<void> {
    this.flags = flags;
    this.logger = await createLogger({ verbose: flags.verbose === true, logfile: flags.logfile });
  }

  /**
   * A result: always printed (lists, diffs, JSON). Names go out as their bytes, as `find`
   * prints them, so that a script given a path gets the file's own. Messages, read by
   * people, show each byte that is not UTF-8 as its Latin-1 character instead (shownName).
   */
  print(line: string): void {
    process.stdout.write(nameToBytes(`${line}\n`));
  }

  /** A closing summary: printed unless --quiet. */
  summary(line: string): void {
    if (!this.flags.quiet) this.print(line);
  }

  info(message: string): void {
    this.logger.log('info', shownName(message));
  }

  warning(message: string): void {
    this.logger.log('warn', shownName(message));
  }

  problem(path: string, error: unknown): void {
    this.error(`${path}: ${describeError(error)}`, error);
  }

  /** An error message, with the stack trace when --verbose. */
  error(message: string, error: unknown): void {
    this.logger.log('error', shownName(message));
    if (error instanceof Error && error.stack) this.logger.log('debug', error.stack);
  }

  /** A progress display for a long command; stop it when the command ends. */
  progress(label: string, unit: string): ProgressListener & { stop(): void } {
    if (this.flags.quiet) return { ...noProgress, stop: () => undefined };
    return new ProgressDisplay({ label, unit, intervalSeconds: PROGRESS_INTERVAL_SECONDS, stream: process.stderr });
  }

  /** Opens the repository the flags name; run() closes it when the command ends. */
  async openRepository(flags: RepositoryFlags, options: OpenOptions = {}): Promise<Repository> {
    const repository = await openRepository({
      keyfile: flags.keyfile,
      backends: flags.backend ?? [],
      createIfMissing: options.createIfMissing ?? false,
      tolerateFailures: options.strict !== true,
      cryptoWorkers: options.cryptoWorkers === true,
      dryRun: options.dryRun === true,
      onWarning: (m) => this.warning(m),
    });
    this.opened.push(repository);
    return repository;
  }

  /** Opens the backends the flags name without a key (key recover); run() closes them. */
  async openBackends(flags: Pick<RepositoryFlags, 'backend'>): Promise<Backend> {
    const backend = await openBackends(flags.backend ?? [], { createIfMissing: false, tolerateFailures: true, onWarning: (m) => this.warning(m) });
    this.opened.push(backend);
    return backend;
  }

  /** Reports each archive object that could not be read; the archives that could are returned. */
  readableArchives(listing: CatalogListing): CatalogListing['archives'] {
    for (const { key, error } of listing.damaged) this.problem(key, error);
    return listing.archives;
  }

  /** Releases every repository's and backend's connections, so that the process can end. */
  async closeRepositories(): Promise<void> {
    await Promise.all(this.opened.splice(0).map((opened) => opened.close?.()));
  }
}

/** The exit-1 error for a command that finished its work but met damaged archive objects. */
export function damagedArchivesError(count: number): PartialFailureError {
  return new PartialFailureError(`${count} archive ${count === 1 ? 'object is' : 'objects are'} damaged (see above)`);
}
