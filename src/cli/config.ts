import type { Command } from 'commander';
import type { LoadedConfig } from '../config/index.js';
import type { CliContext } from './context.js';
import { RETENTION_KEYS, withCacheDirFlag, withCacheSizeFlag, withExcludeFlags, withRepositoryFlags, withRetentionFlags } from './flags.js';
import { formatTable } from './format.js';

const SHOWN = ['keyfile', 'backend', 'exclude', 'excludeFile', 'excludeCaches', 'excludeIfPresent', 'cacheDir', 'cacheSize', ...RETENTION_KEYS] as const;

export function registerConfig(program: Command, context: CliContext, config: LoadedConfig): void {
  const show = program
    .command('config')
    .description('settings from the config file, the environment and the command line')
    .command('show')
    .description('print the effective settings and where each one comes from');
  withRetentionFlags(withCacheSizeFlag(withCacheDirFlag(withExcludeFlags(withRepositoryFlags(show)))))
    .option('--json', 'print a JSON object')
    .action((flags: Record<string, unknown>, command: Command) => {
      const rows = SHOWN.map((key) => ({ key, value: flags[key], source: describeSource(command, key, config) }));
      if (flags.json) {
        context.print(JSON.stringify(Object.fromEntries(rows.map(({ key, value, source }) => [key, { value, source }])), null, 2));
        return;
      }
      const table = rows.map(({ key, value, source }) => [key, Array.isArray(value) ? value.join(' ') : String(value ?? ''), `(${source})`]);
      for (const line of formatTable([['SETTING', 'VALUE', 'FROM'], ...table])) context.print(line);
    });
}

function describeSource(command: Command, key: string, config: LoadedConfig): string {
  const option = command.options.find((candidate) => candidate.attributeName() === key);
  switch (command.getOptionValueSource(key)) {
    case 'cli':
      return 'command line';
    case 'env':
      return `environment ${option?.envVar ?? ''}`.trim();
    case 'config':
      return `config file ${config.path ?? ''}`.trim();
    case 'default':
      return 'default';
    default:
      return 'not set';
  }
}
