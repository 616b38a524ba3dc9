import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { cacheFolder } from '../cache/index.js';
import { type ScrubReport, loadScrubState, positionAfter, roundsPerCycle, saveScrubState, scrubRound, sliceAt } from '../commands/index.js';
import { PartialFailureError } from '../errors/index.js';
import type { Repository } from '../repository/index.js';
import type { CliContext } from './context.js';
import { type RepositoryFlags, withCacheDirFlag, withRepositoryFlags } from './flags.js';
import { countOf } from './format.js';
import { parseDuration, percentage } from './parsers.js';

interface ScrubFlags extends RepositoryFlags {
  readonly interval: number;
  readonly fraction: number;
  readonly once?: boolean;
  readonly cacheDir?: string;
}

export function registerScrub(program: Command, context: CliContext): void {
  const command = program.command('scrub').description('check the backups actively: each round authenticates a slice of all objects and spot-checks every archive');
  withCacheDirFlag(withRepositoryFlags(command))
    .option('--fraction <percent>', 'share of all blocks and folders checked per round; each is checked at least every ceil(100/percent) rounds', percentage(), 5)
    .option('--interval <duration>', 'pause between rounds, such as 30m, 6h or 1d', parseDuration, 86_400_000)
    .option('--once', 'run one round and exit: 0 when all is well, 1 when anything is damaged or missing')
    .action(async (flags: ScrubFlags) => {
      const repository = await context.openRepository(flags);
      const statePath = join(cacheFolder(flags.cacheDir), 'scrub', `${repository.identity}.json`);
      const stop = new AbortController();
      const onSignal = (): void => stop.abort();
      process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
      let problems = 0;
      try {
        while (!stop.signal.aborted) {
          problems += await runRound(repository, statePath, flags.fraction, context, stop.signal);
          if (flags.once) break;
          await sleep(flags.interval, undefined, { signal: stop.signal }).catch(() => undefined);
        }
      } finally {
        process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      }
      if (problems > 0) throw new PartialFailureError(`scrub found ${countOf(problems, 'damaged or missing object')} (see above)`);
    });
}

/** One round from the saved position; the position moves on only when the round completes. */
async function runRound(repository: Repository, statePath: string, fraction: number, context: CliContext, stop: AbortSignal): Promise<number> {
  const state = await loadScrubState(statePath, (message) => context.warning(message));
  const slice = sliceAt(state.position, fraction);
  const report = await scrubRound(repository, slice, context, stop);
  if (stop.aborted) {
    context.print(`scrub: round ${state.rounds + 1} interrupted; the next run checks its slice again`);
    return report.problems;
  }
  await saveScrubState(statePath, { position: positionAfter(slice), rounds: state.rounds + 1, lastRoundAt: new Date().toISOString() });
  context.print(describeRound(state.rounds + 1, report, fraction, slice.start));
  return report.problems;
}

function describeRound(round: number, report: ScrubReport, fraction: number, start: number): string {
  const { blocks, trees } = report;
  return (
    `scrub: round ${round}: ${blocks.checked} of ${blocks.total} blocks and ${trees.checked} of ${trees.total} folders ` +
    `(${fraction}% from ${start.toString(16).padStart(8, '0')}), ${countOf(report.archives, 'archive')} with ${countOf(report.spotChecked, 'block')} spot-checked; ` +
    `${countOf(report.problems, 'problem')}; every object is checked at least once every ${countOf(roundsPerCycle(fraction), 'round')}`
  );
}
