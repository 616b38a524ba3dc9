/**
 * Runs scripts/e2e, the end-to-end scenario (a series of backups with changes between
 * them, each restored and copied out of a mount, compared with the source at backup
 * time), so that CI runs it with the rest of the suite. It needs root and /dev/fuse.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mustRunMountTests } from './mount-support.js';
import { PROJECT_ROOT } from './support.js';

const script = join(PROJECT_ROOT, 'scripts', 'e2e');

(mustRunMountTests ? test : test.skip)('scripts/e2e ends with its PASS line and exit status 0', async () => {
  const { status, stdout, stderr } = await new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
    execFile(script, { maxBuffer: 16 * 1024 * 1024 }, (error, out, err) => resolve({ status: error ? Number(error.code ?? 1) : 0, stdout: out, stderr: err }));
  });
  const lines = stdout.trim().split('\n');
  assert.is(status, 0, `${stdout}\n${stderr}`);
  assert.match(lines.at(-1) ?? '', /^e2e: PASS — 5 archives, each restored, dumped as tar and copied out of the mount, match the source at backup time$/);
  assert.is(lines.filter((line) => /^e2e: (PASS|FAIL)/.test(line)).length, 1, 'exactly one verdict line');
});

test.run();
