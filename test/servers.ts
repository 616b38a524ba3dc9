/**
 * Real servers on loopback for backend tests and scripts/bench-backends: an OpenSSH sshd
 * with a throwaway host key and user key, and s3rver (an S3-compatible server from npm)
 * in a child process. Each start returns the backend URL to use, the environment the
 * client needs, and stop(), which the caller runs in a finally block.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { type Socket, connect, createServer } from 'node:net';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { promisify } from 'node:util';
import { PROJECT_ROOT, makeTempDir } from './support.js';

const exec = promisify(execFile);
const SSHD = '/usr/sbin/sshd';

export interface TestServer {
  /** A backend URL on this server; each label gives its own, initially empty, location. */
  backendUrl(label: string): string;
  /** Variables the client needs (keys, endpoint, credentials), to merge into process.env or a child's env. */
  readonly env: Record<string, string>;
  /** Where the server keeps what it stores, to watch progress or damage objects behind its back. */
  readonly dataDir: string;
  /**
   * Makes the server vanish mid-flight, as a crash would, keeping its data: sshd is killed
   * with every session process; the S3 server's connections are dropped in front of it.
   */
  crash(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  restart(): Promise<void>;
  /** Kills it and removes its data. */
  stop(): Promise<void>;
}

type ServerControl = Pick<TestServer, 'crash' | 'restart' | 'stop'>;

/** A server process on a fixed loopback port that can be killed and started again; stop also removes dir. */
async function managedServer(dir: { path: string; remove: () => Promise<void> }, port: number, launch: () => ChildProcess): Promise<ServerControl> {
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    child = launch();
    await waitForPort(port, child, capture(child));
  };
  const crash = async (): Promise<void> => {
    if (child) await killTree(child);
  };
  try {
    await start();
  } catch (error) {
    await crash();
    await dir.remove();
    throw error;
  }
  const stop = async (): Promise<void> => {
    await crash();
    await dir.remove();
  };
  return { crash, restart: start, stop };
}

/** A port nobody listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  await new Promise<void>((done) => server.close(() => done()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function waitForPort(port: number, child: ChildProcess, output: () => string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (child.exitCode !== null) throw new Error(`server exited with status ${child.exitCode}: ${output()}`);
    const open = await new Promise<boolean>((done) => {
      const socket = connect(port, '127.0.0.1', () => socket.end(() => done(true))).on('error', () => done(false));
    });
    if (open) return;
    await new Promise((done) => setTimeout(done, 50));
  }
  throw new Error(`server did not listen on port ${port}: ${output()}`);
}

/** Every descendant of pid (sshd forks one process per connection), from /proc. */
async function descendants(pid: number): Promise<number[]> {
  const parents = new Map<number, number[]>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    const ppid = Number(/\) \S (\d+)/.exec(stat)?.[1]);
    parents.set(ppid, [...(parents.get(ppid) ?? []), Number(name)]);
  }
  const found: number[] = [];
  const visit = (parent: number): void => {
    for (const child of parents.get(parent) ?? []) {
      found.push(child);
      visit(child);
    }
  };
  visit(pid);
  return found;
}

/** SIGKILLs the process and its descendants, each by its id, and waits for it to be gone. */
async function killTree(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  for (const pid of [child.pid, ...(await descendants(child.pid))]) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone between the scan and the kill.
    }
  }
  await exited;
}

function capture(child: ChildProcess): () => string {
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return () => text;
}

/** Installs openssh-server through the project's script when this machine lacks it. */
async function ensureSshd(): Promise<void> {
  if (existsSync(SSHD)) return;
  await exec('sh', [join(PROJECT_ROOT, 'scripts', 'setup-test-servers.sh')]);
}

export async function startSshServer(): Promise<TestServer> {
  await ensureSshd();
  const dir = await makeTempDir('sshd');
  const file = (name: string) => join(dir.path, name);
  let port: number;
  try {
    const keygen = (name: string) => exec('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file(name)]);
    await Promise.all([keygen('host_key'), keygen('user_key')]);
    await writeFile(file('authorized_keys'), await readFile(file('user_key.pub')));
    port = await freePort();
    const [type, key] = (await readFile(file('host_key.pub'), 'utf8')).split(' ');
    await writeFile(file('known_hosts'), `[127.0.0.1]:${port} ${type} ${key}\n`);
    await writeFile(file('sshd_config'), sshdConfig(port, dir.path));
    // sshd run as root insists on its privilege separation folder.
    if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  } catch (error) {
    await dir.remove();
    throw error;
  }
  const control = await managedServer(dir, port, () => spawn(SSHD, ['-D', '-e', '-f', file('sshd_config')], { stdio: ['ignore', 'pipe', 'pipe'] }));
  return {
    ...control,
    backendUrl: (label) => `sftp://${userInfo().username}@127.0.0.1:${port}${join(dir.path, 'data', label)}`,
    dataDir: join(dir.path, 'data'),
    env: { PRESERVE_SSH_KEY: file('user_key'), PRESERVE_SSH_KNOWN_HOSTS: file('known_hosts'), SSH_AUTH_SOCK: '' },
  };
}

function sshdConfig(port: number, dir: string): string {
  return [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${join(dir, 'host_key')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'PermitRootLogin prohibit-password',
    'StrictModes no',
    // In-process SFTP: the same rename-fails-on-existing semantics as sftp-server.
    'Subsystem sftp internal-sftp',
    'LogLevel ERROR',
    '',
  ].join('\n');
}

/** The bucket every S3 test server has; other names are missing buckets. */
export const S3_TEST_BUCKET = 'preserve-test';

export async function startS3Server(): Promise<TestServer> {
  const dir = await makeTempDir('s3');
  const serverPort = await freePort();
  // Real S3 stores an upload whole or not at all; s3rver streams it straight into its file, so
  // a request cut short would leave a truncated object. Buffering each body first (and storing
  // nothing when it is cut) gives the test double the real store's atomicity. And real S3
  // answers a PUT once the object is readable, while s3rver answers as soon as it has handed a
  // buffer to its file's write stream: a GET right after could read part of a large object
  // (seen once in CI with 5 MiB), so the answer waits until the file holds all of it.
  const script = `
    const { stat } = await import('node:fs/promises');
    const { default: S3rver } = await import(${JSON.stringify(join(PROJECT_ROOT, 'node_modules', 's3rver', 'lib', 's3rver.js'))});
    const server = new S3rver({ address: '127.0.0.1', port: ${serverPort}, silent: true, directory: ${JSON.stringify(dir.path)},
      configureBuckets: [{ name: ${JSON.stringify(S3_TEST_BUCKET)} }] });
    const putObject = server.store.putObject.bind(server.store);
    server.store.putObject = async (object) => {
      if (!Buffer.isBuffer(object.content)) {
        const stream = object.content;
        object.content = await new Promise((resolve, reject) => {
          const chunks = [];
          stream.on('data', (chunk) => chunks.push(chunk)).on('error', reject)
            .on('aborted', () => reject(new Error('upload cut short'))).on('end', () => resolve(Buffer.concat(chunks)));
        });
      }
      const stored = await putObject(object);
      const file = server.store.getResourcePath(object.bucket, object.key, 'object');
      while ((await stat(file)).size < object.content.length) await new Promise((resolve) => setTimeout(resolve, 5));
      return stored;
    };
    await server.run();`;
  // s3rver makes its list continuation tokens with DES, which OpenSSL 3 keeps in its legacy provider.
  const args = ['--openssl-legacy-provider', '--input-type=module', '-e', script];
  const server = await managedServer(dir, serverPort, () => spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  // s3rver writes an object's data and its metadata as two files, so killing it mid-write leaves
  // objects it then answers 500 for, as no real store would. A crash is therefore modelled in
  // front of it: the proxy drops every connection and refuses new ones, and the store stays whole.
  const proxy = await loopbackProxy(serverPort).catch(async (error: unknown) => {
    await server.stop();
    throw error;
  });
  return {
    backendUrl: (label) => `s3://${S3_TEST_BUCKET}/${label}`,
    dataDir: dir.path,
    // s3rver knows one account; it checks the key id but not SigV4 signatures.
    env: {
      AWS_ENDPOINT_URL: `http://127.0.0.1:${proxy.port}`,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_MAX_ATTEMPTS: '2',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    crash: proxy.cut,
    restart: proxy.resume,
    stop: async () => {
      await proxy.cut();
      await server.stop();
    },
  };
}

/** A TCP relay on its own loopback port to target, which can drop everything and come back. */
async function loopbackProxy(target: number): Promise<{ port: number; cut: () => Promise<void>; resume: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const relay = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket)).on('error', () => socket.destroy());
    }
    client.pipe(upstream).pipe(client);
  });
  const port = await freePort();
  const resume = () => new Promise<void>((done) => relay.listen(port, '127.0.0.1', done));
  const cut = async (): Promise<void> => {
    if (!relay.listening) return;
    const closed = new Promise((done) => relay.close(done));
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  await resume();
  return { port, cut, resume };
}

/**
 * One server for a whole test file, started by the first test that needs it, with its
 * environment (credentials, known hosts) applied to this process; stop() is for test.after.
 */
export function sharedServer(start: () => Promise<TestServer>): { get(): Promise<TestServer>; stop(): Promise<void> } {
  let server: Promise<TestServer> | undefined;
  return {
    get: () =>
      (server ??= start().then((started) => {
        Object.assign(process.env, started.env);
        return started;
      })),
    stop: async () => (await server)?.stop(),
  };
}

