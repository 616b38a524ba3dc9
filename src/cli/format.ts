/** Human-readable figures for command output. */
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** "1 file", "2 files": a count with its noun. */
export function countOf(count: number, singular: string, plural = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : plural}`;
}

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  // Rates are fractions: a whole number of bytes, not 2.5188916876574305 B/s.
  return unit === 0 ? `${Math.round(bytes)} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** Nanoseconds since the epoch as an ISO 8601 UTC time to the second. */
export function formatTime(ns: bigint): string {
  return new Date(Number(ns / 1_000_000n)).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Columns padded to their widest cell; the last column is not padded. */
export function formatTable(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join('  '));
}

const TYPE_LETTERS = { file: '-', directory: 'd', symlink: 'l' } as const;

/** `ls -l`'s mode column: the type letter, then rwx for owner, group and others, with s/S, s/S and t/T. */
export function modeString(type: keyof typeof TYPE_LETTERS, mode: number): string {
  const triplet = (shift: number, special: number, setLetter: string): string => {
    const bits = mode >> shift;
    const execute = bits & 1 ? (mode & special ? setLetter : 'x') : mode & special ? setLetter.toUpperCase() : '-';
    return `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${execute}`;
  };
  return TYPE_LETTERS[type] + triplet(6, 0o4000, 's') + triplet(3, 0o2000, 's') + triplet(0, 0o1000, 't');
}
