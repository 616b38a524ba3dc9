/**
 * config: settings from a JSON file, so that nightly commands need no flags. The
 * precedence is command line, then environment, then this file, then built-in defaults;
 * docs/CONFIG.md lists the keys.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UsageError, describeError, isErrnoException } from '../errors/index.js';

/** What a config file may set. Every key is optional. */
export interface ConfigFile {
  readonly keyfile?: string;
  readonly backend?: string;
  readonly exclude?: readonly string[];
  readonly excludeFile?: readonly string[];
  readonly excludeCaches?: boolean;
  readonly excludeIfPresent?: readonly string[];
  readonly cacheDir?: string;
  /** Memory for decrypted blocks in `mount`, such as "512M". */
  readonly cacheSize?: string;
  /** prune's rules (--keep-last, …), so that a nightly `preserve prune` needs no flags. */
  readonly keepWithin?: string;
  readonly keepLast?: number;
  readonly keepHourly?: number;
  readonly keepDaily?: number;
  readonly keepWeekly?: number;
  readonly keepMonthly?: number;
  readonly keepYearly?: number;
}

type Kind = 'string' | 'strings' | 'count' | 'boolean';
const KEYS: Record<keyof ConfigFile, Kind> = {
  keyfile: 'string',
  backend: 'string',
  exclude: 'strings',
  excludeFile: 'strings',
  excludeCaches: 'boolean',
  excludeIfPresent: 'strings',
  cacheDir: 'string',
  cacheSize: 'string',
  keepWithin: 'string',
  keepLast: 'count',
  keepHourly: 'count',
  keepDaily: 'count',
  keepWeekly: 'count',
  keepMonthly: 'count',
  keepYearly: 'count',
};

const KIND_NAMES: Record<Kind, string> = { string: 'a string', strings: 'a list of strings', count: 'a whole number from 0 up', boolean: 'true or false' };

function fitsKind(value: unknown, kind: Kind): boolean {
  switch (kind) {
    case 'string':
      return typeof value === 'string';
    case 'strings':
      return Array.isArray(value) && value.every((item) => typeof item === 'string');
    case 'count':
      return Number.isSafeInteger(value) && (value as number) >= 0;
    case 'boolean':
      return typeof value === 'boolean';
  }
}

export interface LoadedConfig {
  /** The file read, or undefined when the default file does not exist. */
  readonly path: string | undefined;
  readonly values: ConfigFile;
}

export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'preserve', 'config.json');
}

/**
 * Reads the config file: `explicit` (from --config or PRESERVE_CONFIG) must exist; the
 * default one may be absent. A malformed file is a UsageError naming the file and key.
 */
export async function loadConfig(explicit: string | undefined): Promise<LoadedConfig> {
  const path = explicit ?? defaultConfigPath();
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (explicit === undefined && isErrnoException(error) && error.code === 'ENOENT') return { path: undefined, values: {} };
    throw new UsageError(`cannot read config file ${path}: ${describeError(error)}`, { cause: error });
  }
  return { path, values: parseConfig(text, path) };
}

export function parseConfig(text: string, path: string): ConfigFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`config file ${path} is not valid JSON: ${describeError(error)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`config file ${path} must hold a JSON object of settings`);
  }
  for (const [key, value] of Object.entries(parsed)) {
    const kind = (KEYS as Record<string, Kind | undefined>)[key];
    if (kind === undefined) throw new UsageError(`config file ${path}: unknown key ${JSON.stringify(key)} (known: ${Object.keys(KEYS).join(', ')})`);
    if (!fitsKind(value, kind)) throw new UsageError(`config file ${path}: key ${JSON.stringify(key)} must be ${KIND_NAMES[kind]}`);
  }
  return parsed as ConfigFile;
}

/** Finds `--config FILE` or `--config=FILE` before commander parses, since it sets defaults. */
export function configPathFromArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const [index, arg] of argv.entries()) {
    if (arg === '--config') return argv[index + 1];
    if (arg.startsWith('--config=')) return arg.slice('--config='.length);
  }
  return env.PRESERVE_CONFIG || undefined;
}
