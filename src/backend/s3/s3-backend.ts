/**
 * A backend in an S3 bucket (AWS, MinIO or any S3-compatible store), keys under a prefix.
 * S3 writes are atomic by nature. Creation is exclusive through a conditional PUT
 * (If-None-Match: *) where the store honours it; a store that ignores it is found by a
 * probe at the first write and gets HEAD-then-PUT instead, which is exclusive within this
 * process but not against another writer racing within one round trip (docs/BACKENDS.md).
 * Retries with backoff are the SDK's, configured in connect.ts.
 */
import { randomBytes } from 'node:crypto';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  type S3ServiceException,
} from '@aws-sdk/client-s3';
import { BackendUnavailableError, ObjectNotFoundError, describeError } from '../../errors/index.js';
import type { Backend, ObjectInfo } from '../backend.js';
import { checkKey } from '../keys.js';

type ExclusiveMode = 'conditional' | 'head-then-put';

/** A conditional PUT that meets another one in flight for the same key is answered 409; it is retried. */
const CONFLICT_RETRIES = 5;

function statusOf(error: unknown): number | undefined {
  return (error as Partial<S3ServiceException>).$metadata?.httpStatusCode;
}

function nameOf(error: unknown): string {
  return error instanceof Error ? error.name : 'Error';
}

export class S3Backend implements Backend {
  private exclusiveMode: Promise<ExclusiveMode> | undefined;
  /** Puts in flight by key, so that concurrent puts of one key in this process make one request. */
  private readonly putsInFlight = new Map<string, Promise<boolean>>();

  constructor(
    readonly location: string,
    private readonly client: S3Client,
    private readonly bucket: string,
    /** '' or a prefix ending in '/'. */
    private readonly prefix: string,
  ) {}

  private objectKey(key: string): string {
    return this.prefix + checkKey(key);
  }

  /** Every S3 failure becomes a typed error naming the backend, with what to check. */
  private translate(what: string, error: unknown): BackendUnavailableError {
    const name = nameOf(error);
    const status = statusOf(error);
    if (name === 'NoSuchBucket') return new BackendUnavailableError(`bucket ${this.bucket} does not exist (${this.location})`, { cause: error });
    if (status === 403 || /InvalidAccessKeyId|SignatureDoesNotMatch|AccessDenied|ExpiredToken|InvalidToken/.test(name)) {
      return new BackendUnavailableError(`${this.location} refused the credentials (${name}): check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or AWS_PROFILE`, { cause: error });
    }
    if (name === 'CredentialsProviderError') {
      return new BackendUnavailableError(`no AWS credentials for ${this.location}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE`, { cause: error });
    }
    if (status === undefined) return new BackendUnavailableError(`cannot reach ${this.location}: ${describeError(error)}`, { cause: error });
    return new BackendUnavailableError(`${this.location}: ${what} failed: ${name} (HTTP ${status}): ${describeError(error)}`, { cause: error });
  }

  private async send<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw this.translate(what, error);
    }
  }

  /** Lists at most one key: proves the bucket exists and the credentials are accepted. */
  async checkAccess(): Promise<void> {
    await this.send('listing', () => this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix, MaxKeys: 1 })));
  }

  async has(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      return true;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw this.translate(`HEAD ${key}`, error);
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      const bytes = (await response.Body?.transformToByteArray()) ?? new Uint8Array(0);
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (error) {
      if (nameOf(error) === 'NoSuchKey') throw new ObjectNotFoundError(key);
      throw this.translate(`GET ${key}`, error);
    }
  }

  put(key: string, data: Uint8Array): Promise<boolean> {
    const objectKey = this.objectKey(key);
    const earlier = this.putsInFlight.get(objectKey);
    if (earlier) return earlier.then(() => false);
    const put = this.putExclusive(key, objectKey, data).finally(() => this.putsInFlight.delete(objectKey));
    this.putsInFlight.set(objectKey, put);
    return put;
  }

  private async putExclusive(key: string, objectKey: string, data: Uint8Array): Promise<boolean> {
    if ((await this.exclusive()) === 'head-then-put') {
      if (await this.has(key)) return false;
      await this.send(`PUT ${key}`, () => this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: objectKey, Body: data })));
      return true;
    }
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: objectKey, Body: data, IfNoneMatch: '*' }));
        return true;
      } catch (error) {
        if (statusOf(error) === 412) return false;
        if (statusOf(error) !== 409 || attempt === CONFLICT_RETRIES) throw this.translate(`PUT ${key}`, error);
      }
    }
  }

  /** Whether the store honours If-None-Match: *, found once by writing a probe object twice. */
  private exclusive(): Promise<ExclusiveMode> {
    this.exclusiveMode ??= this.probeConditionalWrites();
    return this.exclusiveMode;
  }

  private async probeConditionalWrites(): Promise<ExclusiveMode> {
    const key = `${this.prefix}tmp/probe-${randomBytes(8).toString('hex')}`;
    const conditionalPut = () => this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: new Uint8Array(0), IfNoneMatch: '*' }));
    try {
      await conditionalPut();
      await conditionalPut();
      return 'head-then-put';
    } catch (error) {
      const status = statusOf(error);
      if (status === 412) return 'conditional';
      if (status === 501) return 'head-then-put';
      throw this.translate('a test write', error);
    } finally {
      await this.send('removing the test write', () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })));
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    let token: string | undefined;
    do {
      const page = await this.send(`listing ${prefix}`, () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix + prefix, ContinuationToken: token })),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key !== undefined) yield { key: object.Key.slice(this.prefix.length), size: object.Size ?? 0 };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  async delete(key: string): Promise<void> {
    await this.send(`DELETE ${key}`, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) })));
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
