/**
 * Progress on stderr: a live bar (cli-progress) on a terminal; otherwise a plain line every
 * few seconds and one at the end, which logs and CI output can keep. Nothing with --quiet.
 */
import type { SingleBar } from 'cli-progress';
import { createRequire } from 'node:module';
import type { ProgressListener } from '../commands/progress.js';
import { countOf, formatBytes } from './format.js';

export interface ProgressStyle {
  /** "create", "restore", "verify". */
  readonly label: string;
  /** What the file count counts, in the singular: "file" or "block". */
  readonly unit: string;
  /** Seconds between plain lines when stderr is not a terminal. */
  readonly intervalSeconds: number;
  readonly stream: NodeJS.WriteStream;
}

export class ProgressDisplay implements ProgressListener {
  private files = 0;
  private bytes = 0;
  private expected: { files: number; bytes: number } | undefined;
  private readonly started = Date.now();
  private readonly bar: SingleBar | undefined;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(private readonly style: ProgressStyle) {
    if (style.stream.isTTY) {
      // Loaded for a terminal only: it costs about 30 ms of start-up, which a nightly run
      // from cron or a script (no terminal) would pay for nothing.
      const { SingleBar: Bar } = createRequire(import.meta.url)('cli-progress') as typeof import('cli-progress');
      this.bar = new Bar({ stream: style.stream, format: `${style.label} {bar} {percentage}% | {summary}`, hideCursor: true, clearOnComplete: true });
      this.bar.start(1, 0, { summary: this.summary() });
    } else {
      this.timer = setInterval(() => this.printLine(), style.intervalSeconds * 1000).unref();
    }
  }

  expect(files: number, bytes: number): void {
    this.expected = { files, bytes };
    this.bar?.setTotal(Math.max(bytes, 1));
  }

  advance(files: number, bytes: number): void {
    this.files += files;
    this.bytes += bytes;
    this.bar?.update(this.bytes, { summary: this.summary() });
  }

  /** Ends the display; off a terminal, a last line says where it ended, if it got anywhere. */
  stop(): void {
    if (this.bar) this.bar.stop();
    else {
      clearInterval(this.timer);
      if (this.files > 0 || this.bytes > 0) this.printLine();
    }
  }

  private printLine(): void {
    this.style.stream.write(`preserve: ${this.style.label}: ${this.summary()}\n`);
  }

  private summary(): string {
    const seconds = Math.max((Date.now() - this.started) / 1000, 0.001);
    const rate = this.bytes / seconds;
    const expected = this.expected;
    // "1 file", "2 files", "1 of 2 files": the noun goes with the last number.
    const counted = expected ? `${this.files} of ${countOf(expected.files, this.style.unit)}` : countOf(this.files, this.style.unit);
    const bytesOf = expected ? ` of ${formatBytes(expected.bytes)}` : '';
    const eta = expected && rate > 0 && expected.bytes > this.bytes ? `, ETA ${formatDuration((expected.bytes - this.bytes) / rate)}` : '';
    return `${counted}, ${formatBytes(this.bytes)}${bytesOf}, ${formatBytes(rate)}/s${eta}`;
  }
}

function formatDuration(seconds: number): string {
  const whole = Math.ceil(seconds);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${Math.floor(whole / 3600)}:${pad(Math.floor(whole / 60) % 60)}:${pad(whole % 60)}`;
}
