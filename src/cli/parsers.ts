/** Option parsers shared by several commands; each throws commander's InvalidArgumentError. */
import { InvalidArgumentError } from 'commander';

/** A parser of whole numbers from 0 up; its error names the unit when there is one ("of milliseconds"). */
export function wholeNumber(unit?: string): (value: string) => number {
  return (value) => {
    const count = Number(value);
    if (!Number.isSafeInteger(count) || count < 0) throw new InvalidArgumentError(`expected a whole number${unit === undefined ? '' : ` of ${unit}`}`);
    return count;
  };
}

export function parsePercent(value: string): number {
  const percent = Number(value);
  if (!(percent > 0 && percent <= 100)) throw new InvalidArgumentError('expected a percentage greater than 0 and at most 100');
  return percent;
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "500ms", "30s", "15m", "6h", "1d" (a unit is required), as milliseconds. */
export function parseDuration(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(value.trim());
  const ms = match ? Number(match[1]) * (DURATION_UNITS_MS[match[2] as string] as number) : NaN;
  if (!(ms >= 1 && ms <= 2 ** 31 - 1)) throw new InvalidArgumentError('expected a duration such as 30s, 15m, 6h or 1d (at most 24d)');
  return Math.round(ms);
}
