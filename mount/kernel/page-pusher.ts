/**
 * Hands the kernel the content of small files before they are read (FUSE_NOTIFY_STORE),
 * so that tar or cp going through a folder find its files' pages already there and send
 * no READ for them: the folder readahead (folder-readahead.ts) fetches them anyway.
 *
 * The writes happen on a thread of their own. Storing a page waits for its lock, and a
 * page that a reader asked for at the same moment stays locked until the mount answers
 * that READ: written from the thread that answers, the notification would wait for
 * itself, and written from one of libuv's threads, it could hold the thread that the READ
 * needs to fetch its block. The thread stops before the descriptor closes (stop()), so no
 * write can reach a number the process has reused.
 */
import { Worker } from 'node:worker_threads';
import { concatMovable } from '../../src/threads/movable.js';

/** What the thread gets: the files' contents one after the other in one buffer that moves. */
export interface PushBatch {
  readonly packed: Uint8Array;
  readonly files: readonly { readonly node: number; readonly length: number }[];
}

export class PagePusher {
  private readonly worker: Worker;
  private queued: { node: number; content: Buffer }[] = [];
  private stopped: Promise<void> | undefined;

  constructor(fd: number, onFailure: (error: Error) => void) {
    this.worker = new Worker(new URL('./page-pusher-worker.js', import.meta.url), { workerData: { fd } });
    this.worker.on('error', (error) => {
      this.stopped ??= Promise.resolve();
      onFailure(error);
    });
    // Pushing is never a reason to keep the process alive.
    this.worker.unref();
  }

  /** The whole content of the file whose node is `node`; pushed with the others of this turn of the event loop. */
  push(node: number, content: Buffer): void {
    if (this.stopped) return;
    if (this.queued.length === 0) setImmediate(() => this.send());
    this.queued.push({ node, content });
  }

  private send(): void {
    const files = this.queued;
    this.queued = [];
    if (this.stopped || files.length === 0) return;
    const packed = concatMovable(files.map(({ content }) => content));
    const batch: PushBatch = { packed, files: files.map(({ node, content }) => ({ node, length: content.length })) };
    this.worker.postMessage(batch, [packed.buffer as ArrayBuffer]);
  }

  /** Resolves once the thread has stopped: a write under way finishes first (the kernel ends it when the connection ends). */
  stop(): Promise<void> {
    this.stopped ??= this.worker.terminate().then(() => undefined);
    return this.stopped;
  }
}
