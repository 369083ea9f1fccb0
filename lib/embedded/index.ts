/**
 * The embedded backend (SQLite via better-sqlite3): {@link openEmbeddedBackend} and its parts.
 *
 * @module
 */

export type { EmbeddedBackend, EmbeddedBackendOptions } from './backend.js';
export {
  DEFAULT_EMBEDDED_PATH,
  DEFAULT_MAX_RECEIVE_COUNT,
  DEFAULT_QUEUE_NAME,
  openEmbeddedBackend,
} from './backend.js';
export type { EmbeddedDatabase, OpenDatabaseOptions, SqliteConnection } from './database.js';
export {
  DEFAULT_BUSY_TIMEOUT_MS,
  MEMORY_PATH,
  openDatabase,
  runWrite,
  SCHEMA_VERSION,
  writeTransaction,
} from './database.js';
export type { EmbeddedQueueOptions, RedrivePolicy } from './queue.js';
export { EmbeddedQueue } from './queue.js';
export type { EmbeddedStoreOptions } from './store.js';
export { EmbeddedStore, SWEEP_EVERY, SWEEP_SPAN } from './store.js';
