/** Option parsers shared by several commands; each throws commander's InvalidArgumentError. */
import { InvalidArgumentError } from 'commander';
import type { RetentionInterval } from '../commands/index.js';

/** A parser of whole numbers from 0 up; its error names the unit when there is one ("of milliseconds"). */
export function wholeNumber(unit?: string): (value: string) => number {
  return (value) => {
    const count = Number(value);
    if (!Number.isSafeInteger(count) || count < 0) throw new InvalidArgumentError(`expected a whole number${unit === undefined ? '' : ` of ${unit}`}`);
    return count;
  };
}

/** A parser of percentages up to 100, above 0, or from 0 with `orZero`. */
export function percentage({ orZero = false } = {}): (value: string) => number {
  return (value) => {
    const percent = value.trim() === '' ? NaN : Number(value);
    if (!(percent <= 100 && (orZero ? percent >= 0 : percent > 0))) throw new InvalidArgumentError(`expected a percentage ${orZero ? 'from 0 to 100' : 'greater than 0 and at most 100'}`);
    return percent;
  };
}

/** `value` as a number (matching the pattern `number`) and one of `units`, times that unit's length; NaN when it is not. */
function inUnits(value: string, number: string, units: Readonly<Record<string, number>>): number {
  const match = new RegExp(`^(${number})(${Object.keys(units).join('|')})$`).exec(value.trim());
  return match ? Number(match[1]) * (units[match[2] as string] as number) : NaN;
}

const DURATION_UNITS_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "500ms", "30s", "15m", "6h", "1d" (a unit is required), as milliseconds. */
export function parseDuration(value: string): number {
  const ms = inUnits(value, '\\d+(?:\\.\\d+)?', DURATION_UNITS_MS);
  if (!(ms >= 1 && ms <= 2 ** 31 - 1)) throw new InvalidArgumentError('expected a duration such as 30s, 15m, 6h or 1d (at most 24d)');
  return Math.round(ms);
}

/** borg's units for --keep-within: hours, days, weeks, months of 31 days, years of 365. */
const INTERVAL_UNITS_MS = { H: 3_600_000, d: 86_400_000, w: 7 * 86_400_000, m: 31 * 86_400_000, y: 365 * 86_400_000 };

/** "24H", "30d", "4w", "6m", "1y" (a whole number from 1), for --keep-within. */
export function parseInterval(value: string): RetentionInterval {
  const ms = inUnits(value, '[1-9]\\d*', INTERVAL_UNITS_MS);
  if (!Number.isSafeInteger(ms)) throw new InvalidArgumentError('expected a whole number and a unit: 24H, 7d, 4w, 6m or 1y');
  return { text: value.trim(), ms };
}
