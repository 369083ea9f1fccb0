/**
 * `spool-tasks/embedded`: the embedded backend, spool's queues, store and scheduler on one SQLite
 * file (better-sqlite3, an optional peer dependency), for local development, tests and
 * single-machine deployments. See {@link openEmbeddedBackend}.
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
export type { LongPollOptions } from './long-poll.js';
