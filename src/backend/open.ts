/**
 * Turns backend URLs from the command line into a Backend: `file:///abs/path` or a bare
 * path, `sftp://user@host[:port]/path`, `s3://bucket/prefix`. The SSH and AWS libraries
 * are loaded only when such a URL is given. `create` may make a missing folder; every
 * other command requires it. Several URLs make one MirrorBackend.
 */
import { mkdir, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BackendUnavailableError, UsageError, describeError, isErrnoException } from '../errors/index.js';
import type { Backend } from './backend.js';
import { FileBackend } from './file-backend.js';
import { type MirrorMember, MirrorBackend } from './mirror-backend.js';

export interface OpenBackendOptions {
  /** Make the backend folder when it does not exist (only `create` does). */
  readonly createIfMissing: boolean;
}

export interface OpenBackendsOptions extends OpenBackendOptions {
  /** With several backends: go on without one that cannot be opened or fails later (not for gc). */
  readonly tolerateFailures: boolean;
  readonly onWarning: (message: string) => void;
}

/** One backend, or several as a MirrorBackend in the order given (reads prefer the first). */
export async function openBackends(urls: readonly string[], options: OpenBackendsOptions): Promise<Backend> {
  const [first, ...others] = urls;
  if (first === undefined) throw new UsageError('no backend given: pass --backend URL or set PRESERVE_BACKEND');
  if (others.length === 0) return openBackend(first, options);
  if (new Set(urls).size !== urls.length) throw new UsageError('the same --backend is given twice');
  const opened = await Promise.allSettled(urls.map((url) => openBackend(url, options)));
  const members: MirrorMember[] = opened.map((result, index) =>
    result.status === 'fulfilled' ? { location: result.value.location, backend: result.value } : { location: urls[index] as string, failure: result.reason },
  );
  const failed = members.flatMap((m) => ('failure' in m ? [m] : []));
  const fatal = failed.find((m) => !options.tolerateFailures || m.failure instanceof UsageError || failed.length === members.length);
  if (fatal) {
    await Promise.all(members.map((m) => ('backend' in m ? m.backend.close?.() : undefined)));
    throw fatal.failure;
  }
  for (const m of failed) options.onWarning(`${m.location} cannot be used and is left out of this run: ${describeError(m.failure)}`);
  return new MirrorBackend(members, options);
}

export async function openBackend(url: string, options: OpenBackendOptions): Promise<Backend> {
  if (url === '') throw new UsageError('no backend given: pass --backend URL or set PRESERVE_BACKEND');
  const scheme = schemeOf(url);
  switch (scheme) {
    case undefined:
    case 'file':
      return openFileBackend(backendFolder(url), options);
    case 'sftp':
      return (await import('./sftp/connect.js')).openSftpBackend(url, options.createIfMissing);
    case 's3':
      return (await import('./s3/connect.js')).openS3Backend(url);
    default:
      throw new UsageError(`backend scheme ${scheme}:// is not supported (use a path, file://, sftp:// or s3://)`);
  }
}

async function openFileBackend(root: string, options: OpenBackendOptions): Promise<Backend> {
  try {
    const info = await stat(root);
    if (!info.isDirectory()) throw new BackendUnavailableError(`backend ${root} is not a folder`);
  } catch (error) {
    if (!(isErrnoException(error) && error.code === 'ENOENT')) {
      if (error instanceof BackendUnavailableError) throw error;
      throw new BackendUnavailableError(`cannot open backend ${root}: ${describeError(error)}`, { cause: error });
    }
    if (!options.createIfMissing) throw new BackendUnavailableError(`backend folder ${root} does not exist`);
    try {
      await mkdir(root, { recursive: true });
    } catch (mkdirError) {
      throw new BackendUnavailableError(`cannot create backend folder ${root}: ${describeError(mkdirError)}`, { cause: mkdirError });
    }
  }
  return new FileBackend(root);
}

/** The local folder a backend URL names (a path or file://), or undefined for a remote one. */
export function localFolderOf(url: string): string | undefined {
  const scheme = schemeOf(url);
  return scheme === undefined || scheme === 'file' ? backendFolder(url) : undefined;
}

/** "file", "sftp", "s3", … in lower case; undefined for a bare path. */
function schemeOf(url: string): string | undefined {
  return /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
}

function backendFolder(url: string): string {
  if (!url.startsWith('file://')) return resolve(url);
  try {
    return fileURLToPath(url);
  } catch (error) {
    throw new UsageError(`backend URL ${url} is not a valid file:// URL: ${describeError(error)}`);
  }
}
