/**
 * Folders left out by what they hold (--exclude-caches, --exclude-if-present): a folder
 * holding an entry of one of the names given, or a CACHEDIR.TAG that starts with the
 * signature of the Cache Directory Tagging Standard (https://bford.info/cachedir/).
 */
import { open } from 'node:fs/promises';
import { constantTimeEqual } from '../crypto/index.js';
import { describeError } from '../errors/index.js';
import { fsPath } from '../filenames/index.js';
import { childPath } from '../pipeline/child-path.js';
import type { Listing } from '../pipeline/source-reader.js';
import type { ProblemReporter } from './reporting.js';

/** The name and first bytes of the standard's tag. */
const CACHEDIR_TAG = 'CACHEDIR.TAG';
const CACHEDIR_SIGNATURE = Buffer.from('Signature: 8a477f597d28d172789f06886806bc55');

export interface TagOptions {
  /** Leave out folders holding a CACHEDIR.TAG that starts with its signature. */
  readonly excludeCaches: boolean;
  /** Leave out folders holding an entry of one of these names. */
  readonly excludeIfPresent: readonly string[];
}

export class FolderTags {
  /** Every name that may leave a folder out, a CACHEDIR.TAG before its signature is read. */
  private readonly names: readonly string[];

  constructor(
    private readonly options: TagOptions,
    private readonly reporter: Pick<ProblemReporter, 'warning'>,
  ) {
    this.names = options.excludeCaches ? [...options.excludeIfPresent, CACHEDIR_TAG] : options.excludeIfPresent;
  }

  /** Whether the folder at `path`, listed as `listing`, is left out. */
  async isTagged(path: string, listing: Listing): Promise<boolean> {
    if (this.options.excludeIfPresent.some((name) => listing.names.includes(name))) return true;
    return this.options.excludeCaches && listing.names.includes(CACHEDIR_TAG) && (await this.hasCacheSignature(childPath(path, CACHEDIR_TAG)));
  }

  /** Whether the folder holds a tag's name: it may be left out (isTagged reads the signature). */
  mayBeTagged(listing: Listing): boolean {
    return this.names.some((name) => listing.names.includes(name));
  }

  /** The standard tells a real tag by its first bytes; one that cannot be read leaves its folder in, with a warning. */
  private async hasCacheSignature(tagPath: string): Promise<boolean> {
    try {
      const handle = await open(fsPath(tagPath), 'r');
      try {
        const { buffer, bytesRead } = await handle.read(Buffer.alloc(CACHEDIR_SIGNATURE.length), 0, CACHEDIR_SIGNATURE.length, 0);
        // Not secret, but every comparison of bytes goes through the one function (test/crypto.test.ts).
        return constantTimeEqual(buffer.subarray(0, bytesRead), CACHEDIR_SIGNATURE);
      } finally {
        await handle.close();
      }
    } catch (error) {
      this.reporter.warning(`${tagPath}: cannot be read (${describeError(error)}); its folder is backed up`);
      return false;
    }
  }
}
