/**
 * Opens `s3://bucket[/prefix]` with the AWS SDK's usual configuration: credentials from
 * AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and ~/.aws; region from AWS_REGION
 * or the profile. AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL points at another S3-compatible
 * store (MinIO and the like), which is then addressed path-style. Loaded lazily by
 * open.ts, so that only S3 users load the SDK.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { BackendUnavailableError, UsageError } from '../../errors/index.js';
import type { Backend } from '../backend.js';
import { S3Backend } from './s3-backend.js';

/** Attempts per request (the SDK's standard retry: exponential backoff with jitter on throttling, 5xx and network errors). */
const DEFAULT_MAX_ATTEMPTS = 6;
/** Requests in flight at once; create and restore keep several files moving. */
const MAX_SOCKETS = 64;

function parseS3Url(url: string): { bucket: string; prefix: string; location: string } {
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/i.exec(url);
  const bucket = match?.[1];
  if (bucket === undefined) throw new UsageError(`backend URL ${url} is not of the form s3://bucket[/prefix]`);
  const path = (match?.[2] ?? '').replace(/\/+$/, '');
  return { bucket, prefix: path === '' ? '' : `${path}/`, location: `s3://${bucket}${path === '' ? '' : `/${path}`}` };
}

export async function openS3Backend(url: string): Promise<Backend> {
  const { bucket, prefix, location } = parseS3Url(url);
  const backend = new S3Backend(location, makeClient(), bucket, prefix);
  try {
    await backend.checkAccess();
  } catch (error) {
    await backend.close();
    if (error instanceof BackendUnavailableError && /Region is missing/i.test(error.message)) {
      throw new UsageError(`no AWS region for ${location}: set AWS_REGION (any value will do for a MinIO endpoint)`);
    }
    throw error;
  }
  return backend;
}

function makeClient(): S3Client {
  const endpoint = process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? (endpoint ? 'us-east-1' : undefined);
  return new S3Client({
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    ...(region ? { region } : {}),
    // Without AWS_MAX_ATTEMPTS (which the SDK reads itself), more patience than its default of 3.
    ...(process.env.AWS_MAX_ATTEMPTS ? {} : { maxAttempts: DEFAULT_MAX_ATTEMPTS }),
    requestHandler: { httpAgent: { keepAlive: true, maxSockets: MAX_SOCKETS }, httpsAgent: { keepAlive: true, maxSockets: MAX_SOCKETS } },
  });
}
