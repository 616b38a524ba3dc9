/**
 * commands: what each CLI command does, as library functions taking typed options and a
 * repository, returning results; printing and exit codes belong to src/cli.
 */
export { createArchive, type CreateOptions, type CreateResult } from './create.js';
export { createArchiveFromStream, type StreamCreateOptions } from './create-stream.js';
export { collectGarbage, GcAbortedError, type GcOptions, type GcReport, type KindCounts } from './gc.js';
export { dumpEntry, dumpsAsTar, type DumpSummary } from './dump.js';
export { diffArchives, type Change, type ChangeKind, type ChangedAspect } from './diff.js';
export { archiveEntries, type ListedEntry } from './list-entries.js';
export { EntryFinder } from './find.js';
export { RETENTION_RULES, judgeArchives, type PruneDecision, type RetentionInterval, type RetentionPolicy, type RetentionRule } from './prune.js';
export { renameArchive } from './rename.js';
export { copyArchives, type CopyOutcome } from './copy.js';
export { entryAt } from './selections.js';
export { restoreArchive, type RestoreOptions, type RestoreSummary } from './restore.js';
export { OVERWRITE_POLICIES, type OverwritePolicy } from './restore-policy.js';
export { type RepositoryStats, StatsAbortedError, type Tally, repositoryStats } from './stats.js';
export { scrubRound, type ScrubCounts, type ScrubReport } from './scrub.js';
export { loadScrubState, saveScrubState, type ScrubState } from './scrub-state.js';
export { positionAfter, roundsPerCycle, sliceAt, type Slice } from './scrub-sweep.js';
export { removeCorruptObjects, verifyArchives, type VerifyOptions, type VerifyProblem, type VerifyReport } from './verify.js';
export { noProgress, type ProgressListener } from './progress.js';
export type { ProblemReporter } from './reporting.js';
