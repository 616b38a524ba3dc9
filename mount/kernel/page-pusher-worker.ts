/**
 * The page pusher's thread (page-pusher.ts): writes each notification it is handed to
 * the FUSE descriptor. A write may wait: the kernel stores the pages under their lock,
 * and a page being read is locked until the mount answers that READ, which the main
 * thread does meanwhile.
 */
import { writevSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { isErrnoException } from '../../src/errors/index.js';
import type { PushBatch } from './page-pusher.js';
import { encodeNotifyStore } from './protocol.js';

const { fd } = workerData as { fd: number };

/**
 * Answers the kernel may give that cost nothing but the push: ENOENT, the kernel no
 * longer holds the node; ENODEV and ECONNABORTED, the connection is over.
 */
const EXPECTED: ReadonlySet<string> = new Set(['ENOENT', 'ENODEV', 'ECONNABORTED']);

parentPort?.on('message', ({ packed, files }: PushBatch) => {
  let offset = 0;
  for (const { node, length } of files) {
    const content = Buffer.from(packed.buffer, packed.byteOffset + offset, length);
    offset += length;
    try {
      writevSync(fd, [encodeNotifyStore(node, 0, length), content]);
    } catch (error) {
      if (!(isErrnoException(error) && EXPECTED.has(error.code ?? ''))) throw error;
    }
  }
});
