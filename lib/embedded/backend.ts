/**
 * The embedded backend: spool's queue transport and task store on one SQLite file, for local
 * development and single-machine deployments. Several processes (workers, the CLI, an app) may
 * share the file; every write is a `BEGIN IMMEDIATE` transaction, and a send wakes the long polls
 * of the other processes at once (a UDP datagram on 127.0.0.1, see option `crossProcessWake`).
 *
 * @example
 * ```ts
 * const backend = openEmbeddedBackend({ path: '.spool/spool.db' });
 * await backend.transport.tasks.send([{ body: '{}', deduplicationId: 'a', groupId: 'g' }]);
 * backend.close();
 * ```
 *
 * @module
 */

import type { PortableBackend } from '../backend/backend.js';
import type { SchedulerPort } from '../backend/scheduler.js';
import type { TaskStore } from '../backend/store.js';
import type { QueueTransport } from '../backend/transport.js';
import type { Logger } from '../log/logger.js';
import { DEFAULT_MAX_RECEIVE_COUNT } from '../protocol/limits.js';
import { ConfigurationError } from '../task/errors.js';
import { EmbeddedBlobStore } from './blobs.js';
import { MEMORY_PATH, type OpenDatabaseOptions, openDatabase } from './database.js';
import type { LongPollOptions } from './long-poll.js';
import { EmbeddedQueue } from './queue.js';
import { EmbeddedScheduler } from './scheduler.js';
import { EmbeddedStore } from './store.js';

/** Where the database file goes by default, relative to `process.cwd()`. */
export const DEFAULT_EMBEDDED_PATH = '.spool/spool.db';
/** The task queue's default name (the dead-letter queue is `<name>-dlq`). */
export const DEFAULT_QUEUE_NAME = 'spool';
/** Default redrive threshold: receives before a message moves to the dead-letter queue (the AWS queue's too). */
export { DEFAULT_MAX_RECEIVE_COUNT };

/** Options of {@link openEmbeddedBackend}. */
export interface EmbeddedBackendOptions {
  /**
   * The SQLite file (created with its directory if missing), relative to `process.cwd()`;
   * `':memory:'` for a private in-memory database (tests).
   * @default '.spool/spool.db'
   */
  readonly path?: string;
  /** Name of the task queue; its dead-letter queue is `${queueName}-dlq`. @default 'spool' */
  readonly queueName?: string;
  /** A message received this many times moves to the dead-letter queue on its next receive. @default 100 */
  readonly maxReceiveCount?: number;
  /** Clock, epoch ms (drives visibility, deduplication and TTLs in tests). @default Date.now */
  readonly now?: () => number;
  /** How long to wait for another process's write lock, ms. @default 5000 */
  readonly busyTimeoutMs?: number;
  /**
   * Wake long polls across processes: while a receive of this process waits, it listens for a UDP
   * datagram on 127.0.0.1 (a port the OS picks, registered in the file), and each commit of this
   * process that sends to a queue notifies the other processes waiting on it. Off, a receive finds
   * another process's messages by polling alone (every 5–50 ms, see `longPoll`); a lost or failed
   * wake-up also falls back to polling, so it only ever costs latency.
   * @default true
   */
  readonly crossProcessWake?: boolean;
  /**
   * The fallback polling of a long poll (the sleeps between two looks at the file).
   * @default { firstSleepMs: 5, maxSleepMs: 50 }
   */
  readonly longPoll?: LongPollOptions;
  /** Where the backend's diagnostics go (cross-process wake-ups that fail, at `debug`). @default silentLogger */
  readonly logger?: Logger;
}

/** An open embedded backend. */
export interface EmbeddedBackend {
  /** The task queue and its dead-letter queue. */
  readonly transport: QueueTransport;
  /** The task store. */
  readonly store: TaskStore;
  /** Recurring schedules and one-time timers, fired by the workers (`firing: 'in-process'`). */
  readonly scheduler: SchedulerPort;
  /** Absolute path of the database file (or `:memory:`). */
  readonly path: string;
  /**
   * How another thread opens the same file (`openEmbeddedBackend` with this backend's absolute
   * path, queue name, redrive threshold and busy timeout; cross-process wake-ups off, as that
   * thread never long-polls). Absent for `':memory:'` (another connection would be another
   * database) and with a custom `now` (a clock cannot cross threads).
   */
  readonly portable?: PortableBackend;
  /**
   * Close the connection; pending long polls return empty. The file's wake-up socket of this process
   * closes with its last connection (and its registrations are deleted). Idempotent.
   */
  close(): void;
}

/**
 * Open (creating if needed) the embedded backend's database and bind its queues and store.
 * Opening the same file again, in this process or another, gives an independent connection.
 *
 * @throws ConfigurationError on an invalid option, or a file created by a newer spool.
 */
export function openEmbeddedBackend(options: EmbeddedBackendOptions = {}): EmbeddedBackend {
  const queueName = options.queueName ?? DEFAULT_QUEUE_NAME;
  if (queueName.length === 0) {
    throw new ConfigurationError(
      `openEmbeddedBackend: queueName is empty. Pass a name or omit it for the default ('${DEFAULT_QUEUE_NAME}').`,
    );
  }
  const now = options.now ?? Date.now;
  const databaseOptions: OpenDatabaseOptions = {
    ...(options.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: options.busyTimeoutMs }),
    ...(options.crossProcessWake === undefined ? {} : { crossProcessWake: options.crossProcessWake }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  };
  const db = openDatabase(options.path ?? DEFAULT_EMBEDDED_PATH, databaseOptions);
  try {
    const deadLetterQueue = `${queueName}-dlq`;
    const longPoll = options.longPoll === undefined ? {} : { longPoll: options.longPoll };
    const tasks = new EmbeddedQueue(db, {
      name: queueName,
      now,
      redrive: { deadLetterQueue, maxReceiveCount: options.maxReceiveCount ?? DEFAULT_MAX_RECEIVE_COUNT },
      ...longPoll,
    });
    const deadLetters = new EmbeddedQueue(db, { name: deadLetterQueue, now, ...longPoll });
    const portable =
      db.path === MEMORY_PATH || options.now !== undefined ? undefined : portableRecipe(db.path, options);
    return {
      transport: { tasks, deadLetters },
      store: new EmbeddedStore(db, { now, blobs: new EmbeddedBlobStore(db, now) }),
      scheduler: new EmbeddedScheduler(db, tasks, now),
      path: db.path,
      ...(portable === undefined ? {} : { portable }),
      close: () => db.close(),
    };
  } catch (error) {
    db.close();
    throw error;
  }
}

/** The {@link PortableBackend} of an embedded backend on the file at the absolute `path`. */
function portableRecipe(path: string, options: EmbeddedBackendOptions): PortableBackend {
  const reopen: EmbeddedBackendOptions = {
    path,
    ...(options.queueName === undefined ? {} : { queueName: options.queueName }),
    ...(options.maxReceiveCount === undefined ? {} : { maxReceiveCount: options.maxReceiveCount }),
    ...(options.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: options.busyTimeoutMs }),
    crossProcessWake: false,
  };
  return { module: import.meta.url, exportName: 'openEmbeddedBackend', options: reopen };
}
