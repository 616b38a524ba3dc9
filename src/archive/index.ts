/**
 * archive: the archive format (docs/FORMAT.md) — entries, folder trees, archive metadata,
 * the catalog of archives on a backend — and the snapshot view every reader shares.
 */
export * from './entry.js';
export { encodeTree, decodeTree } from './tree-format.js';
export { encodeMetadata, decodeMetadata, MAX_TEXT_BYTES, METADATA_FORMAT_VERSION, type ArchiveMetadata, type ArchiveTotals } from './metadata-format.js';
export { ArchiveExistsError, Catalog, UnknownArchiveError, type ArchiveDamage, type ArchiveRecord, type CatalogListing, type DamagedArchive } from './catalog.js';
export { describeSource, encodeSource, sourcePathsOf, sourceRootOf } from './source.js';
export { FileContent, Snapshot, SnapshotDirectory, readChunk, readChunksAhead, type BlockSource, type ResolvedEntry, type TreeSource } from './snapshot.js';
