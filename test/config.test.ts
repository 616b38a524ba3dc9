/** The config file: precedence (command line > environment > file > default), use by commands, and malformed files. */
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeTestRepo } from './cli-support.js';
import { makeTempDir, runPreserve } from './support.js';

test('commands take keyfile, backend and excludes from the config file', async () => {
  const repo = await makeTestRepo('config-use');
  try {
    const config = join(repo.dir, 'config.json');
    await writeFile(config, JSON.stringify({ keyfile: repo.keyfile, backend: repo.backend, exclude: ['*.bin'], excludeIfPresent: ['.nobackup'], excludeCaches: false }));
    await writeFile(join(repo.source, 'dir with spaces', '.nobackup'), '');
    const created = await runPreserve(['create', '--config', config, 'nightly', repo.source, '--exclude', 'docs']);
    assert.is(created.status, 0, created.stderr);
    const listed = await runPreserve(['list', '--json'], { PRESERVE_CONFIG: config });
    assert.is(listed.status, 0, listed.stderr);
    assert.equal((JSON.parse(listed.stdout) as { name: string }[]).map((a) => a.name), ['nightly']);
    const target = join(repo.dir, 'out');
    assert.is((await runPreserve(['restore', '--config', config, 'nightly', target])).status, 0);
    const names = await readdir(target);
    assert.not.ok(names.includes('big.bin'), 'config exclude applied');
    assert.not.ok(names.includes('docs'), 'command-line exclude applied too');
    assert.not.ok(names.includes('dir with spaces'), 'config excludeIfPresent applied');
    assert.ok(names.includes('empty'));
  } finally {
    await repo.remove();
  }
});

test('config show: the command line beats the environment, which beats the file', async () => {
  const dir = await makeTempDir('config-show');
  try {
    const config = join(dir.path, 'config.json');
    await writeFile(config, JSON.stringify({ keyfile: '/from/file', backend: '/from/file', cacheDir: '/from/file', cacheSize: '1G' }));
    const result = await runPreserve(['config', 'show', '--json', '--config', config, '--keyfile', '/from/cli'], { PRESERVE_BACKEND: '/from/env', PRESERVE_KEYFILE: '/from/env' });
    assert.is(result.status, 0, result.stderr);
    const shown = JSON.parse(result.stdout) as Record<string, { value: unknown; source: string }>;
    assert.equal(shown.keyfile, { value: '/from/cli', source: 'command line' });
    // --backend is repeatable, so its value is a list even from one source.
    assert.equal(shown.backend, { value: ['/from/env'], source: 'environment PRESERVE_BACKEND' });
    // The test runner sets PRESERVE_CACHE_DIR, which beats the file's cacheDir.
    assert.is(shown.cacheDir?.source, 'environment PRESERVE_CACHE_DIR');
    assert.equal(shown.cacheSize, { value: 1024 ** 3, source: `config file ${config}` });
    assert.equal(shown.excludeFile, { value: [], source: 'default' });
  } finally {
    await dir.remove();
  }
});

test("prune takes its rules from the config file (keepLast, …); a --keep-… flag replaces the file's", async () => {
  const repo = await makeTestRepo('config-prune');
  try {
    const config = join(repo.dir, 'config.json');
    await writeFile(config, JSON.stringify({ keyfile: repo.keyfile, backend: repo.backend, keepLast: 1 }));
    for (const name of ['one', 'two', 'three']) {
      const created = await runPreserve(['create', '--config', config, name, join(repo.source, 'docs')]);
      assert.is(created.status, 0, created.stderr);
    }
    const fromFile = await runPreserve(['prune', '--config', config, '--dry-run']);
    assert.is(fromFile.status, 0, fromFile.stderr);
    assert.match(fromFile.stdout, /^keep {4}\S+ {2}three {2}\(last 1\)$/m);
    assert.match(fromFile.stdout, /^would delete 2 archives, kept 1$/m);
    const fromFlag = await runPreserve(['prune', '--config', config, '--keep-last', '2']);
    assert.is(fromFlag.status, 0, fromFlag.stderr);
    assert.match(fromFlag.stdout, /^deleted 1 archive; /m);
    const listed = await runPreserve(['list', '--json', '--config', config]);
    assert.equal((JSON.parse(listed.stdout) as { name: string }[]).map((a) => a.name).sort(), ['three', 'two']);
    const shown = JSON.parse((await runPreserve(['config', 'show', '--json', '--config', config])).stdout) as Record<string, { value: unknown; source: string }>;
    assert.equal(shown.keepLast, { value: 1, source: `config file ${config}` });
    assert.equal(shown.keepDaily, { source: 'not set' });
  } finally {
    await repo.remove();
  }
});

test('a malformed config file names the file and the key, exit 2', async () => {
  const dir = await makeTempDir('config-bad');
  try {
    const cases: [string, RegExp][] = [
      ['{"keyfile": 3}', /key "keyfile" must be a string/],
      ['{"exclude": "*.tmp"}', /key "exclude" must be a list of strings/],
      ['{"colour": "blue"}', /unknown key "colour"/],
      ['{"cacheSize": "tiny"}', /key "cacheSize": expected a size of at least 1 MiB/],
      ['{"keepDaily": -1}', /key "keepDaily" must be a whole number from 0 up/],
      ['{"keepDaily": 1.5}', /key "keepDaily" must be a whole number from 0 up/],
      ['{"keepDaily": "7"}', /key "keepDaily" must be a whole number from 0 up/],
      ['{"keepWithin": "7"}', /key "keepWithin": expected a whole number and a unit: 24H, 7d, 4w, 6m or 1y/],
      ['{"excludeCaches": "yes"}', /key "excludeCaches" must be true or false/],
      ['{not json', /is not valid JSON/],
      ['[1, 2]', /must hold a JSON object/],
    ];
    for (const [content, message] of cases) {
      const config = join(dir.path, 'config.json');
      await writeFile(config, content);
      const result = await runPreserve(['list', '--config', config]);
      assert.is(result.status, 2, content);
      assert.match(result.stderr, new RegExp(`config file ${config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      assert.match(result.stderr, message);
    }
    const missing = await runPreserve(['list', '--config', join(dir.path, 'absent.json')]);
    assert.is(missing.status, 2);
    assert.match(missing.stderr, /cannot read config file .*absent\.json: ENOENT/);
  } finally {
    await dir.remove();
  }
});

test.run();
