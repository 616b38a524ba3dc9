/** backend: the small storage interface and its implementations (a local folder today). */
export type { Backend } from './backend.js';
export { FileBackend } from './file-backend.js';
export { openBackend, type OpenBackendOptions } from './open.js';
