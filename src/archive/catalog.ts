/**
 * The archives on a backend. An archive object (archives/<hex ArchiveId>) holds its
 * encrypted name and its encrypted metadata (docs/FORMAT.md §Archive object). Only the
 * key holder can turn a name into an id or an id back into a name.
 */
import { type Backend, readObject } from '../backend/index.js';
import { type Keys, computeSiv, decrypt, encrypt, SIV_LENGTH } from '../crypto/index.js';
import { type AuthenticationError, FormatError, KeyError, type ObjectNotFoundError, UsageError, isDamagedObject } from '../errors/index.js';
import { type ArchiveId, asId, idToHex } from '../store/ids.js';
import { ARCHIVES_PREFIX, archiveIdFromKey, archiveKey } from '../store/layout.js';
import { ByteReader, ByteWriter } from './codec.js';
import { type ArchiveMetadata, decodeMetadata, encodeMetadata } from './metadata-format.js';

const MAGIC = Buffer.from('PRSVARC', 'ascii');
const CONTAINER_VERSION = 1;
const EMPTY = Buffer.alloc(0);
const MAX_NAME_BYTES = 4096;

export interface ArchiveRecord {
  readonly id: ArchiveId;
  readonly metadata: ArchiveMetadata;
}

/** An archive object that is listed but cannot be read: damaged, truncated, or gone meanwhile. */
export interface DamagedArchive {
  readonly id: ArchiveId;
  /** The backend key of its object, which names it in reports. */
  readonly key: string;
  readonly error: ArchiveDamage;
}

export type ArchiveDamage = AuthenticationError | FormatError | ObjectNotFoundError;

export interface CatalogListing {
  /** Oldest first. */
  readonly archives: ArchiveRecord[];
  readonly damaged: DamagedArchive[];
}


/** The parts of an archive object (docs/FORMAT.md §Archive object), still encrypted. */
interface SealedArchive {
  readonly encryptedName: Buffer;
  readonly metadataSiv: Buffer;
  readonly metadataCiphertext: Buffer;
}

export class UnknownArchiveError extends UsageError {
  constructor(name: string, location: string) {
    super(`there is no archive named ${JSON.stringify(name)} on ${location}`);
  }
}

export class ArchiveExistsError extends UsageError {
  constructor(name: string, location: string) {
    super(`an archive named ${JSON.stringify(name)} already exists on ${location}`);
  }
}

export class Catalog {
  constructor(
    private readonly backend: Backend,
    private readonly keys: Pick<Keys, 'archiveName' | 'archiveMetadata'>,
  ) {}

  idFor(name: string): ArchiveId {
    return asId(computeSiv(this.keys.archiveName, EMPTY, Buffer.from(name, 'utf8')), 'archive');
  }

  /** Fails early when `name` is taken; write() checks again, atomically. */
  async assertNameFree(name: string): Promise<void> {
    if (await this.backend.has(archiveKey(this.idFor(name)))) throw new ArchiveExistsError(name, this.backend.location);
  }

  async ids(): Promise<ArchiveId[]> {
    const ids: ArchiveId[] = [];
    for await (const { key } of this.backend.list(ARCHIVES_PREFIX)) {
      const id = archiveIdFromKey(key);
      if (id) ids.push(id);
    }
    return ids;
  }

  /**
   * Every archive, oldest first, and apart from them the archive objects that cannot be
   * read. One damaged object must not hide the others, nor pass for a wrong keyfile.
   */
  async list(): Promise<CatalogListing> {
    const archives: ArchiveRecord[] = [];
    const damaged: DamagedArchive[] = [];
    const ids = await this.ids();
    await Promise.all(
      ids.map(async (id) => {
        try {
          archives.push(await this.readById(id));
        } catch (error) {
          if (!isDamagedObject(error)) throw error;
          damaged.push({ id, key: archiveKey(id), error });
        }
      }),
    );
    if (archives.length === 0 && damaged.length > 0) await this.assertKeyMatches();
    archives.sort((a, b) => (a.metadata.createdAtNs < b.metadata.createdAtNs ? -1 : 1));
    return { archives, damaged };
  }

  /** The named archive, or every archive (and the damaged objects) when no name is given. */
  async select(name: string | undefined): Promise<CatalogListing> {
    return name === undefined ? this.list() : { archives: [await this.read(name)], damaged: [] };
  }

  async read(name: string): Promise<ArchiveRecord> {
    const id = this.idFor(name);
    if (!(await this.backend.has(archiveKey(id)))) {
      await this.assertKeyMatches();
      throw new UnknownArchiveError(name, this.backend.location);
    }
    // The id came from the name and this key, so a name that fails here is damage, not another key.
    return this.readById(id);
  }

  /** Removes archive `name` (its object only: gc frees what no other archive uses). */
  async remove(name: string): Promise<ArchiveRecord> {
    const record = await this.read(name);
    await this.backend.delete(archiveKey(record.id));
    return record;
  }

  /**
   * Fails with a KeyError when the backend holds archives and not one of their names
   * decrypts with this key: they were written with another keyfile. One name that
   * decrypts is enough (a forgery would need the key), so damaged objects are skipped.
   */
  async assertKeyMatches(): Promise<void> {
    const ids = await this.ids();
    for (const id of ids) {
      try {
        await readObject(this.backend, archiveKey(id), (object) => this.nameOf(id, this.unseal(id, object)));
        return;
      } catch (error) {
        if (!isDamagedObject(error)) throw error;
      }
    }
    if (ids.length > 0) {
      throw new KeyError(`the keyfile does not match the backend ${this.backend.location}: no archive name decrypts with it`);
    }
  }

  /**
   * Reads and authenticates one archive; AuthenticationError or FormatError when it is
   * damaged (a backend with several copies tries the next one first).
   */
  readById(id: ArchiveId): Promise<ArchiveRecord> {
    return readObject(this.backend, archiveKey(id), (object) => this.open(id, object));
  }

  private open(id: ArchiveId, object: Buffer): ArchiveRecord {
    const sealed = this.unseal(id, object);
    const name = this.nameOf(id, sealed);
    const what = `metadata of archive ${JSON.stringify(name)}`;
    const metadata = decodeMetadata(decrypt(this.keys.archiveMetadata, sealed.metadataSiv, id, sealed.metadataCiphertext, what), what);
    if (metadata.name !== name) throw new FormatError(`archive ${JSON.stringify(name)}`, `it carries the metadata of ${JSON.stringify(metadata.name)}`);
    return { id, metadata };
  }

  private unseal(id: ArchiveId, object: Buffer): SealedArchive {
    const input = new ByteReader(object, `archive object ${archiveKey(id)}`);
    if (!input.raw(MAGIC.length).equals(MAGIC)) input.fail('not a Preserve archive object');
    const version = input.u8();
    if (version !== CONTAINER_VERSION) input.fail(`unsupported archive object version ${version}`);
    return { encryptedName: input.bytes(MAX_NAME_BYTES), metadataSiv: input.raw(SIV_LENGTH), metadataCiphertext: input.rest() };
  }

  private nameOf(id: ArchiveId, sealed: SealedArchive): string {
    return decrypt(this.keys.archiveName, id, EMPTY, sealed.encryptedName, `name of archive ${idToHex(id)}`).toString('utf8');
  }

  /** Stores a new archive; fails if one of that name appeared meanwhile (another process). */
  async write(metadata: ArchiveMetadata): Promise<ArchiveId> {
    const nameBytes = Buffer.from(metadata.name, 'utf8');
    const sealedName = encrypt(this.keys.archiveName, EMPTY, nameBytes);
    const id = asId(sealedName.id, 'archive');
    const sealedMetadata = encrypt(this.keys.archiveMetadata, id, encodeMetadata(metadata));
    const object = new ByteWriter()
      .raw(MAGIC)
      .u8(CONTAINER_VERSION)
      .bytes(sealedName.ciphertext)
      .raw(sealedMetadata.id)
      .raw(sealedMetadata.ciphertext)
      .finish();
    if (!(await this.backend.put(archiveKey(id), object))) {
      throw new ArchiveExistsError(metadata.name, this.backend.location);
    }
    return id;
  }
}
