/**
 * Choosing how to talk to the kernel, and loading fuse-native, mounting and unmounting
 * with it. The addon is imported only here and only when a mount by a user other than
 * root starts, so every other command works on machines where it cannot load (no
 * libfuse.so.2: see scripts/setup-fuse.sh).
 */
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { promisify } from 'node:util';
import type Fuse from 'fuse-native';
import { UsageError, describeError, isErrnoException } from '../src/errors/index.js';
import { isMounted } from './mountinfo.js';

const run = promisify(execFile);
const FUSE_DEVICE = '/dev/fuse';

/** FUSE cannot be used on this machine (exit 2): no addon, no libfuse, no /dev/fuse. */
export class FuseUnavailableError extends UsageError {}

export type FuseClass = typeof Fuse;

/** kernel: our own FUSE connection (mount/kernel/); libfuse: through fuse-native. */
export type Transport = { readonly kind: 'kernel' } | { readonly kind: 'libfuse'; readonly Fuse: FuseClass };

/**
 * Root mounts with its own connection: one hop per request instead of two, no requests
 * to open or close, readdirplus, nanosecond times (docs/MOUNT.md). Other users need
 * libfuse's setuid helper, so fuse-native. PRESERVE_FUSE (`kernel` or `libfuse`)
 * chooses for them.
 */
export async function chooseTransport(choice = process.env.PRESERVE_FUSE): Promise<Transport> {
  if (choice !== undefined && choice !== 'kernel' && choice !== 'libfuse') {
    throw new UsageError(`PRESERVE_FUSE must be "kernel" or "libfuse", not ${JSON.stringify(choice)}`);
  }
  try {
    await access(FUSE_DEVICE, constants.R_OK | constants.W_OK);
  } catch (error) {
    throw new FuseUnavailableError(`FUSE is unavailable: ${FUSE_DEVICE} cannot be opened (${describeError(error)})`, { cause: error });
  }
  const kind = choice ?? (process.getuid?.() === 0 ? 'kernel' : 'libfuse');
  return kind === 'kernel' ? { kind } : { kind, Fuse: await loadFuse() };
}

async function loadFuse(): Promise<FuseClass> {
  let loaded: FuseClass;
  try {
    loaded = (await import('fuse-native')).default;
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new FuseUnavailableError(
      `FUSE is unavailable: the fuse-native addon did not load (${reason}); run scripts/setup-fuse.sh as root, or install libfuse2`,
      { cause: error },
    );
  }
  // fuse-native unmounts by running `fusermount -uz`, which Debian ships only in the
  // `fuse` package (that would replace fuse3); ours also works without it, as root.
  loaded.unmount = (mountpoint, cb) => {
    unmountIfMounted(mountpoint).then(() => cb(null), cb);
  };
  return loaded;
}

/** Lazy unmount, like fuse-native's own: open files do not keep Ctrl-C from working. */
async function unmountIfMounted(mountpoint: string): Promise<void> {
  if (!(await isMounted(mountpoint))) return;
  try {
    await run('fusermount', ['-uz', mountpoint]);
  } catch (error) {
    if (!(isErrnoException(error) && error.code === 'ENOENT')) throw error;
    await run('umount', ['-l', mountpoint]);
  }
}

/** Mounts and resolves once the kernel has sent INIT, i.e. the mount is usable. */
export function mountWith(fuse: Fuse, mountpoint: string): Promise<void> {
  return new Promise((resolve, reject) => {
    fuse.mount((error) => {
      if (!error) resolve();
      else reject(new UsageError(`cannot mount at ${mountpoint}: ${error.message}`, { cause: error }));
    });
  });
}

export function unmountWith(fuse: Fuse): Promise<void> {
  return new Promise((resolve, reject) => fuse.unmount((error) => (error ? reject(error) : resolve())));
}
