#!/usr/bin/env node
// Runs the compiled uvu suites one file at a time (a crashed file cannot hide the others),
// passes their output through, and ends with one plain line, "N passed, N failed", that
// CI and people can read. Exit status: 0 only when every file ran and nothing failed.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const testDir = join(process.cwd(), 'dist', 'test');
const only = process.argv[2] ? new RegExp(process.argv[2]) : undefined;
const files = readdirSync(testDir).filter((f) => f.endsWith('.test.js') && (!only || only.test(f))).sort();
let passed = 0;
let failed = 0;
for (const file of files) {
  const run = spawnSync(process.execPath, [join(testDir, file)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NO_COLOR: '1' } });
  process.stdout.write(run.stdout);
  const count = (label) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(run.stdout)?.[1] ?? 0);
  const total = count('Total');
  passed += count('Passed');
  failed += total - count('Passed') - count('Skipped');
  if (run.status !== 0 && total === count('Passed')) {
    failed++;
    process.stdout.write(`${file} exited with status ${run.status ?? run.signal}\n`);
  }
}
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exitCode = failed === 0 && files.length > 0 ? 0 : 1;
