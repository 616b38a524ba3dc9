/** backend: the small storage interface, its implementations, and the wrappers that add behaviour. */
export { hasObjects, putObjects, readObject, type Backend, type BackendNotes, type NewObject, type ObjectInfo, type ObjectOpener, type PutOptions } from './backend.js';
export { FileBackend } from './file-backend.js';
export { DryRunBackend } from './dry-run-backend.js';
export { MirrorBackend, type MemberReport } from './mirror-backend.js';
export { localFolderOf, openBackend, openBackends, type OpenBackendOptions, type OpenBackendsOptions } from './open.js';
