/**
 * What scrub remembers between rounds, per key and backend: where the sweep stands and how
 * many rounds have run. A small JSON file in the user's cache folder, replaced atomically
 * (written beside it, then renamed). It only records progress: a missing or unreadable
 * state starts a new sweep, which costs at most one extra cycle before the guarantee holds.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { describeError, isErrnoException } from '../errors/index.js';
import { randomPosition } from './scrub-sweep.js';

const STATE_VERSION = 1;

export interface ScrubState {
  /** Where the next round's slice starts (a 32-bit id prefix). */
  readonly position: number;
  /** Rounds completed so far. */
  readonly rounds: number;
  /** When the last round ended (ISO 8601), if any has. */
  readonly lastRoundAt?: string;
}

export function freshState(): ScrubState {
  return { position: randomPosition(), rounds: 0 };
}

/** The saved state; a fresh one, with a warning, when the file is missing or not understood. */
export async function loadScrubState(path: string, onWarning: (message: string) => void): Promise<ScrubState> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (!(isErrnoException(error) && error.code === 'ENOENT')) onWarning(`cannot read scrub state ${path} (${describeError(error)}); starting a new sweep`);
    return freshState();
  }
  const state = parseState(text);
  if (!state) onWarning(`scrub state ${path} is not understood; starting a new sweep`);
  return state ?? freshState();
}

function parseState(text: string): ScrubState | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { version, position, rounds, lastRoundAt } = value as Record<string, unknown>;
  const isCount = (n: unknown, limit: number): n is number => Number.isSafeInteger(n) && (n as number) >= 0 && (n as number) < limit;
  if (version !== STATE_VERSION || !isCount(position, 2 ** 32) || !isCount(rounds, Number.MAX_SAFE_INTEGER)) return undefined;
  return { position, rounds, ...(typeof lastRoundAt === 'string' ? { lastRoundAt } : {}) };
}

export async function saveScrubState(path: string, state: ScrubState): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify({ version: STATE_VERSION, ...state })}\n`, { mode: 0o600 });
  await rename(temporary, path);
}
