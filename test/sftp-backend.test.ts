/**
 * The SFTP backend against a real OpenSSH server on loopback: the shared contract suite,
 * host key checking, and opening errors.
 */
import { createHmac } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openBackend } from '../src/backend/index.js';
import { checkHostKey } from '../src/backend/sftp/known-hosts.js';
import { BackendUnavailableError } from '../src/errors/index.js';
import { runBackendSuite } from './backend-suite.js';
import { type TestServer, startSshServer } from './servers.js';

let server: Promise<TestServer> | undefined;
let count = 0;

/** One sshd for the whole file, started by the first test that needs it. */
async function sshServer(): Promise<TestServer> {
  server ??= startSshServer().then((started) => {
    Object.assign(process.env, started.env);
    return started;
  });
  return server;
}

async function withBackendAt<T>(label: string, createIfMissing: boolean, body: (url: string) => Promise<T>): Promise<T> {
  const url = (await sshServer()).backendUrl(label);
  return body(url);
}

runBackendSuite('sftp backend', async () => {
  const url = (await sshServer()).backendUrl(`suite-${count++}`);
  const backend = await openBackend(url, { createIfMissing: true });
  return { backend, dispose: async () => backend.close?.() };
});

test('sftp backend: a missing folder is refused unless asked to create it', () =>
  withBackendAt('not-yet', false, async (url) => {
    try {
      await openBackend(url, { createIfMissing: false });
      assert.unreachable('should refuse');
    } catch (error) {
      assert.instance(error, BackendUnavailableError);
      assert.match((error as Error).message, 'does not exist');
    }
    const backend = await openBackend(url, { createIfMissing: true });
    await backend.close?.();
  }));

test('sftp backend: an unknown or changed host key stops the connection before anything is sent', async () => {
  const started = await sshServer();
  const url = started.backendUrl('host-keys');
  const saved = process.env.PRESERVE_SSH_KNOWN_HOSTS;
  try {
    process.env.PRESERVE_SSH_KNOWN_HOSTS = '/nonexistent/known_hosts';
    const unknown = await openBackend(url, { createIfMissing: true }).then(() => undefined, (error: unknown) => error);
    assert.instance(unknown, BackendUnavailableError);
    assert.match((unknown as Error).message, /not in \/nonexistent\/known_hosts.*ssh-keyscan -p \d+ 127\.0\.0\.1/);
  } finally {
    process.env.PRESERVE_SSH_KNOWN_HOSTS = saved;
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

test.after(async () => {
  await (await server)?.stop();
});

test.run();
