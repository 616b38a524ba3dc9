/**
 * The command line's arguments as names (src/filenames): Node decodes argv as UTF-8 and
 * puts U+FFFD in place of bytes that are not, so `preserve restore NAME TARGET caf\xe9`
 * would look for a path that no archive holds. Linux keeps the bytes the process was
 * started with in /proc/self/cmdline; an argument Node mangled is taken from there.
 */
import { readFileSync } from 'node:fs';
import { nameFromBytes } from '../filenames/index.js';

const CMDLINE = '/proc/self/cmdline';

/** This process's arguments, each that holds U+FFFD replaced by its bytes as a name. */
export function argumentsAsNames(): string[] {
  const argv = process.argv;
  if (!argv.some((argument) => argument.includes('\ufffd'))) return argv;
  let cmdline: Buffer;
  try {
    cmdline = readFileSync(CMDLINE);
  } catch {
    // No /proc (a container without it): the arguments stay as Node decoded them, and a
    // path among them is reported as not found, as it would have been anyway.
    return argv;
  }
  return argumentsFromCommandLine(argv, cmdline);
}

/**
 * argv with its user arguments (all but node's and the script's paths) taken from
 * `cmdline`, the kernel's copy, as names. Node's own flags are in cmdline but not in argv:
 * the user's arguments are the last ones of both. Each is checked against Node's decoding
 * of the same bytes, so a mismatch (a runtime that rewrote its arguments) leaves argv as
 * it is.
 */
export function argumentsFromCommandLine(argv: readonly string[], cmdline: Buffer): string[] {
  const raw = splitAtNul(cmdline);
  const userArguments = argv.length - 2;
  if (userArguments <= 0 || raw.length < userArguments) return [...argv];
  const rawArguments = raw.slice(raw.length - userArguments);
  if (rawArguments.some((bytes, k) => bytes.toString('utf8') !== argv[k + 2])) return [...argv];
  return [...argv.slice(0, 2), ...rawArguments.map(nameFromBytes)];
}

/** cmdline's arguments: each ends with a NUL. */
function splitAtNul(cmdline: Buffer): Buffer[] {
  const pieces: Buffer[] = [];
  let start = 0;
  for (let end = cmdline.indexOf(0, start); end !== -1; end = cmdline.indexOf(0, start)) {
    pieces.push(cmdline.subarray(start, end));
    start = end + 1;
  }
  return pieces;
}
