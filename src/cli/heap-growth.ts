import { setFlagsFromString } from 'node:v8';

/** How much a V8 heap may grow past what the last full collection left (V8's default lets it reach up to 4×). */
const HEAP_GROWING_PERCENT = 50;

/**
 * For commands whose garbage lives long enough to reach the old generation: create's tree
 * entries, chunk lists and messages piled up to 160 MiB on the main thread, and a dump of
 * a folder of 300,000 files grew from 183 to 605 MB with no full collection between.
 * 1.5× costs a few more collections (docs/DESIGN.md "Memory of create", "dump").
 */
export function boundHeapGrowth(): void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
