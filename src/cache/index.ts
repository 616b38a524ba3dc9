/**
 * cache: what `create` remembers between runs, per repository, in LevelDB under the
 * user's cache folder — for each file backed up, its metadata and chunk list, so an
 * unchanged file is not read again.
 */
export { FileCache, type CacheQuery, type CachedFile, type ChunkListCache } from './file-cache.js';
export { fingerprintOf, sameFingerprint, type FileFingerprint } from './fingerprint.js';
export { MemoryFileCache } from './memory-cache.js';
export { cacheFolder } from './location.js';
