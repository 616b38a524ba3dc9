/**
 * The archives on a backend. An archive object (archives/<hex ArchiveId>) holds its
 * encrypted name and its encrypted metadata (docs/FORMAT.md §Archive object). Only the
 * key holder can turn a name into an id or an id back into a name.
 */
import { type Backend, readObject } from '../backend/index.js';
import { type Keys, computeSiv, decrypt, encrypt, SIV_LENGTH } from '../crypto/index.js';
import { AuthenticationError, FormatError, KeyError, ObjectNotFoundError, UsageError } from '../errors/index.js';
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

/**
 * An archive name that does not authenticate: with one copy, the sign of another keyfile;
 * a backend holding several copies tries the next one first, as for any corrupt object.
 */
class ArchiveNameError extends AuthenticationError {}

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

  /** Every archive, oldest first. A name that does not decrypt means another key. */
  async list(): Promise<ArchiveRecord[]> {
    const records = await Promise.all((await this.ids()).map((id) => this.readById(id)));
    return records.sort((a, b) => (a.metadata.createdAtNs < b.metadata.createdAtNs ? -1 : 1));
  }

  async read(name: string): Promise<ArchiveRecord> {
    try {
      return await this.readById(this.idFor(name));
    } catch (error) {
      if (!(error instanceof ObjectNotFoundError)) throw error;
      await this.assertKeyMatches();
      throw new UnknownArchiveError(name, this.backend.location);
    }
  }

  /** Removes archive `name` (its object only: gc frees what no other archive uses). */
  async remove(name: string): Promise<ArchiveRecord> {
    const record = await this.read(name);
    await this.backend.delete(archiveKey(record.id));
    return record;
  }

  /**
   * Fails with a KeyError when the backend holds archives and the first one's name does not
   * decrypt with this key: it was written with another keyfile.
   */
  async assertKeyMatches(): Promise<void> {
    const [first] = await this.ids();
    if (first) await this.readById(first);
  }

  async readById(id: ArchiveId): Promise<ArchiveRecord> {
    try {
      return await readObject(this.backend, archiveKey(id), (object) => this.open(id, object));
    } catch (error) {
      if (!(error instanceof ArchiveNameError)) throw error;
      throw new KeyError(`the keyfile does not match the backend ${this.backend.location}: archive names do not decrypt with it`);
    }
  }

  /** Parses and authenticates one archive object; a backend with copies retries when this throws. */
  private open(id: ArchiveId, object: Buffer): ArchiveRecord {
    const input = new ByteReader(object, `archive object ${archiveKey(id)}`);
    if (!input.raw(MAGIC.length).equals(MAGIC)) input.fail('not a Preserve archive object');
    const version = input.u8();
    if (version !== CONTAINER_VERSION) input.fail(`unsupported archive object version ${version}`);
    const encryptedName = input.bytes(MAX_NAME_BYTES);
    const metadataSiv = input.raw(SIV_LENGTH);
    const metadataCiphertext = input.rest();
    let name: string;
    try {
      name = decrypt(this.keys.archiveName, id, EMPTY, encryptedName, `name of archive ${idToHex(id)}`).toString('utf8');
    } catch (error) {
      if (!(error instanceof AuthenticationError)) throw error;
      throw new ArchiveNameError(`name of archive ${idToHex(id)}`);
    }
    const metadata = decodeMetadata(
      decrypt(this.keys.archiveMetadata, metadataSiv, id, metadataCiphertext, `metadata of archive ${JSON.stringify(name)}`),
      `metadata of archive ${JSON.stringify(name)}`,
    );
    if (metadata.name !== name) throw new FormatError(`archive ${JSON.stringify(name)}`, `it carries the metadata of ${JSON.stringify(metadata.name)}`);
    return { id, metadata };
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
