/**
 * A backend in a folder on an SSH server, over one SFTP session. Writes go to tmp/ and
 * are then renamed into place: SFTP's rename fails when the new name exists (OpenSSH
 * implements it as link() then unlink()), which makes creation atomic and exclusive as in
 * the file backend. Large objects move as several requests in flight at once.
 */
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { Client, FileEntryWithStats, SFTPWrapper, Stats } from 'ssh2';
import { BackendUnavailableError, ObjectNotFoundError, describeError } from '../../errors/index.js';
import type { Backend, DatedObject, ObjectInfo } from '../backend.js';
import { checkKey } from '../keys.js';

/** Where objects are written before they are renamed into place. */
const TMP_FOLDER = 'tmp';
/** SFTP v3 status codes (draft-ietf-secsh-filexfer-02 §7). */
const NO_SUCH_FILE = 2;
/** Bytes per read or write request: under every server's packet limit, several in flight per object. */
const PIECE = 128 * 1024;

/** A status the server answered with; exit 2 when it reaches the user (permissions, full disk). */
class SftpStatusError extends BackendUnavailableError {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

type Callback<T> = (error: Error | null | undefined, value: T) => void;

function isNoSuchFile(error: unknown): boolean {
  return error instanceof SftpStatusError && error.status === NO_SUCH_FILE;
}

/** [offset, length] of each request for `size` bytes; one empty piece for an empty object. */
function pieces(size: number): [number, number][] {
  const out: [number, number][] = [];
  for (let offset = 0; offset < size; offset += PIECE) out.push([offset, Math.min(PIECE, size - offset)]);
  return out;
}

export class SftpBackend implements Backend {
  /** Folders known to exist (or being made), so each costs its round trips once per process. */
  private readonly folders = new Map<string, Promise<void>>();
  /** Why the connection ended, once it has; every later call fails with it at once. */
  private lost: Error | undefined;
  private canFsync = true;
  private nextSession = 0;

  constructor(
    readonly location: string,
    private readonly client: Client,
    /** Several SFTP sessions on the one connection: the server answers each in order, and an fsync holds up its session. */
    private readonly sessions: readonly SFTPWrapper[],
    /** The backend folder on the server, without a trailing slash. */
    private readonly root: string,
  ) {
    client.on('close', () => (this.lost ??= new Error('the connection closed')));
    client.on('error', (error: Error) => (this.lost ??= error));
  }

  /** The sessions in turn; a handle stays with the session that opened it. */
  private session(): SFTPWrapper {
    const sftp = this.sessions[this.nextSession++ % this.sessions.length];
    if (sftp === undefined) throw new RangeError('an SFTP backend needs a session');
    return sftp;
  }

  private pathOf(key: string): string {
    return `${this.root}/${checkKey(key)}`;
  }

  /** One SFTP request as a promise; status answers become SftpStatusError, anything else a lost connection. */
  private request<T>(what: string, start: (callback: Callback<T>) => void): Promise<T> {
    if (this.lost) return Promise.reject(this.unavailable(this.lost));
    return new Promise<T>((resolve, reject) => {
      const settle: Callback<T> = (error, value) => (error ? reject(this.translate(what, error)) : resolve(value));
      try {
        start(settle);
      } catch (error) {
        reject(this.translate(what, error));
      }
    });
  }

  private translate(what: string, error: unknown): Error {
    const status = (error as { code?: unknown }).code;
    if (typeof status === 'number') return new SftpStatusError(`${this.location}: ${what}: ${describeError(error)}`, status);
    return this.unavailable(this.lost ?? error);
  }

  private unavailable(cause: unknown): BackendUnavailableError {
    return new BackendUnavailableError(`lost the connection to ${this.location}: ${describeError(cause)}`, { cause });
  }

  /** The backend folder must exist (only `create` makes it, with its parents) and be a folder. */
  async checkRoot(createIfMissing: boolean): Promise<void> {
    try {
      const stats = await this.request<Stats>(`stat ${this.root}`, (done) => this.session().stat(this.root, done));
      if (!stats.isDirectory()) throw new BackendUnavailableError(`backend ${this.location} is not a folder`);
    } catch (error) {
      if (!isNoSuchFile(error)) throw error;
      if (!createIfMissing) throw new BackendUnavailableError(`backend folder ${this.location} does not exist`);
      await this.ensureFolder(this.root);
    }
  }

  async has(key: string): Promise<boolean> {
    const path = this.pathOf(key);
    try {
      await this.request<Stats>(`stat ${key}`, (done) => this.session().stat(path, done));
      return true;
    } catch (error) {
      if (isNoSuchFile(error)) return false;
      throw error;
    }
  }

  async get(key: string): Promise<Buffer> {
    const path = this.pathOf(key);
    const sftp = this.session();
    let handle: Buffer;
    try {
      handle = await this.request(`open ${key}`, (done) => sftp.open(path, 'r', done));
    } catch (error) {
      if (isNoSuchFile(error)) throw new ObjectNotFoundError(key);
      throw error;
    }
    try {
      const { size } = await this.request<Stats>(`stat ${key}`, (done) => sftp.fstat(handle, done));
      const data = Buffer.allocUnsafe(size);
      await Promise.all(pieces(size).map(([offset, length]) => this.readPiece(sftp, key, handle, data, offset, length)));
      return data;
    } finally {
      await this.closeHandle(sftp, key, handle);
    }
  }

  /** Reads data[offset, offset+length) from the same place in the file; servers may answer short. */
  private async readPiece(sftp: SFTPWrapper, key: string, handle: Buffer, data: Buffer, offset: number, length: number): Promise<void> {
    let done = 0;
    while (done < length) {
      const at = offset + done;
      const count = await this.request<number>(`read ${key}`, (callback) => sftp.read(handle, data, at, length - done, at, callback));
      if (count === 0) throw new BackendUnavailableError(`${this.location}: ${key} ended before its size (changed while being read)`);
      done += count;
    }
  }

  async put(key: string, data: Uint8Array): Promise<boolean> {
    const finalPath = this.pathOf(key);
    const tmpPath = `${this.root}/${TMP_FOLDER}/${randomBytes(12).toString('hex')}.tmp`;
    await this.ensureFolder(posix.dirname(tmpPath));
    await this.writeNewFile(tmpPath, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    try {
      await this.ensureFolder(posix.dirname(finalPath));
      await this.request(`rename to ${key}`, (done) => this.session().rename(tmpPath, finalPath, (error) => done(error, undefined)));
      return true;
    } catch (error) {
      await this.removeTemporary(tmpPath, error);
      // SFTP v3 has no "already exists" status: a refused rename onto an existing name is a plain failure.
      if (error instanceof SftpStatusError && (await this.has(key))) return false;
      throw error;
    }
  }

  /** Creates path exclusively and writes data with its requests in flight together, then fsyncs. */
  private async writeNewFile(path: string, data: Buffer): Promise<void> {
    const sftp = this.session();
    const handle = await this.request<Buffer>(`create ${path}`, (done) => sftp.open(path, 'wx', { mode: 0o600 }, done));
    try {
      await Promise.all(
        pieces(data.length).map(([offset, length]) =>
          this.request(`write ${path}`, (done) => sftp.write(handle, data, offset, length, offset, (error) => done(error, undefined))),
        ),
      );
      await this.fsync(sftp, path, handle);
    } finally {
      await this.closeHandle(sftp, path, handle);
    }
  }

  /** fsync@openssh.com when the server has it, so a renamed object never names data still in flight. */
  private async fsync(sftp: SFTPWrapper, path: string, handle: Buffer): Promise<void> {
    if (!this.canFsync) return;
    await this.request(`fsync ${path}`, (done) => {
      try {
        sftp.ext_openssh_fsync(handle, (error) => done(error, undefined));
      } catch (error) {
        // ssh2 refuses before sending anything when the server did not offer the extension.
        if (!(error instanceof Error && error.message.includes('does not support'))) throw error;
        this.canFsync = false;
        done(undefined, undefined);
      }
    });
  }

  private async closeHandle(sftp: SFTPWrapper, what: string, handle: Buffer): Promise<void> {
    // After the connection is gone the handle went with it, and the caller is already failing.
    if (this.lost) return;
    await this.request(`close ${what}`, (done) => sftp.close(handle, (error) => done(error, undefined)));
  }

  /** Best effort after a failed put: the put's own error is what the caller sees. */
  private async removeTemporary(path: string, cause: unknown): Promise<void> {
    if (this.lost) return;
    await this.request(`remove ${path}`, (done) => this.session().unlink(path, (error) => done(error, undefined))).catch((error: unknown) => {
      throw new BackendUnavailableError(`${describeError(cause)}; and removing the temporary ${path} failed: ${describeError(error)}`, { cause });
    });
  }

  /** mkdir -p, with each folder's promise shared by concurrent puts. */
  private ensureFolder(path: string): Promise<void> {
    let made = this.folders.get(path);
    if (!made) {
      made = this.makeFolder(path);
      this.folders.set(path, made);
      made.catch(() => this.folders.delete(path));
    }
    return made;
  }

  private async makeFolder(path: string): Promise<void> {
    try {
      await this.request(`mkdir ${path}`, (done) => this.session().mkdir(path, { mode: 0o700 }, (error) => done(error, undefined)));
      return;
    } catch (error) {
      if (!(error instanceof SftpStatusError)) throw error;
    }
    // mkdir fails alike for "exists" and "parent missing" in SFTP v3; stat tells them apart.
    try {
      const stats = await this.request<Stats>(`stat ${path}`, (done) => this.session().stat(path, done));
      if (stats.isDirectory()) return;
      throw new BackendUnavailableError(`${this.location}: ${path} exists and is not a folder`);
    } catch (error) {
      if (!isNoSuchFile(error)) throw error;
    }
    await this.ensureFolder(posix.dirname(path));
    await this.request(`mkdir ${path}`, (done) => this.session().mkdir(path, { mode: 0o700 }, (error) => done(error, undefined)));
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    yield* this.walk(prefix.replace(/\/$/, ''));
  }

  temporaries(): AsyncIterable<DatedObject> {
    return this.walk(TMP_FOLDER);
  }

  private async *walk(relative: string): AsyncIterable<DatedObject> {
    const path = relative === '' ? this.root : `${this.root}/${relative}`;
    let entries;
    try {
      entries = await this.request<FileEntryWithStats[]>(`list ${relative}`, (done) => this.session().readdir(path, done));
    } catch (error) {
      if (isNoSuchFile(error)) return;
      throw error;
    }
    for (const entry of entries) {
      const key = relative === '' ? entry.filename : `${relative}/${entry.filename}`;
      if (entry.attrs.isDirectory()) yield* this.walk(key);
      else if (entry.attrs.isFile()) yield { key, size: entry.attrs.size, modifiedMs: entry.attrs.mtime * 1000 };
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf(key);
    try {
      await this.request(`remove ${key}`, (done) => this.session().unlink(path, (error) => done(error, undefined)));
    } catch (error) {
      if (!isNoSuchFile(error)) throw error;
    }
  }

  async close(): Promise<void> {
    if (this.lost) return;
    const closed = new Promise<void>((resolve) => this.client.once('close', () => resolve()));
    this.client.end();
    await closed;
  }
}
