/**
 * prune: deletes the archives a retention policy does not keep, as `borg prune` and
 * `restic forget --keep-…` do, so that nightly backups need no script to thin them out.
 * Archives are judged within their group (same host and same source folder), so that a
 * laptop's backups never count towards a server's. The data they alone used is freed by
 * gc afterwards.
 *
 * Each rule keeps the newest archive of each of its last N periods (the local calendar's
 * hours, days, ISO weeks, months, years; `last` counts archives), newest first. Rules run
 * from the finest to the coarsest, and a period whose newest archive an earlier rule kept
 * is passed over without counting, so `--keep-daily 7 --keep-weekly 4` keeps a week of
 * days and then four weeks before them. When a rule finds fewer than N periods, it keeps
 * the group's oldest archive too: a young backup series keeps its first archive.
 * `within` keeps every archive made in the interval before now, first, and the rules then
 * pass over those too. These are borg's semantics (docs/DESIGN.md "prune").
 */
import type { ArchiveMetadata } from '../archive/index.js';

export const RETENTION_RULES = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const;
export type RetentionRule = (typeof RETENTION_RULES)[number];

/** How many periods of each rule to keep (a rule left out keeps none), and the interval before now in which every archive is kept. */
export type RetentionPolicy = Partial<Record<RetentionRule, number>> & { readonly within?: RetentionInterval };

/** An interval as given (`30d`) and its length. */
export interface RetentionInterval {
  readonly text: string;
  readonly ms: number;
}

type Judged = Pick<ArchiveMetadata, 'name' | 'hostname' | 'sourcePath' | 'createdAtNs'>;

export interface PruneDecision<T extends Judged> {
  readonly archive: T;
  /** Why it is kept ("daily 3": the third period the daily rule kept; "daily, oldest"), or undefined when it goes. */
  readonly keptBy: string | undefined;
}

/** Every archive with the reason it is kept, or none; newest first within each group, groups in order of their newest archive. */
export function judgeArchives<T extends Judged>(archives: readonly T[], policy: RetentionPolicy, nowMs = Date.now()): PruneDecision<T>[] {
  const groups = new Map<string, T[]>();
  for (const archive of [...archives].sort((a, b) => (a.createdAtNs < b.createdAtNs ? 1 : a.createdAtNs > b.createdAtNs ? -1 : 0))) {
    const group = JSON.stringify([archive.hostname, archive.sourcePath]);
    const members = groups.get(group);
    if (members) members.push(archive);
    else groups.set(group, [archive]);
  }
  return [...groups.values()].flatMap((newestFirst) => judgeGroup(newestFirst, policy, nowMs));
}

function judgeGroup<T extends Judged>(newestFirst: readonly T[], policy: RetentionPolicy, nowMs: number): PruneDecision<T>[] {
  const keptBy = new Map<string, string>();
  const { within } = policy;
  if (within) {
    const sinceNs = BigInt(nowMs - within.ms) * 1_000_000n;
    for (const archive of newestFirst) if (archive.createdAtNs >= sinceNs) keptBy.set(archive.name, `within ${within.text}`);
  }
  for (const rule of RETENTION_RULES) {
    const wanted = policy[rule] ?? 0;
    if (wanted === 0) continue;
    let kept = 0;
    let lastPeriod: string | undefined;
    for (const archive of newestFirst) {
      const period = periodOf(rule, archive);
      if (period === lastPeriod) continue;
      lastPeriod = period;
      if (keptBy.has(archive.name)) continue;
      keptBy.set(archive.name, `${rule} ${++kept}`);
      if (kept === wanted) break;
    }
    const oldest = newestFirst.at(-1);
    if (kept < wanted && oldest && !keptBy.has(oldest.name)) keptBy.set(oldest.name, `${rule}, oldest`);
  }
  return newestFirst.map((archive) => ({ archive, keptBy: keptBy.get(archive.name) }));
}

/** The period of the rule an archive falls in, by the local calendar; `last` makes each archive a period of its own. */
function periodOf(rule: RetentionRule, archive: Judged): string {
  const time = new Date(Number(archive.createdAtNs / 1_000_000n));
  const [year, month, day, hour] = [time.getFullYear(), time.getMonth() + 1, time.getDate(), time.getHours()];
  switch (rule) {
    case 'last':
      return archive.name;
    case 'hourly':
      return `${year}-${month}-${day} ${hour}`;
    case 'daily':
      return `${year}-${month}-${day}`;
    case 'weekly':
      return isoWeek(year, month, day);
    case 'monthly':
      return `${year}-${month}`;
    case 'yearly':
      return `${year}`;
  }
}

/** ISO 8601 week ("2026-W49"): weeks start on Monday, and week 1 holds the year's first Thursday. */
function isoWeek(year: number, month: number, day: number): string {
  const date = new Date(Date.UTC(year, month - 1, day));
  const weekday = date.getUTCDay() || 7;
  // The Thursday of this week decides the week's year.
  date.setUTCDate(date.getUTCDate() + 4 - weekday);
  const weekYear = date.getUTCFullYear();
  const week = Math.ceil(((date.getTime() - Date.UTC(weekYear, 0, 1)) / 86_400_000 + 1) / 7);
  return `${weekYear}-W${week}`;
}
