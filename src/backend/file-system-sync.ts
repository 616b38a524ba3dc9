/**
 * syncfs(2) for the file system a folder is on, through coreutils' `sync -f` (node has no
 * binding for it), run by one long-lived shell. Spawning `sync` from the backup process
 * itself forked all of its memory each time: copying and then tearing down its page tables
 * took a quarter of create's CPU. The shell is small, so its forks are cheap.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import type { Socket } from 'node:net';

/** Runs `sync -f "$1"` for each line read, then prints its exit status on a line of its own. */
const SYNC_LOOP = 'while read -r _; do sync -f "$1" 2>&1; echo "sync-status $?"; done';
const STATUS_LINE = /^([\s\S]*?)sync-status (\d+)\n/;

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

export class FileSystemSyncer {
  private child: ChildProcessWithoutNullStreams | undefined;
  private readonly waiting: Waiter[] = [];
  private output = '';

  constructor(private readonly path: string) {}

  /** Resolves once every write to the file system is on disk; rejects with what sync said when it fails. */
  sync(): Promise<void> {
    const child = (this.child ??= this.start());
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      // Waiting for an answer keeps the thread alive; an idle helper does not.
      answers(child).ref();
      child.stdin.write('\n');
    });
  }

  close(): void {
    this.child?.stdin.end();
    this.child = undefined;
  }

  private start(): ChildProcessWithoutNullStreams {
    const child = spawn('sh', ['-c', SYNC_LOOP, 'sh', this.path], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => this.answer(text));
    child.on('error', (error) => this.failAll(error));
    child.on('exit', (code, signal) => this.failAll(new Error(`the sync helper exited (${signal ?? code})`)));
    child.unref();
    answers(child).unref();
    return child;
  }

  private answer(text: string): void {
    this.output += text;
    for (let match = STATUS_LINE.exec(this.output); match; match = STATUS_LINE.exec(this.output)) {
      this.output = this.output.slice(match[0].length);
      const waiter = this.waiting.shift();
      if (match[2] === '0') waiter?.resolve();
      else waiter?.reject(new Error(`sync -f ${this.path} failed: ${(match[1] ?? '').trim() || `status ${match[2]}`}`));
    }
    if (this.waiting.length === 0 && this.child) answers(this.child).unref();
  }

  private failAll(error: Error): void {
    this.child = undefined;
    for (const waiter of this.waiting.splice(0)) waiter.reject(error);
  }
}

/** The helper's stdout: a pipe, which node opens as a socket (so it can be unref'd). */
function answers(child: ChildProcessWithoutNullStreams): Socket {
  return child.stdout as Socket;
}
