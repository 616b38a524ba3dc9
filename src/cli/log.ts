/**
 * Logging for the CLI: human lines on stderr (warnings and problems always, details with
 * --verbose, nothing but those with --quiet) and, with --logfile, every message as a JSON
 * line with a timestamp, through winston.
 *
 * The stderr lines are printed here rather than by winston's Console transport: winston
 * and its dependencies are about 110 module files, 45 ms of every command's start-up with
 * a warm page cache and about 60 ms from a cold one, which the benchmarks pay on each run.
 * They are loaded only when a command is given --logfile.
 */
import type { Logger as WinstonLogger } from 'winston';

export interface LogSettings {
  readonly verbose: boolean;
  readonly logfile?: string;
}

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface Logger {
  log(level: LogLevel, message: string): void;
}

/** Most to least severe, as winston orders its npm levels. */
const SEVERITY: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

/** Every level goes to stderr: stdout carries only results (lists, diffs, JSON). */
export function stderrLogger(verbose: boolean): Logger {
  const threshold = SEVERITY[verbose ? 'debug' : 'warn'];
  return {
    log(level, message) {
      if (SEVERITY[level] > threshold) return;
      process.stderr.write(`preserve: ${level === 'warn' ? 'warning: ' : ''}${message}\n`);
    },
  };
}

export async function createLogger(settings: LogSettings): Promise<Logger> {
  const stderr = stderrLogger(settings.verbose);
  if (!settings.logfile) return stderr;
  const file = await openLogfile(settings.logfile);
  return {
    log(level, message) {
      stderr.log(level, message);
      file.log(level, message);
    },
  };
}

async function openLogfile(filename: string): Promise<WinstonLogger> {
  const { default: winston } = await import('winston');
  const { combine, timestamp, json } = winston.format;
  return winston.createLogger({ transports: [new winston.transports.File({ filename, level: 'debug', format: combine(timestamp(), json()) })] });
}
