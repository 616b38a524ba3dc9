/**
 * Opens `sftp://[user@]host[:port]/path` (`/~/path` for a path under the login's home).
 * Authentication is by key only: the ssh agent (SSH_AUTH_SOCK), then the default key
 * files in ~/.ssh, or only PRESERVE_SSH_KEY when set. The server's key must be in
 * ~/.ssh/known_hosts (or PRESERVE_SSH_KNOWN_HOSTS): nothing is sent to an unknown server.
 * Loaded lazily by open.ts, so that only SFTP users load the SSH library.
 */
import { readFile } from 'node:fs/promises';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { BackendUnavailableError, UsageError, describeError, isErrnoException } from '../../errors/index.js';
import type { Backend } from '../backend.js';
import { type HostKeyVerdict, checkHostKey, knownHostName } from './known-hosts.js';
import { SftpBackend } from './sftp-backend.js';

const DEFAULT_KEY_FILES = ['id_ed25519', 'id_ecdsa', 'id_rsa'];
const READY_TIMEOUT_MS = 20_000;
/** SFTP sessions per connection: each is one server process, so fsyncs and disk waits overlap (OpenSSH allows 10). */
const SESSIONS = 4;
/** A silent server is declared gone after 3 unanswered keepalives, 15 s apart. */
const KEEPALIVE_MS = 15_000;

interface SftpTarget {
  readonly username: string;
  readonly host: string;
  readonly port: number;
  /** Absolute, or relative to the login's home folder; no trailing slash. */
  readonly root: string;
  readonly location: string;
}

function parseSftpUrl(url: string): SftpTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`backend URL ${url} is not a valid sftp:// URL`);
  }
  const path = decodeURIComponent(parsed.pathname).replace(/\/+$/, '');
  const root = path.startsWith('/~/') ? path.slice(3) : path;
  if (parsed.hostname === '' || root === '' || root === '/~') {
    throw new UsageError(`backend URL ${url} needs a host and a folder: sftp://user@host[:port]/path`);
  }
  const port = parsed.port === '' ? 22 : Number(parsed.port);
  const username = parsed.username === '' ? userInfo().username : decodeURIComponent(parsed.username);
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  return { username, host, port, root, location: `sftp://${username}@${parsed.host}${path}` };
}

export async function openSftpBackend(url: string, createIfMissing: boolean): Promise<Backend> {
  const target = parseSftpUrl(url);
  const client = await connect(target);
  try {
    const sessions = await Promise.all(
      Array.from({ length: SESSIONS }, () => new Promise<ssh2.SFTPWrapper>((resolve, reject) => client.sftp((error, session) => (error ? reject(error) : resolve(session))))),
    );
    const backend = new SftpBackend(target.location, client, sessions, target.root);
    await backend.checkRoot(createIfMissing);
    return backend;
  } catch (error) {
    client.end();
    if (error instanceof BackendUnavailableError) throw error;
    throw new BackendUnavailableError(`cannot open ${target.location}: ${describeError(error)}`, { cause: error });
  }
}

async function connect(target: SftpTarget): Promise<ssh2.Client> {
  const knownHosts = await readKnownHosts();
  const authHandler = await authMethods(target.username);
  const client = new ssh2.Client();
  let verdict: HostKeyVerdict = 'unknown';
  return new Promise((resolve, reject) => {
    client
      .once('ready', () => {
        // Requests are small and answered one by one: Nagle's algorithm would hold each for a delayed ACK.
        client.setNoDelay(true);
        resolve(client);
      })
      .once('error', (error: Error) => reject(connectError(target, verdict, knownHosts.path, error)))
      .connect({
        host: target.host,
        port: target.port,
        username: target.username,
        authHandler,
        hostVerifier: (key: Buffer) => (verdict = checkHostKey(knownHosts.text, target.host, target.port, key)) === 'known',
        readyTimeout: READY_TIMEOUT_MS,
        keepaliveInterval: KEEPALIVE_MS,
        keepaliveCountMax: 3,
      });
  });
}

function connectError(target: SftpTarget, verdict: HostKeyVerdict, knownHostsPath: string, error: Error): BackendUnavailableError {
  const name = knownHostName(target.host, target.port);
  const where = `sftp://${target.host}:${target.port}`;
  if (verdict === 'unknown' && /verification failed/i.test(error.message)) {
    return new BackendUnavailableError(
      `the host key of ${name} is not in ${knownHostsPath}; check its fingerprint, then add it (ssh-keyscan -p ${target.port} ${target.host} >> ${knownHostsPath})`,
    );
  }
  if (verdict === 'changed' || verdict === 'revoked') {
    return new BackendUnavailableError(`the host key of ${name} ${verdict === 'changed' ? 'differs from the one in' : 'is revoked in'} ${knownHostsPath}; refusing to connect (the server may be an impostor)`);
  }
  if (/authentication methods failed/i.test(error.message)) {
    return new BackendUnavailableError(`${where} refused every key offered for user ${target.username} (ssh agent, ~/.ssh keys or PRESERVE_SSH_KEY)`);
  }
  return new BackendUnavailableError(`cannot connect to ${where}: ${describeError(error)}`, { cause: error });
}

async function readKnownHosts(): Promise<{ path: string; text: string }> {
  const path = process.env.PRESERVE_SSH_KNOWN_HOSTS ?? join(homedir(), '.ssh', 'known_hosts');
  try {
    return { path, text: await readFile(path, 'utf8') };
  } catch (error) {
    if (isErrnoException(error) && error.code === 'ENOENT') return { path, text: '' };
    throw new UsageError(`cannot read known hosts file ${path}: ${describeError(error)}`, { cause: error });
  }
}

/** The ssh agent first, then each private key file that exists and needs no passphrase. */
async function authMethods(username: string): Promise<(ssh2.AgentAuthMethod | ssh2.PublicKeyAuthMethod)[]> {
  const methods: (ssh2.AgentAuthMethod | ssh2.PublicKeyAuthMethod)[] = [];
  const agent = process.env.SSH_AUTH_SOCK;
  if (agent) methods.push({ type: 'agent', username, agent });
  const explicit = process.env.PRESERVE_SSH_KEY;
  const files = explicit ? [explicit] : DEFAULT_KEY_FILES.map((name) => join(homedir(), '.ssh', name));
  for (const file of files) {
    const key = await readPrivateKey(file, explicit !== undefined);
    if (key) methods.push({ type: 'publickey', username, key });
  }
  if (methods.length === 0) {
    throw new UsageError('no SSH key to log in with: start an ssh agent, create ~/.ssh/id_ed25519, or set PRESERVE_SSH_KEY to a key file');
  }
  return methods;
}

/** A parsed key, or undefined for a default file that is absent or passphrase-protected. */
async function readPrivateKey(file: string, required: boolean): Promise<ssh2.ParsedKey | undefined> {
  let text: Buffer;
  try {
    text = await readFile(file);
  } catch (error) {
    if (!required && isErrnoException(error) && error.code === 'ENOENT') return undefined;
    throw new UsageError(`cannot read SSH key ${file}: ${describeError(error)}`, { cause: error });
  }
  const key = ssh2.utils.parseKey(text);
  if (!(key instanceof Error)) return Array.isArray(key) ? key[0] : key;
  // Passphrase-protected keys are used through the ssh agent, which holds them unlocked.
  if (!required) return undefined;
  throw new UsageError(`cannot use SSH key ${file}: ${key.message} (load it into ssh-agent instead)`);
}
