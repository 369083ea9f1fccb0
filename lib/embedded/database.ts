/**
 * The embedded backend's SQLite file: opening it (directory, pragmas, schema) and running write
 * transactions with `BEGIN IMMEDIATE`, so that several processes sharing the file serialise their
 * writes (SQLite's write lock is taken at the start of the transaction, never upgraded midway).
 * The queues and the store write through one group commit per connection ({@link EmbeddedDatabase.write}),
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
 * - `dedup (queue, dedup_id) → expires_at` (5-minute window, kept after delete); `dedup_by_expiry`
 *   for the sweep.
 * - `tasks (seq = rowid, id UNIQUE, …)`: one column per task record field, in write order (records
 *   written together share pages); `tasks_by_state (state, updated_at)` over the listable states
 *   for `list`. No index on `expires_at`: the sweep walks the table in rowid order (`store.ts`).
 *   On the happy path (claim, then finish as succeeded) only the table and its `id` index are
 *   written.
 * - `locks (key, holder, expires_at)`: `unique#…` and `singleton#…` locks; `locks_by_expiry`.
 *
 * @module
 */

import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type Database from 'better-sqlite3';
import { requirePeer } from '../peers.js';
import { ConfigurationError } from '../task/errors.js';
import {
  type CheckpointerLease,
  checkpointInBackground,
  DEFAULT_AUTOCHECKPOINT_FRAMES,
  MAIN_AUTOCHECKPOINT_FRAMES,
} from './checkpointer.js';

/** A better-sqlite3 connection. */
export type SqliteConnection = Database.Database;

/** Version of the schema below, kept in SQLite's `user_version`. Bump it with a migration. */
export const SCHEMA_VERSION = 3;

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
  'singleton_key, unique_key, created_at, updated_at, started_at, finished_at, expires_at';

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
  expires_at INTEGER NOT NULL
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
CREATE TABLE IF NOT EXISTS dedup (
  queue TEXT NOT NULL,
  dedup_id TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (queue, dedup_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dedup_by_expiry ON dedup (expires_at);
${TASKS_SCHEMA}
CREATE TABLE IF NOT EXISTS locks (
  key TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS locks_by_expiry ON locks (expires_at);
${SCHEDULER_SCHEMA}`;

/**
 * Upgrades of an existing file, by the version they start from (`from` → `from + 1`). A new file
 * gets {@link SCHEMA} at once. Add one here when the schema changes, and bump {@link SCHEMA_VERSION}.
 */
const MIGRATIONS: Readonly<Record<number, string>> = {
  1: SCHEDULER_SCHEMA,
  2: `DROP INDEX IF EXISTS tasks_by_expiry;
DROP INDEX IF EXISTS tasks_by_state;
CREATE INDEX tasks_by_state ON tasks (state, updated_at) WHERE ${LISTABLE};`,
};

/** Options of {@link openDatabase}. */
export interface OpenDatabaseOptions {
  /** How long to wait for another connection's lock, ms. @default DEFAULT_BUSY_TIMEOUT_MS (5000) */
  readonly busyTimeoutMs?: number;
}

/** An open embedded database: the connection plus what every user of it shares. */
export interface EmbeddedDatabase {
  /** The better-sqlite3 connection. */
  readonly sqlite: SqliteConnection;
  /** Absolute path of the file, or `:memory:`. */
  readonly path: string;
  /**
   * In-process wake-ups: emits `message:<queue>` after a commit made one of the queue's messages receivable.
   * Shared by every connection this process has to the same file.
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
   * failing write fails alone. If the transaction cannot begin (another process holds the write
   * lock past the busy timeout), each of its writes rejects with that error.
   */
  write<R>(fn: () => R, weight?: number): Promise<R>;
  /** Close the connection (committing the writes still pending first). Idempotent. */
  close(): void;
}

/**
 * Most weight (≈ rows written: a message, a record) one group-commit transaction carries, which
 * bounds how long it holds the write lock; a single heavier write still runs, alone.
 */
export const MAX_TRANSACTION_WEIGHT = 500;

/** A write waiting for the next group commit. */
interface PendingWrite {
  readonly run: () => unknown;
  readonly weight: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** The group-commit scheduler of one connection (see {@link EmbeddedDatabase.write}). */
class GroupCommit {
  readonly #tx: (writes: readonly PendingWrite[], results: unknown[]) => void;
  #pending: PendingWrite[] = [];
  #scheduled = false;
  /** Whether the current transaction got as far as running a write (so BEGIN succeeded). */
  #began = false;

  constructor(sqlite: SqliteConnection) {
    this.#tx = writeTransaction(sqlite, (writes: readonly PendingWrite[], results: unknown[]) => {
      this.#began = true;
      for (const write of writes) results.push(write.run());
    });
  }

  write<R>(fn: () => R, weight: number): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#pending.push({ run: fn, weight, resolve: resolve as (value: unknown) => void, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commit everything pending now, in call order. */
  flush(): void {
    this.#scheduled = false;
    while (this.#pending.length > 0) {
      let count = 0;
      let weight = 0;
      for (const write of this.#pending) {
        if (count > 0 && weight + write.weight > MAX_TRANSACTION_WEIGHT) break;
        count += 1;
        weight += write.weight;
      }
      this.#commit(this.#pending.splice(0, count));
    }
  }

  #commit(batch: readonly PendingWrite[]): void {
    const results: unknown[] = [];
    this.#began = false;
    try {
      this.#tx(batch, results);
    } catch (error) {
      if (batch.length === 1 || !this.#began) {
        for (const write of batch) write.reject(error);
        return;
      }
      // One write threw, or COMMIT failed: the whole batch was rolled back. Run each write in its
      // own transaction, as if they had never been grouped.
      for (const write of batch) {
        const alone: unknown[] = [];
        try {
          this.#tx([write], alone);
          write.resolve(alone[0]);
        } catch (failure) {
          write.reject(failure);
        }
      }
      return;
    }
    for (let index = 0; index < batch.length; index++) batch[index]?.resolve(results[index]);
  }
}

/** Per-file emitters shared by the connections of this process, with a reference count. */
const channels = new Map<string, { readonly events: EventEmitter; users: number }>();

function acquireChannel(key: string): EventEmitter {
  const found = channels.get(key);
  if (found) {
    found.users += 1;
    return found.events;
  }
  const events = new EventEmitter();
  events.setMaxListeners(0);
  channels.set(key, { events, users: 1 });
  return events;
}

function releaseChannel(key: string): void {
  const found = channels.get(key);
  if (!found) return;
  found.users -= 1;
  if (found.users <= 0) channels.delete(key);
}

/**
 * Open (creating if needed) the SQLite file at `path` with the embedded schema.
 * `path` is resolved against `process.cwd()`; its parent directory is created. `:memory:` opens a
 * private in-memory database.
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
  if (!memory) mkdirSync(dirname(fullPath), { recursive: true });
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
  // automatic checkpoint as a safety net, and SQLite's default if the worker cannot run.
  let checkpointer: CheckpointerLease | undefined;
  if (!memory) {
    checkpointer = checkpointInBackground(fullPath, () => {
      if (sqlite.open) sqlite.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT_FRAMES}`);
    });
    if (checkpointer !== undefined) sqlite.pragma(`wal_autocheckpoint = ${MAIN_AUTOCHECKPOINT_FRAMES}`);
  }
  // An in-memory database is private to its connection, so it gets a private channel.
  const channelKey = memory ? `${MEMORY_PATH}#${Math.random()}` : fullPath;
  const events = acquireChannel(channelKey);
  const closing = new AbortController();
  const group = new GroupCommit(sqlite);
  return {
    sqlite,
    path: fullPath,
    events,
    closed: closing.signal,
    write: (fn, weight = 1) => group.write(fn, weight),
    close(): void {
      if (closing.signal.aborted) return;
      closing.abort();
      // Writes already requested are committed, as if each had run at once (a pending receive
      // sees `closed` and takes nothing).
      group.flush();
      releaseChannel(channelKey);
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
        sqlite.exec(migration);
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
