/**
 * Logging for the CLI, on winston: human lines on stderr (warnings and problems always,
 * details with --verbose, nothing but those with --quiet) and, with --logfile, every
 * message as a JSON line with a timestamp.
 */
import winston from 'winston';

export interface LogSettings {
  readonly verbose: boolean;
  readonly logfile?: string;
}

const consoleLine = winston.format.printf(({ level, message }) => `preserve: ${level === 'warn' ? 'warning: ' : ''}${String(message)}`);

export function createLogger(settings: LogSettings): winston.Logger {
  const transports: winston.transport[] = [
    new winston.transports.Console({
      level: settings.verbose ? 'debug' : 'warn',
      // Every level goes to stderr: stdout carries only results (lists, diffs, JSON).
      stderrLevels: ['error', 'warn', 'info', 'debug'],
      format: consoleLine,
    }),
  ];
  if (settings.logfile) {
    transports.push(
      new winston.transports.File({ filename: settings.logfile, level: 'debug', format: winston.format.combine(winston.format.timestamp(), winston.format.json()) }),
    );
  }
  return winston.createLogger({ transports });
}
