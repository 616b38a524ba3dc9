/** How long-running commands tell the CLI how far they are; the CLI decides how to show it. */
export interface ProgressListener {
  /** The expected totals, when known (they may arrive after work has started). */
  expect(files: number, bytes: number): void;
  /** Work done since the last call. */
  advance(files: number, bytes: number): void;
}

/** For callers that show no progress. */
export const noProgress: ProgressListener = { expect: () => undefined, advance: () => undefined };
