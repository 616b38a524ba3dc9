/**
 * Which objects a scrub round checks. Object ids are SIV outputs, so their first 32 bits
 * are spread uniformly; a round checks the slice of that space that starts where the
 * previous round ended and is `fraction` percent wide. Any ceil(100 / fraction)
 * consecutive rounds therefore cover the whole space: every object that exists through
 * them is checked at least once, whatever is added or removed meanwhile (docs/SCRUB.md).
 */
import { randomInt } from 'node:crypto';

const SPACE = 2 ** 32;

export interface Slice {
  /** First 32-bit id prefix in the slice. */
  readonly start: number;
  /** How many prefixes it spans, 1 to 2^32; it wraps around past 2^32 - 1. */
  readonly width: number;
}

/** Where a new sweep starts: chosen at random, so scrubs on different machines spread out. */
export function randomPosition(): number {
  return randomInt(0, SPACE);
}

export function sliceAt(position: number, fractionPercent: number): Slice {
  return { start: position % SPACE, width: Math.min(SPACE, Math.max(1, Math.ceil((SPACE * fractionPercent) / 100))) };
}

/** Where the round after this slice starts. */
export function positionAfter(slice: Slice): number {
  return (slice.start + slice.width) % SPACE;
}

export function inSlice(idHex: string, slice: Slice): boolean {
  const prefix = Number.parseInt(idHex.slice(0, 8), 16);
  return (prefix - slice.start + SPACE) % SPACE < slice.width;
}

/** Rounds after which every object has been checked at least once: ceil(100 / fraction). */
export function roundsPerCycle(fractionPercent: number): number {
  return Math.ceil(SPACE / sliceAt(0, fractionPercent).width);
}
