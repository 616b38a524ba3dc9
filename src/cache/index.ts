/**
 * cache: what `create` remembers between runs, per repository, in LevelDB under the
 * user's cache folder — for each folder backed up, its children's metadata, its tree and
 * its files' chunk lists, so that an unchanged folder or file is not read again.
 */
export { FileCache, type BackupCache } from './file-cache.js';
export { FolderRecord, type CachedFile, type FolderSummary } from './folder-record.js';
export { fingerprintOf, sameFingerprint, type FileFingerprint } from './fingerprint.js';
export { BlockIdMap } from './block-id-map.js';
export { MemoryFileCache } from './memory-cache.js';
export { cacheFolder } from './location.js';
