/**
 * Typed errors. Each carries the exit status the CLI should end with and a sentence a
 * user can act on; the CLI's main decides exit codes from them in one place, and library
 * code never calls process.exit.
 */

/** SPEC §1 exit statuses. */
export const ExitStatus = {
  ok: 0,
  /** The operation ran but found a problem: corrupt or missing data, unreadable files. */
  problem: 1,
  /** Bad usage or configuration: options, keyfile, backend. */
  usage: 2,
} as const;
export type ExitStatus = (typeof ExitStatus)[keyof typeof ExitStatus];

export class PreserveError extends Error {
  constructor(
    message: string,
    readonly exitStatus: ExitStatus,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad command line or configuration (exit 2). */
export class UsageError extends PreserveError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitStatus.usage, options);
  }
}

/** The keyfile is missing, unreadable or malformed, or it does not match the backend (exit 2). */
export class KeyError extends PreserveError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitStatus.usage, options);
  }
}

/** The backend cannot be opened or reached (exit 2). */
export class BackendUnavailableError extends PreserveError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitStatus.usage, options);
  }
}

/**
 * Storing an object failed: the backend's disk is full, or it refused the write (exit 1).
 * Nothing is left half-written under the object's name.
 */
export class BackendWriteError extends PreserveError {
  constructor(key: string, location: string, cause: unknown) {
    const full = isErrnoException(cause) && (cause.code === 'ENOSPC' || cause.code === 'EDQUOT');
    super(full ? `the backend ${location} is full: storing ${key} failed (${describeError(cause)})` : `cannot store ${key} on ${location}: ${describeError(cause)}`, ExitStatus.problem, { cause });
  }
}

/** An object the caller asked for is not on the backend (exit 1: data is missing). */
export class ObjectNotFoundError extends PreserveError {
  constructor(readonly key: string) {
    super(`object ${key} is missing from the backend`, ExitStatus.problem);
  }
}

/** Ciphertext did not authenticate under the key: corrupt, tampered, or another key (exit 1). */
export class AuthenticationError extends PreserveError {
  constructor(what: string) {
    super(`${what} failed authentication (corrupt, tampered with, or written with another key)`, ExitStatus.problem);
  }
}

/** A decrypted object does not follow docs/FORMAT.md (exit 1). */
export class FormatError extends PreserveError {
  constructor(what: string, detail: string) {
    super(`${what} is malformed: ${detail}`, ExitStatus.problem);
  }
}

/** The operation finished but some items were reported and left out (exit 1). */
export class PartialFailureError extends PreserveError {
  constructor(message: string) {
    super(message, ExitStatus.problem);
  }
}

/** One object's damage: missing, failing authentication, or not in the format: what a second copy or another archive may not share. */
export function isDamagedObject(error: unknown): error is ObjectNotFoundError | AuthenticationError | FormatError {
  return error instanceof ObjectNotFoundError || error instanceof AuthenticationError || error instanceof FormatError;
}

/** Node's system errors carry a code such as ENOENT; this narrows to them. */
export function isErrnoException(error: unknown): error is NodeJS.ErrnoException {
  const code = error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code);
}

/** A one-line description of any error for reports about a single path. */
export function describeError(error: unknown): string {
  if (error instanceof PreserveError) return error.message;
  if (isErrnoException(error)) {
    const code = error.code ?? 'error';
    return `${code}: ${error.message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '')}`;
  }
  return error instanceof Error ? error.message : String(error);
}
