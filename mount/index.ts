/**
 * mount: `preserve mount`, a thin read-only FUSE adapter (our own kernel connection, or fuse-native) over the snapshot
 * view of src/archive. Folders are fetched when first visited, blocks when first read
 * (then kept in a byte-bounded LRU, with readahead for forward reads); owners are
 * mapped by name. docs/MOUNT.md describes how and why.
 */
export { FuseUnavailableError, chooseTransport } from './fuse.js';
export { prepareMountpoint, serveMount, type MountEvents, type MountOptions, type MountSummary } from './session.js';
export type { OwnerOptions } from './owners.js';
