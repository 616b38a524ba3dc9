/**
 * The S3 backend against a real S3-compatible server (s3rver) on loopback: the shared
 * contract suite, and the clear errors for a missing bucket and refused credentials.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openBackend } from '../src/backend/index.js';
import { BackendUnavailableError } from '../src/errors/index.js';
import { runBackendSuite } from './backend-suite.js';
import { sharedServer, startS3Server } from './servers.js';

const server = sharedServer(startS3Server);
const s3Server = server.get;
let count = 0;

runBackendSuite('s3 backend', async () => {
  const url = (await s3Server()).backendUrl(`suite-${count++}`);
  const backend = await openBackend(url, { createIfMissing: true });
  return { backend, dispose: async () => backend.close?.() };
});

async function openError(url: string): Promise<Error> {
  return openBackend(url, { createIfMissing: true }).then(
    () => assert.unreachable('should refuse') as never,
    (error: Error) => error,
  );
}

test('s3 backend: a missing bucket is a clear configuration error', async () => {
  await s3Server();
  const error = await openError('s3://no-such-bucket/x');
  assert.instance(error, BackendUnavailableError);
  assert.match(error.message, 'bucket no-such-bucket does not exist');
});

test('s3 backend: refused credentials are a clear configuration error', async () => {
  const started = await s3Server();
  const saved = process.env.AWS_ACCESS_KEY_ID;
  try {
    process.env.AWS_ACCESS_KEY_ID = 'WRONG';
    const error = await openError(started.backendUrl('creds'));
    assert.instance(error, BackendUnavailableError);
    assert.match(error.message, /refused the credentials \(InvalidAccessKeyId\)/);
  } finally {
    process.env.AWS_ACCESS_KEY_ID = saved;
  }
});

test.after(server.stop);

test.run();
