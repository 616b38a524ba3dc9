/**
 * The SFTP backend against a real OpenSSH server on loopback: the shared contract suite,
 * host key checking, and opening errors.
 */
import { execFile, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openBackend } from '../src/backend/index.js';
import { checkHostKey } from '../src/backend/sftp/known-hosts.js';
import { BackendUnavailableError } from '../src/errors/index.js';
import { runBackendSuite } from './backend-suite.js';
import { sharedServer, startSshServer } from './servers.js';
import { makeTempDir } from './support.js';

const exec = promisify(execFile);

const server = sharedServer(startSshServer);
const sshServer = server.get;
let count = 0;

runBackendSuite('sftp backend', async () => {
  const url = (await sshServer()).backendUrl(`suite-${count++}`);
  const backend = await openBackend(url, { createIfMissing: true });
  return { backend, dispose: async () => backend.close?.() };
});

test('sftp backend: a missing folder is refused unless asked to create it', async () => {
  const url = (await sshServer()).backendUrl('not-yet');
  try {
    await openBackend(url, { createIfMissing: false });
    assert.unreachable('should refuse');
  } catch (error) {
    assert.instance(error, BackendUnavailableError);
    assert.match((error as Error).message, 'does not exist');
  }
  const backend = await openBackend(url, { createIfMissing: true });
  await backend.close?.();
});

test('sftp backend: an unknown or changed host key stops the connection before anything is sent', async () => {
  const started = await sshServer();
  const url = started.backendUrl('host-keys');
  const saved = process.env.PRESERVE_SSH_KNOWN_HOSTS;
  try {
    process.env.PRESERVE_SSH_KNOWN_HOSTS = '/nonexistent/known_hosts';
    const unknown = await openBackend(url, { createIfMissing: true }).then(() => undefined, (error: unknown) => error);
    assert.instance(unknown, BackendUnavailableError);
    assert.match((unknown as Error).message, /not in \/nonexistent\/known_hosts.*ssh-keyscan -p \d+ 127\.0\.0\.1/);
    // The same host and port with another key (the user key stands in for an impostor's host key).
    const [type, key] = (await readFile(`${started.env.PRESERVE_SSH_KEY}.pub`, 'utf8')).split(' ');
    const port = /:(\d+)\//.exec(url)?.[1];
    process.env.PRESERVE_SSH_KNOWN_HOSTS = join(tmpdir(), `preserve-impostor-${process.pid}`);
    await writeFile(process.env.PRESERVE_SSH_KNOWN_HOSTS, `[127.0.0.1]:${port} ${type} ${key}\n`);
    const changed = await openBackend(url, { createIfMissing: true }).then(() => undefined, (error: unknown) => error);
    assert.instance(changed, BackendUnavailableError);
    assert.match((changed as Error).message, /host key of \[127\.0\.0\.1\]:\d+ differs from the one in .*refusing to connect/);
  } finally {
    if (process.env.PRESERVE_SSH_KNOWN_HOSTS !== '/nonexistent/known_hosts') await rm(process.env.PRESERVE_SSH_KNOWN_HOSTS as string, { force: true });
    process.env.PRESERVE_SSH_KNOWN_HOSTS = saved;
  }
});

test('sftp backend: logs in with a key held by an ssh agent', async () => {
  const started = await sshServer();
  const dir = await makeTempDir('agent');
  const socket = join(dir.path, 'agent.sock');
  const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
  const saved = { key: process.env.PRESERVE_SSH_KEY, sock: process.env.SSH_AUTH_SOCK };
  try {
    while (!existsSync(socket)) await new Promise((done) => setTimeout(done, 10));
    await exec('ssh-add', ['-q', started.env.PRESERVE_SSH_KEY as string], { env: { ...process.env, SSH_AUTH_SOCK: socket } });
    delete process.env.PRESERVE_SSH_KEY;
    process.env.SSH_AUTH_SOCK = socket;
    const backend = await openBackend(started.backendUrl('agent'), { createIfMissing: true });
    assert.ok(await backend.put('archives/x', Buffer.from('via the agent')));
    await backend.close?.();
  } finally {
    Object.assign(process.env, { PRESERVE_SSH_KEY: saved.key, SSH_AUTH_SOCK: saved.sock });
    agent.kill();
    await dir.remove();
  }
});

test('known_hosts: plain, bracketed-port, hashed, negated and revoked entries', () => {
  const key = Buffer.from('the-key');
  const other = Buffer.from('another-key');
  const b64 = key.toString('base64');
  const text = [
    '# comment',
    `example.org,10.0.0.1 ssh-ed25519 ${b64}`,
    `[example.org]:2222 ssh-ed25519 ${other.toString('base64')}`,
    // ssh-keygen -H form for "hashed.example": |1|salt|HMAC-SHA1(salt, name)
    `|1|c2FsdHNhbHRzYWx0c2FsdHNhbHQ=|${hashedName('hashed.example')} ssh-ed25519 ${b64}`,
    `*.wild,!bad.wild ssh-ed25519 ${b64}`,
    `@revoked revoked.example ssh-ed25519 ${b64}`,
  ].join('\n');
  assert.is(checkHostKey(text, 'example.org', 22, key), 'known');
  assert.is(checkHostKey(text, 'example.org', 2222, key), 'changed');
  assert.is(checkHostKey(text, 'hashed.example', 22, key), 'known');
  assert.is(checkHostKey(text, 'a.wild', 22, key), 'known');
  assert.is(checkHostKey(text, 'bad.wild', 22, key), 'unknown');
  assert.is(checkHostKey(text, 'revoked.example', 22, key), 'revoked');
  assert.is(checkHostKey(text, 'nowhere', 22, key), 'unknown');
});

function hashedName(name: string): string {
  return createHmac('sha1', Buffer.from('c2FsdHNhbHRzYWx0c2FsdHNhbHQ=', 'base64')).update(name).digest('base64');
}

test.after(server.stop);

test.run();
