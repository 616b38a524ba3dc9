/**
 * create from a stream (`create NAME -`, or `--stdin-from-command`): the stream becomes
 * one file in the archive's root folder, cut into chunks and stored as any file's content
 * is, so that yesterday's database dump shares its unchanged blocks with today's.
 */
import { type ChunkRef, NO_XATTRS, directoryEntry, encodeTree, fileEntry, unsafeNameReason } from '../archive/index.js';
import type { ByteSource } from '../chunker/index.js';
import { UsageError } from '../errors/index.js';
import { type Repository, withLock } from '../repository/index.js';
import { claimArchiveName, commitArchive } from './new-archive.js';
import { type ProgressListener, noProgress } from './progress.js';
import type { ProblemReporter } from './reporting.js';
import type { CreateResult } from './create.js';

export interface StreamCreateOptions {
  readonly name: string;
  /** The file's name in the archive's root folder. */
  readonly filename: string;
  readonly progress?: ProgressListener;
}

/**
 * Only the owner may read the file or open its folder, restored or mounted: a stream
 * backed up this way is often a database dump, which holds what the database does.
 */
const FILE_MODE = 0o600;
const FOLDER_MODE = 0o700;

export async function createArchiveFromStream(
  repository: Pick<Repository, 'blocks' | 'trees' | 'catalog' | 'chunker' | 'backend' | 'flush' | 'storedBytes'>,
  /** Opens the stream, once the backend is locked: a command is run only when its output can be stored. */
  open: () => ByteSource,
  options: StreamCreateOptions,
  reporter: ProblemReporter,
): Promise<CreateResult> {
  const badFilename = unsafeNameReason(options.filename);
  if (badFilename) throw new UsageError(`--stdin-filename ${JSON.stringify(options.filename)} is not allowed: it is ${badFilename}`);
  await claimArchiveName(repository.catalog, options.name);
  return withLock(repository.backend, 'shared', 'create', (message) => reporter.warning(message), async (lock) => {
    const progress = options.progress ?? noProgress;
    const chunks: ChunkRef[] = [];
    let size = 0;
    for await (const chunk of repository.chunker.chunks(open(), 0)) {
      chunks.push({ id: await repository.blocks.put(chunk), length: chunk.length });
      size += chunk.length;
      progress.advance(0, chunk.length);
    }
    progress.advance(1, 0);
    // Owned by the user running create and modified as the stream ended, as a file it was redirected into would be.
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    const mtimeNs = BigInt(Date.now()) * 1_000_000n;
    const file = fileEntry({ name: options.filename, mode: FILE_MODE, uid, gid, mtimeNs, xattrs: NO_XATTRS }, size, 0, chunks);
    const tree = await repository.trees.put(encodeTree([file]));
    const { id, metadata } = await commitArchive(repository, lock, {
      name: options.name,
      // As `list` shows it and prune groups by; never a folder's, which is an absolute path.
      sourcePath: `stdin:${options.filename}`,
      root: directoryEntry({ name: '', mode: FOLDER_MODE, uid, gid, mtimeNs, xattrs: NO_XATTRS }, tree),
      totals: { files: 1, directories: 1, symlinks: 0, bytes: size, skipped: 0, xattrEntries: 0 },
      uids: [uid],
      gids: [gid],
      linkGroupSizes: new Map(),
    });
    return { id, metadata, filesRead: 1, filesUnchanged: 0 };
  });
}
