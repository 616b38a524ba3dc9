/**
 * A stream to back up as one file: standard input (`create NAME -`), or what a command
 * writes to its standard output (`create NAME --stdin-from-command -- CMD…`). The chunker
 * reads it as it reads a file (ByteSource).
 */
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { ByteSource } from '../chunker/index.js';
import { PartialFailureError, UsageError, describeError } from '../errors/index.js';

export class StreamInput implements ByteSource {
  private readonly pieces: AsyncIterator<Buffer>;
  /** What the last piece holds that no read has taken yet. */
  private unread: Buffer = Buffer.alloc(0);

  /**
   * `whole` settles once the producer has finished: the stream's end counts as the end of
   * the content only if it resolves, so that a command that fails after writing part of its
   * output fails the backup instead of leaving an archive of what it wrote.
   */
  constructor(
    readonly description: string,
    stream: Readable,
    private readonly whole: () => Promise<void> = async () => undefined,
  ) {
    this.pieces = stream[Symbol.asyncIterator]();
  }

  async read(buffer: Buffer, offset: number, length: number): Promise<{ bytesRead: number }> {
    if (this.unread.length === 0) {
      const next = await this.pieces.next().catch((error: unknown) => {
        throw new PartialFailureError(`cannot read ${this.description}: ${describeError(error)}`);
      });
      if (next.done) {
        await this.whole();
        return { bytesRead: 0 };
      }
      this.unread = next.value;
    }
    const bytesRead = this.unread.copy(buffer, offset, 0, Math.min(length, this.unread.length));
    this.unread = this.unread.subarray(bytesRead);
    return { bytesRead };
  }
}

/** This process's standard input; a terminal is refused, as typing a backup is never meant. */
export function standardInput(): StreamInput {
  if (process.stdin.isTTY) throw new UsageError('standard input is a terminal: pipe the data to back up into `preserve create NAME -`');
  return new StreamInput('standard input', process.stdin);
}

/**
 * The standard output of `file` run with `args` (not through a shell), with this process's
 * standard input and error. Its content is whole only if the command exits with status 0.
 */
export function commandOutput(file: string, args: readonly string[]): StreamInput {
  const command = JSON.stringify([file, ...args].join(' '));
  const child = spawn(file, args, { stdio: ['inherit', 'pipe', 'inherit'] });
  // A command whose output can no longer be stored (create interrupted, or failed) is
  // stopped with this process rather than left running for nothing.
  const stop = () => child.kill('SIGTERM');
  process.once('exit', stop);
  child.once('close', () => process.off('exit', stop));
  const exited = new Promise<void>((resolve, reject) => {
    child.on('error', (error: NodeJS.ErrnoException) => {
      reject(new UsageError(`cannot run the command ${command}: ${error.code === 'ENOENT' ? 'no such command' : describeError(error)}`));
    });
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new PartialFailureError(`the command ${command} ${signal ? `was killed by ${signal}` : `exited with status ${code}`}: no archive was made`));
    });
  });
  // Awaited once its output ends; a backup that fails before then reports its own error.
  exited.catch(() => undefined);
  return new StreamInput(`the output of ${command}`, child.stdout, () => exited);
}
