/**
 * The embedded backend's SQLite file: opening it (directory, pragmas, schema) and running write
 * transactions with `BEGIN IMMEDIATE`, so that several processes sharing the file serialise their
 * writes (SQLite's write lock is taken at the start of the transaction, never upgraded midway).
 * The queues and the store write through one group commit per connection ({@link EmbeddedDatabase.write},
 * `group-commit.ts`), which waits for another process's write lock without blocking the event loop,
 * and WAL checkpoints run on a worker thread (`checkpointer.ts`).
 *
 * One file holds everything: the messages of every queue, the FIFO deduplication ids, the task
 * records and the unique/singleton locks. Nothing here is POSIX-only.
 *
 * Tables and indexes (each index exists for one query; every write touches as few B-trees as it can):
 * - `queues (id, name)`: each queue owns the rowid range `[id·2⁴⁰, (id+1)·2⁴⁰)` of `messages`.
 * - `messages (seq = rowid, queue, …, visible_at, receive_count)`: receive scans the
 *   queue's rowid range in send order; `messages_received (queue, group_id, visible_at) WHERE
 *   receive_count > 0` answers "is a message of this group in flight?" with one seek.
 * - `dedup (queue, group_id, dedup_id) → expires_at` (5-minute window, kept after delete), per
 *   message group as the deployed queue's (`DEDUPLICATION_SCOPE`); `dedup_by_expiry` for the sweep.
 * - `tasks (seq = rowid, id UNIQUE, …)`: one column per task record field, in write order (records
 *   written together share pages); `tasks_by_state (state, updated_at)` over the listable states
 *   for `list`. No index on `expires_at`: the sweep walks the table in rowid order (`store.ts`).
 *   On the happy path (claim, then finish as succeeded) only the table and its `id` index are
 *   written.
 * - `locks (key, holder, expires_at)`: `unique#…` and `singleton#…` locks; `locks_by_expiry`.
 * - `blobs (key, body, expires_at)`: the claim-check's blobs (`blobs.ts`); `blobs_by_expiry` for the sweep.
 * - `wake_listeners (queue, port) → token, pid, expires_at`: the processes whose long polls of a queue
 *   want a UDP datagram on `127.0.0.1:<port>` after another process's send (`wake.ts`); a handful
 *   of rows, read after each commit that sent.
 *
 * Wake-ups: a write that makes messages receivable calls {@link EmbeddedDatabase.wakeOnCommit}; once
 * the group commit's transactions are committed, the queue's receivers in this process are woken
 * (`events`), and those of other processes through `wake.ts` (one datagram per listening process).
 *
 * @module
 */

import { EventEmitter } from 'node:events';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { type Logger, silentLogger } from '../log/logger.js';
import { requirePeer } from '../peers.js';
import { ConfigurationError } from '../task/errors.js';
import {
  type CheckpointerLease,
  checkpointInBackground,
  DEFAULT_AUTOCHECKPOINT_FRAMES,
  MAIN_AUTOCHECKPOINT_FRAMES,
} from './checkpointer.js';
import { GroupCommit, MAX_TRANSACTION_WEIGHT } from './group-commit.js';
import { CrossProcessWake, WAKE_SCHEMA, WakeSocket, wakeEvent } from './wake.js';

/** A better-sqlite3 connection. */
export type SqliteConnection = Database.Database;

/** Version of the schema below, kept in SQLite's `user_version`. Bump it with a migration. */
export const SCHEMA_VERSION = 6;

/**
 * The states `list` can list, as the condition of the partial index `tasks_by_state` (a query
 * uses that index only when its WHERE clause repeats this condition). Written with `OR`, not
 * `IN (…)`: SQLite evaluates the condition on every write to `state`, and an `IN` list costs
 * it an ephemeral table each time (2.5–3.5 µs per claim or finish, measured).
 */
export const LISTABLE = "(state = 'retrying' OR state = 'failed' OR state = 'dead' OR state = 'cancelled')";

/** The columns of a task record (table `tasks`, after its rowid `seq`), in order. */
export const TASK_COLUMNS =
  'id, task, state, attempt, lease_owner, lease_expires_at, next_run_at, result, error, progress, cancel_requested, ' +
  'singleton_key, unique_key, created_at, updated_at, started_at, finished_at, expires_at, result_ref, args_hash, ' +
  'enqueued_by';

/**
 * Table `tasks` and its indexes. Keyed by a rowid with `id` UNIQUE: records written
 * at about the same time share pages, so a group commit of many claims or finishes writes a few
 * pages instead of one per record (task ids are random: as the key they scattered writes over the
 * whole table). `tasks_by_state` indexes only the states `list` lists. There is no index on
 * `expires_at` (its upkeep cost 3–4 µs per finish, which moves `expires_at`): the sweep walks
 * the table by rowid instead.
 */
const TASKS_SCHEMA = `
CREATE TABLE IF NOT EXISTS tasks (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  task TEXT NOT NULL,
  state TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  lease_owner TEXT,
  lease_expires_at INTEGER,
  next_run_at INTEGER,
  result TEXT,
  error TEXT,
  progress TEXT,
  cancel_requested INTEGER,
  singleton_key TEXT,
  unique_key TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  expires_at INTEGER NOT NULL,
  result_ref TEXT,
  args_hash TEXT,
  enqueued_by TEXT
);
CREATE INDEX IF NOT EXISTS tasks_by_state ON tasks (state, updated_at) WHERE ${LISTABLE};
`;

/**
 * Tables of the scheduler port (./scheduler.ts): recurring schedules (`spec` is the schedule's
 * JSON, `state` ENABLED or DISABLED) and one-time timers (`message` is the message's JSON), each
 * per queue. Added in schema version 2.
 */
const SCHEDULER_SCHEMA = `
CREATE TABLE IF NOT EXISTS schedules (
  queue TEXT NOT NULL,
  name TEXT NOT NULL,
  spec TEXT NOT NULL,
  state TEXT NOT NULL,
  last_fire_at INTEGER,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (queue, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS timers (
  queue TEXT NOT NULL,
  name TEXT NOT NULL,
  due_at INTEGER NOT NULL,
  message TEXT NOT NULL,
  PRIMARY KEY (queue, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS timers_by_due ON timers (queue, due_at);
`;

/**
 * Table of the blob port (./blobs.ts): the claim-check's blobs by key, with their expiry, and the
 * index the sweep uses. Added in schema version 5, with column `tasks.result_ref` (a result kept as
 * a blob: its reference as JSON).
 */
const BLOBS_SCHEMA = `
CREATE TABLE IF NOT EXISTS blobs (
  key TEXT PRIMARY KEY,
  body TEXT NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS blobs_by_expiry ON blobs (expires_at);
`;

/**
 * Table `dedup`: the FIFO deduplication ids of the last 5 minutes, per queue and message group
 * (the scope of the queue the construct deploys, `DEDUPLICATION_SCOPE` in
 * `lib/backend/transport.ts`). Per group since schema version 6 (before: per queue).
 */
const DEDUP_SCHEMA = `
CREATE TABLE IF NOT EXISTS dedup (
  queue TEXT NOT NULL,
  group_id TEXT NOT NULL,
  dedup_id TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (queue, group_id, dedup_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dedup_by_expiry ON dedup (expires_at);
`;

/** How long a connection waits for another process's write lock before failing, ms. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/** The path that opens a private in-memory database (tests). */
export const MEMORY_PATH = ':memory:';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS queues (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY,
  queue TEXT NOT NULL,
  message_id TEXT NOT NULL,
  group_id TEXT NOT NULL,
  dedup_id TEXT NOT NULL,
  body TEXT NOT NULL,
  attributes TEXT,
  sent_at INTEGER NOT NULL,
  visible_at INTEGER NOT NULL,
  receive_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_received ON messages (queue, group_id, visible_at) WHERE receive_count > 0;
${DEDUP_SCHEMA}
${TASKS_SCHEMA}
CREATE TABLE IF NOT EXISTS locks (
  key TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS locks_by_expiry ON locks (expires_at);
${SCHEDULER_SCHEMA}${WAKE_SCHEMA}${BLOBS_SCHEMA}`;

/**
 * Upgrades of an existing file, by the version they start from (`from` → `from + 1`). A new file
 * gets {@link SCHEMA} at once. Add one here when the schema changes, and bump {@link SCHEMA_VERSION}.
 */
const MIGRATIONS: Readonly<Record<number, string | ((sqlite: SqliteConnection) => void)>> = {
  1: SCHEDULER_SCHEMA,
  2: `DROP INDEX IF EXISTS tasks_by_expiry;
DROP INDEX IF EXISTS tasks_by_state;
CREATE INDEX tasks_by_state ON tasks (state, updated_at) WHERE ${LISTABLE};`,
  3: WAKE_SCHEMA,
  4: (sqlite) => {
    const columns = sqlite.prepare<[], { name: string }>('PRAGMA table_info(tasks)').all();
    if (!columns.some((c) => c.name === 'result_ref')) sqlite.exec('ALTER TABLE tasks ADD COLUMN result_ref TEXT');
    sqlite.exec(BLOBS_SCHEMA);
  },
  // The ids in `dedup` lapse within 5 minutes and their groups were not kept: they are dropped. A
  // copy of a message sent again within 5 minutes of the upgrade is delivered; the store's claim
  // still runs it once (its record is there, or the first claim binds it).
  5: (sqlite) => {
    const columns = new Set(
      sqlite
        .prepare<[], { name: string }>('PRAGMA table_info(tasks)')
        .all()
        .map((c) => c.name),
    );
    if (!columns.has('args_hash')) sqlite.exec('ALTER TABLE tasks ADD COLUMN args_hash TEXT');
    if (!columns.has('enqueued_by')) sqlite.exec('ALTER TABLE tasks ADD COLUMN enqueued_by TEXT');
    sqlite.exec(`DROP TABLE IF EXISTS dedup;${DEDUP_SCHEMA}`);
  },
};

/** Options of {@link openDatabase}. */
export interface OpenDatabaseOptions {
  /** How long to wait for another connection's lock, ms. @default DEFAULT_BUSY_TIMEOUT_MS (5000) */
  readonly busyTimeoutMs?: number;
  /**
   * Wake long polls across processes: a receive of this process about to sleep registers for a UDP
   * datagram on 127.0.0.1, and this process's sends notify the other processes' registered receives
   * (`wake.ts`). Off, receives of other processes find this process's messages by polling only.
   * @default true
   */
  readonly crossProcessWake?: boolean;
  /** Where the wake-ups' failures go (at `debug`: each only costs latency). @default silentLogger */
  readonly logger?: Logger;
}

/** An open embedded database: the connection plus what every user of it shares. */
export interface EmbeddedDatabase {
  /** The better-sqlite3 connection. */
  readonly sqlite: SqliteConnection;
  /** Absolute path of the file, or `:memory:`. */
  readonly path: string;
  /**
   * In-process wake-ups: emits `message:<queue>` (`wakeEvent`) after a commit made one of the queue's
   * messages receivable, by this process or (through `wake.ts`) another. Shared by every connection
   * this process has to the same file.
   */
  readonly events: EventEmitter;
  /** Aborted when the database is closed (wakes long polls so they return). */
  readonly closed: AbortSignal;
  /**
   * Group commit: run `fn` (one write: read, check, write; synchronous) in the next shared write
   * transaction. Every write requested in one turn of the event loop, by the queues and the store
   * alike, runs one after another in one `BEGIN IMMEDIATE … COMMIT` (several, when their `weight`s
   * add up to more than {@link MAX_TRANSACTION_WEIGHT}); each sees the ones before it, exactly as
   * if each had its own transaction, and its promise settles only after the COMMIT. If a write
   * throws, the transaction is rolled back and each of its writes runs again in its own, so a
   * failing write fails alone. While another process holds the write lock, the transaction waits
   * for it without blocking the event loop, trying again every turn at first, then every few ms;
   * if it cannot begin within the busy timeout, each of its writes rejects with SQLite's error.
   */
  write<R>(fn: () => R, weight?: number): Promise<R>;
  /**
   * Call from inside a write that made messages of `queue` receivable: once this group commit's
   * transactions are committed, `message:<queue>` is emitted on {@link events}, and the other
   * processes listening to `queue` are notified (once per group commit, whatever the number of calls).
   * A write rolled back may still wake: a wake-up that finds nothing only costs a poll.
   */
  wakeOnCommit(queue: string): void;
  /**
   * Call when a receive of `queue` is about to sleep: makes sure this process is registered for the
   * other processes' wake-ups. Returns the registration in progress (never rejects); poll once more
   * after it, before sleeping (a message sent before it committed was not notified). `undefined`
   * when there is nothing to wait for: already registered, cross-process wake-ups off or failing,
   * or an in-memory database.
   */
  listen(queue: string): Promise<void> | undefined;
  /** Close the connection (committing the writes still pending first). Idempotent. */
  close(): void;
}

export { MAX_TRANSACTION_WEIGHT };

/**
 * What the connections of this process to one file share: the in-process wake-up emitter and the
 * cross-process wake socket (none for an in-memory database), with a reference count.
 */
interface Channel {
  readonly events: EventEmitter;
  readonly wake: WakeSocket | undefined;
  users: number;
}

/** Per-file channels of this process. */
const channels = new Map<string, Channel>();

function acquireChannel(key: string, memory: boolean, logger: Logger): Channel {
  const found = channels.get(key);
  if (found) {
    found.users += 1;
    return found;
  }
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const channel: Channel = { events, wake: memory ? undefined : new WakeSocket(events, logger), users: 1 };
  channels.set(key, channel);
  return channel;
}

/** Release one use of the channel; closes its wake socket (through `sqlite`) if it was the last. */
function releaseChannel(key: string, sqlite: SqliteConnection): void {
  const found = channels.get(key);
  if (!found) return;
  found.users -= 1;
  if (found.users > 0) return;
  channels.delete(key);
  found.wake?.close(sqlite);
}

/** Create the directories up to `path` (0700) and the file itself (0600) where they are missing. */
function createPrivately(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // 'a': create if missing, never truncate; the mode applies only to a file this call creates.
  try {
    closeSync(openSync(path, 'a', 0o600));
  } catch {
    // Not a file that can be opened (a directory, no permission): SQLite's open below says so.
  }
}

/**
 * Open (creating if needed) the SQLite file at `path` with the embedded schema.
 * `path` is resolved against `process.cwd()`; its parent directory is created. `:memory:` opens a
 * private in-memory database. A new file is readable by its owner only (mode 0600, and so are the
 * `-wal` and `-shm` files SQLite makes beside it: it gives them the file's mode), in a directory
 * spool creates as 0700: it holds every run's arguments and results. An existing file keeps its mode.
 *
 * @throws ConfigurationError when the file was created by a newer spool (schema version above ours).
 */
export function openDatabase(path: string, options: OpenDatabaseOptions = {}): EmbeddedDatabase {
  const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new ConfigurationError(
      `embedded backend: busyTimeoutMs must be an integer ≥ 0 (milliseconds), got ${String(busyTimeoutMs)}. ` +
        `Omit it for the default (${DEFAULT_BUSY_TIMEOUT_MS}).`,
    );
  }
  const memory = path === MEMORY_PATH;
  const fullPath = memory ? MEMORY_PATH : resolve(path);
  if (!memory) createPrivately(fullPath);
  // Loaded on first use, so that importing spool never needs the native addon.
  const Sqlite = requirePeer<typeof Database>('better-sqlite3');
  const sqlite = new Sqlite(fullPath, { timeout: busyTimeoutMs });
  try {
    sqlite.pragma(`busy_timeout = ${busyTimeoutMs}`);
    if (!memory) sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    migrate(sqlite, fullPath);
  } catch (error) {
    sqlite.close();
    throw error;
  }
  // WAL checkpoints (and their fsyncs) run on a worker thread; this connection keeps a distant
  // automatic checkpoint as a safety net, and SQLite's default if the worker cannot run. Only from
  // the main thread: a connection opened in a worker thread (the lease keeper's) would start a
  // second checkpointer for the same file; it keeps SQLite's automatic checkpoint, on its thread.
  let checkpointer: CheckpointerLease | undefined;
  if (!memory && isMainThread) {
    checkpointer = checkpointInBackground(fullPath, () => {
      if (sqlite.open) sqlite.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT_FRAMES}`);
    });
    if (checkpointer !== undefined) sqlite.pragma(`wal_autocheckpoint = ${MAIN_AUTOCHECKPOINT_FRAMES}`);
  }
  const logger = options.logger ?? silentLogger;
  // An in-memory database is private to its connection, so it gets a private channel.
  const channelKey = memory ? `${MEMORY_PATH}#${Math.random()}` : fullPath;
  const channel = acquireChannel(channelKey, memory, logger);
  const events = channel.events;
  const closing = new AbortController();
  let crossProcess: CrossProcessWake | undefined;
  const group = new GroupCommit(sqlite, busyTimeoutMs, (queues) => {
    for (const queue of queues) events.emit(wakeEvent(queue));
    crossProcess?.notify(queues);
  });
  if (channel.wake !== undefined && options.crossProcessWake !== false) {
    try {
      crossProcess = new CrossProcessWake(sqlite, channel.wake, (fn) => group.write(fn, 1), logger);
    } catch (error) {
      logger.debug('cross-process wake-ups off for this connection; long polls will poll', { error });
    }
  }
  return {
    sqlite,
    path: fullPath,
    events,
    closed: closing.signal,
    write: (fn, weight = 1) => group.write(fn, weight),
    wakeOnCommit: (queue) => group.wakeOnCommit(queue),
    listen: (queue) => (closing.signal.aborted ? undefined : crossProcess?.listen(queue)),
    close(): void {
      if (closing.signal.aborted) return;
      closing.abort();
      // Writes already requested are committed, as if each had run at once (a pending receive
      // sees `closed` and takes nothing).
      group.flush(true);
      releaseChannel(channelKey, sqlite);
      sqlite.close();
      checkpointer?.release();
    },
  };
}

function migrate(sqlite: SqliteConnection, path: string): void {
  const version = () => Number(sqlite.pragma('user_version', { simple: true }));
  if (version() === SCHEMA_VERSION) return;
  runWrite(sqlite, () => {
    const found = version();
    if (found === SCHEMA_VERSION) return;
    if (found > SCHEMA_VERSION) {
      throw new ConfigurationError(
        `embedded backend: ${path} has schema version ${found}, this spool knows up to ${SCHEMA_VERSION}. ` +
          'Upgrade spool, or point the backend at another file (option `path`).',
      );
    }
    if (found === 0) {
      sqlite.exec(SCHEMA);
    } else {
      for (let from = found; from < SCHEMA_VERSION; from++) {
        const migration = MIGRATIONS[from];
        if (migration === undefined) throw new Error(`embedded backend: no migration from schema version ${from}`);
        if (typeof migration === 'string') sqlite.exec(migration);
        else migration(sqlite);
      }
    }
    sqlite.pragma(`user_version = ${SCHEMA_VERSION}`);
  });
}

/**
 * Wrap `fn` as a reusable write transaction: each call runs it inside `BEGIN IMMEDIATE … COMMIT`
 * (rolled back if it throws). Create it once and call it many times.
 */
export function writeTransaction<A extends unknown[], R>(
  sqlite: SqliteConnection,
  fn: (...args: A) => R,
): (...args: A) => R {
  const transaction = sqlite.transaction(fn);
  return (...args: A): R => transaction.immediate(...args);
}

/** Run `fn` once inside `BEGIN IMMEDIATE … COMMIT` (rolled back if it throws). */
export function runWrite<R>(sqlite: SqliteConnection, fn: () => R): R {
  return sqlite.transaction(fn).immediate();
}
