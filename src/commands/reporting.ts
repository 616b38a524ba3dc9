/**
 * How commands tell the CLI about problems with single items without stopping: the
 * caller decides how to print them; the command counts them for its exit status.
 */
export interface ProblemReporter {
  /** Progress worth a line with --verbose; nothing is wrong. */
  info(message: string): void;
  /** Something was not done as asked but nothing is lost (a socket skipped, a loop cut). */
  warning(message: string): void;
  /** An item could not be processed and was left out; the run will end with exit 1. */
  problem(path: string, error: unknown): void;
}
