/**
 * {@link EmbeddedStore}: the task store port (`lib/backend/store.ts`) on the embedded SQLite file.
 *
 * Each write method reads the record (and lock), decides with the store rules
 * (`lib/backend/store-rules.ts`), and writes, inside a `BEGIN IMMEDIATE` transaction — so it is
 * atomic across connections and processes, follow-ups included. Writes are
 * group-committed with every other write to the file (the queues' too) requested in the same turn
 * of the event loop: they share one transaction (see {@link EmbeddedDatabase.write}), and each
 * resolves only after that COMMIT. Table `tasks`
 * holds the records (one column per field), table `locks` the `unique#…` and `singleton#…` locks.
 * A record or lock with `expires_at ≤ now` reads as absent; expired rows are swept opportunistically:
 * every {@link SWEEP_EVERY} writes, the expired records among the next {@link SWEEP_SPAN} rowids
 * are deleted (a cursor that wraps around at the end of the table, so every record is visited in
 * turn, twice as fast as writes can add records), and up to {@link SWEEP_LIMIT} expired locks
 * (their table is small and indexed by expiry). Each lap of the cursor starts at the oldest row
 * (`min(seq)`, one seek), so a lap covers the live rows only, however many were ever written.
 *
 * @module
 */

import type {
  AcquireUniqueInput,
  AcquireUniqueResult,
  CancelInput,
  CancelResult,
  ClaimInput,
  ClaimResult,
  DeadLetterInput,
  DeadLetterResult,
  FinishInput,
  FinishResult,
  HeartbeatInput,
  HeartbeatResult,
  ListableState,
  ReviveInput,
  ReviveResult,
  TaskRecord,
  TaskStore,
} from '../backend/store.js';
import {
  decideAcquireUnique,
  decideCancel,
  decideClaim,
  decideDeadLetter,
  decideRevive,
  holdsLease,
  type Lock,
  type LockRef,
  mayTakeLock,
  releasedAttempts,
  releasedLocks,
} from '../backend/store-rules.js';
import { lockName } from '../protocol/ids.js';
import { ConfigurationError } from '../task/errors.js';
import { isTerminal, type TaskState } from '../task/states.js';
import type { EmbeddedBlobStore } from './blobs.js';
import type { EmbeddedDatabase } from './database.js';
import { LISTABLE, TASK_COLUMNS } from './database.js';
import { errorColumn, fromRow, newRecord, type TaskRow, type TaskRowFields, toRow } from './task-row.js';

/** Options of {@link EmbeddedStore}. */
export interface EmbeddedStoreOptions {
  /** Clock for the methods that take no `now` (`get`, `list`, `releaseUnique`), epoch ms. @default Date.now */
  readonly now?: () => number;
  /** The file's blob store, swept with the records (and {@link TaskStore.blobs}). */
  readonly blobs?: EmbeddedBlobStore;
}

/** Sweep expired records and locks every this many writes. */
export const SWEEP_EVERY = 100;
/** Rowids of `tasks` one sweep looks at (records are dense in rowid order). */
export const SWEEP_SPAN = 2 * SWEEP_EVERY;
/** Most expired locks one sweep deletes. */
const SWEEP_LIMIT = 500;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** A first claim's binding (`TaskStore.claim`'s update): the input's `argsHash` and `enqueuedBy`. */
function bindArguments(record: Mutable<TaskRecord>, input: ClaimInput): void {
  if (input.argsHash !== undefined) record.argsHash = input.argsHash;
  if (input.enqueuedBy !== undefined) record.enqueuedBy = input.enqueuedBy;
}

/** The task store of the embedded backend. */
export class EmbeddedStore implements TaskStore {
  /** Where results, error messages and arguments too large for a record or a message are kept. */
  readonly blobs?: EmbeddedBlobStore;
  readonly #now: () => number;
  readonly #read: (id: string, now: number) => TaskRecord | undefined;
  readonly #readState: (id: string, now: number) => string | undefined;
  /** Write a whole record: `existed` when this transaction read it (then an UPDATE in place suffices). */
  readonly #write: (record: TaskRecord, existed: boolean) => void;
  /** Fast path of claim: insert a new running record; false when the id has a row (live or expired). */
  readonly #insertClaim: (input: ClaimInput) => boolean;
  /** Finish's conditional update itself: whether the lease was ours (then the row was updated). */
  readonly #updateFinish: (input: FinishInput) => boolean;
  readonly #readLock: (key: string, now: number) => Lock | undefined;
  readonly #writeLock: (key: string, holder: string, expiresAt: number) => void;
  readonly #releaseLock: (key: string, holder: string) => void;
  readonly #list: (state: string, now: number, limit: number) => TaskRecord[];
  readonly #sweep: (now: number) => void;
  readonly #db: EmbeddedDatabase;
  #writes = 0;
  /** The sweep has looked at records up to this rowid (0: start over). */
  #sweptTo = 0;

  /** Bind to `db` (prepares the statements once). */
  constructor(db: EmbeddedDatabase, options: EmbeddedStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
    if (options.blobs !== undefined) this.blobs = options.blobs;
    this.#db = db;
    const sqlite = db.sqlite;
    // Positional parameters and raw rows (arrays, in TASK_COLUMNS order): no per-call objects.
    const select = sqlite
      .prepare<[string, number], TaskRow>(`SELECT ${TASK_COLUMNS} FROM tasks WHERE id = ? AND expires_at > ?`)
      .raw();
    // Full-record writes that keep the row (and its rowid) when the id exists, expired or not: the
    // same result as INSERT OR REPLACE, without moving the row or rewriting its `id` index entry.
    // The UPSERT is for records that read as absent (an expired row may still be there).
    const upsert = sqlite.prepare<TaskRow>(
      `INSERT INTO tasks (${TASK_COLUMNS}) VALUES (${TASK_COLUMNS.split(', ')
        .map(() => '?')
        .join(', ')})
       ON CONFLICT (id) DO UPDATE SET ${TASK_COLUMNS.split(', ')
         .filter((column) => column !== 'id')
         .map((column) => `${column} = excluded.${column}`)
         .join(', ')}`,
    );
    const update = sqlite.prepare<[...TaskRowFields, id: string]>(
      `UPDATE tasks SET ${TASK_COLUMNS.split(', ')
        .filter((column) => column !== 'id')
        .map((column) => `${column} = ?`)
        .join(', ')} WHERE id = ?`,
    );
    const selectLock = sqlite.prepare<[string, number], Lock>(
      'SELECT holder, expires_at AS expiresAt FROM locks WHERE key = ? AND expires_at > ?',
    );
    const upsertLock = sqlite.prepare<[string, string, number]>(
      'INSERT OR REPLACE INTO locks (key, holder, expires_at) VALUES (?, ?, ?)',
    );
    const deleteLock = sqlite.prepare<[string, string]>('DELETE FROM locks WHERE key = ? AND holder = ?');
    const list = sqlite
      .prepare<[string, number, number], TaskRow>(
        `SELECT ${TASK_COLUMNS} FROM tasks WHERE state = ? AND ${LISTABLE} AND expires_at > ?
         ORDER BY updated_at DESC LIMIT ?`,
      )
      .raw();
    const lastSeq = sqlite.prepare<[], number | null>('SELECT max(seq) FROM tasks').pluck();
    const firstSeq = sqlite.prepare<[], number | null>('SELECT min(seq) FROM tasks').pluck();
    const sweepTasks = sqlite.prepare<[number, number, number]>(
      'DELETE FROM tasks WHERE seq > ? AND seq <= ? AND expires_at <= ?',
    );
    const sweepLocks = sqlite.prepare<[number, number]>(
      'DELETE FROM locks WHERE key IN (SELECT key FROM locks WHERE expires_at <= ? LIMIT ?)',
    );
    const insertClaim = sqlite.prepare(
      `INSERT INTO tasks (id, task, state, attempt, lease_owner, lease_expires_at, unique_key, created_at, updated_at,
         started_at, expires_at, args_hash, enqueued_by)
       VALUES (?, ?, 'running', 1, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
    );
    // No RETURNING: SQLite buffers returned rows, which cost more than the update (measured).
    const updateFinish = sqlite.prepare<
      [
        state: string,
        updatedAt: number,
        expiresAt: number,
        result: string | null,
        error: string | null,
        nextRunAt: number | null,
        resultRef: string | null,
        finishedAt: number | null,
        progress: string | null,
        released: number,
        id: string,
        owner: string,
        now: number,
      ]
    >(
      `UPDATE tasks SET state = ?, updated_at = ?, expires_at = ?, result = ?, error = ?, next_run_at = ?, result_ref = ?,
         finished_at = COALESCE(?, finished_at), progress = COALESCE(?, progress), attempt = attempt - ?,
         lease_owner = NULL, lease_expires_at = NULL
       WHERE id = ? AND state = 'running' AND lease_owner = ? AND expires_at > ?`,
    );
    this.#insertClaim = (input) =>
      insertClaim.run(
        input.id,
        input.task,
        input.owner,
        input.now + input.leaseMs,
        input.uniqueKey ?? null,
        input.now,
        input.now,
        input.now,
        input.expiresAt,
        input.argsHash ?? null,
        input.enqueuedBy ?? null,
      ).changes === 1;
    this.#updateFinish = (input) =>
      updateFinish.run(
        input.state,
        input.now,
        input.expiresAt,
        input.result ?? null,
        errorColumn(input.error),
        input.nextRunAt ?? null,
        input.resultRef === undefined ? null : JSON.stringify(input.resultRef),
        isTerminal(input.state) ? input.now : null,
        input.progress ?? null,
        releasedAttempts(input),
        input.id,
        input.owner,
        input.now,
      ).changes === 1;
    const selectState = sqlite
      .prepare<[string, number], string>('SELECT state FROM tasks WHERE id = ? AND expires_at > ?')
      .pluck();
    this.#readState = (id, now) => selectState.get(id, now);
    this.#read = (id, now) => {
      const row = select.get(id, now);
      return row && fromRow(row);
    };
    this.#write = (record, existed) => {
      const row = toRow(record);
      if (existed) {
        const [id, ...fields] = row;
        update.run(...fields, id);
      } else {
        upsert.run(...row);
      }
    };
    this.#readLock = (key, now) => selectLock.get(key, now);
    this.#writeLock = (key, holder, expiresAt) => {
      upsertLock.run(key, holder, expiresAt);
    };
    this.#releaseLock = (key, holder) => {
      deleteLock.run(key, holder);
    };
    this.#list = (state, now, limit) => list.all(state, now, limit).map(fromRow);
    this.#sweep = (now) => {
      // Start over at the oldest row, not at rowid 0: rowids only grow (a new row takes max + 1), so
      // once old records are swept the live ones sit far from 0, and walking the empty range between
      // would take longer on each lap: the records would outgrow the sweep (issue 12).
      const from = this.#sweptTo === 0 ? (firstSeq.get() ?? 1) - 1 : this.#sweptTo;
      sweepTasks.run(from, from + SWEEP_SPAN, now);
      // Past the end of the table: start over next time (not after the records written since, or a
      // steady stream of new ones would keep the cursor from ever coming back to the old ones).
      this.#sweptTo = from + SWEEP_SPAN >= (lastSeq.get() ?? 0) ? 0 : from + SWEEP_SPAN;
      sweepLocks.run(now, SWEEP_LIMIT);
      this.blobs?.sweep(now);
    };
  }

  /** Read a record; `undefined` when absent or expired. */
  async get(id: string): Promise<TaskRecord | undefined> {
    return this.#read(id, this.#now());
  }

  /** Read only a record's state (see {@link TaskStore.stateOf}). */
  async stateOf(id: string): Promise<TaskState | undefined> {
    return this.#readState(id, this.#now()) as TaskState | undefined;
  }

  /** Start an attempt (see {@link TaskStore.claim}; outcome: {@link decideClaim}). */
  async claim(input: ClaimInput): Promise<ClaimResult> {
    return this.#writeTx(input.now, (): ClaimResult => {
      const { now } = input;
      // Fast path, the common case: no row for this id yet (and no singleton lock to take).
      if (input.singletonKey === undefined && this.#insertClaim(input)) {
        const claimed: Mutable<TaskRecord> = {
          ...newRecord(input.id, input.task, now, input.expiresAt),
          state: 'running',
          attempt: 1,
          leaseOwner: input.owner,
          leaseExpiresAt: now + input.leaseMs,
          startedAt: now,
        };
        if (input.uniqueKey !== undefined) claimed.uniqueKey = input.uniqueKey;
        bindArguments(claimed, input);
        return { outcome: 'claimed', record: claimed };
      }
      const found = this.#read(input.id, now);
      const singletonLock = input.singletonKey === undefined ? undefined : lockName('singleton', input.singletonKey);
      const lock = singletonLock === undefined ? undefined : this.#readLock(singletonLock, now);
      const decision = decideClaim(found, input, lock);
      if (decision.outcome !== 'claim') return decision;
      if (singletonLock !== undefined) this.#writeLock(singletonLock, input.id, now + input.leaseMs);
      const claimed: Mutable<TaskRecord> = {
        ...(found ?? newRecord(input.id, input.task, now, input.expiresAt)),
        task: input.task,
        state: 'running',
        attempt: (found?.attempt ?? 0) + 1,
        leaseOwner: input.owner,
        leaseExpiresAt: now + input.leaseMs,
        startedAt: now,
        updatedAt: now,
        expiresAt: input.expiresAt,
      };
      delete claimed.cancelRequested;
      if (input.singletonKey !== undefined) claimed.singletonKey = input.singletonKey;
      if (input.uniqueKey !== undefined) claimed.uniqueKey = input.uniqueKey;
      if (claimed.argsHash === undefined) bindArguments(claimed, input);
      this.#write(claimed, found !== undefined);
      return { outcome: 'claimed', record: claimed };
    });
  }

  /** Extend a lease and record progress (see {@link TaskStore.heartbeat}; condition: {@link holdsLease}). */
  async heartbeat(input: HeartbeatInput): Promise<HeartbeatResult> {
    return this.#writeTx(input.now, (): HeartbeatResult => {
      const { now } = input;
      const record = this.#read(input.id, now);
      if (!holdsLease(record, input.owner)) return { outcome: 'lost' };
      const renewed: Mutable<TaskRecord> = { ...record, leaseExpiresAt: now + input.leaseMs, updatedAt: now };
      if (input.progress !== undefined) renewed.progress = input.progress;
      this.#write(renewed, true);
      if (input.singletonKey !== undefined) {
        const key = lockName('singleton', input.singletonKey);
        if (mayTakeLock(this.#readLock(key, now), input.id, now)) this.#writeLock(key, input.id, now + input.leaseMs);
      }
      return { outcome: 'renewed', cancelRequested: record.cancelRequested === true };
    });
  }

  /** End an attempt (see {@link TaskStore.finish}; locks: {@link releasedLocks}; attempt: {@link releasedAttempts}). */
  async finish(input: FinishInput): Promise<FinishResult> {
    return this.#writeTx(input.now, (): FinishResult => {
      // The condition is the UPDATE's WHERE clause: one statement, no read first.
      if (!this.#updateFinish(input)) return { outcome: 'lost' };
      this.#release(releasedLocks(input.state, input), input.id);
      return { outcome: 'finished' };
    });
  }

  /** Record that a run will not be attempted again (see {@link TaskStore.deadLetter}; outcome: {@link decideDeadLetter}). */
  async deadLetter(input: DeadLetterInput): Promise<DeadLetterResult> {
    return this.#writeTx(input.now, (): DeadLetterResult => {
      const { now } = input;
      const found = this.#read(input.id, now);
      const decision = decideDeadLetter(found, input);
      if (decision.outcome !== 'dead-letter') return decision;
      const dead: Mutable<TaskRecord> = {
        ...(found ?? newRecord(input.id, input.task, now, input.expiresAt)),
        state: 'dead',
        error: input.error,
        finishedAt: now,
        updatedAt: now,
        expiresAt: input.expiresAt,
      };
      delete dead.leaseOwner;
      delete dead.leaseExpiresAt;
      this.#write(dead, found !== undefined);
      this.#release(releasedLocks('dead', { uniqueKey: dead.uniqueKey }), input.id);
      return { outcome: 'dead', record: dead };
    });
  }

  /** Cancel a run (see {@link TaskStore.cancel}; outcome: {@link decideCancel}). */
  async cancel(input: CancelInput): Promise<CancelResult> {
    return this.#writeTx(input.now, (): CancelResult => {
      const { now } = input;
      const found = this.#read(input.id, now);
      const decision = decideCancel(found, input);
      if (decision.outcome === 'finished' || decision.outcome === 'running') return decision;
      const record = found ?? newRecord(input.id, input.task, now, input.expiresAt);
      if (decision.outcome === 'request-cancel') {
        const requested: TaskRecord = { ...record, cancelRequested: true, updatedAt: now };
        this.#write(requested, found !== undefined);
        return { outcome: 'requested', record: requested };
      }
      const cancelled: TaskRecord = {
        ...record,
        state: 'cancelled',
        finishedAt: now,
        updatedAt: now,
        expiresAt: input.expiresAt,
        ...(input.reason === undefined ? {} : { error: input.reason }),
      };
      this.#write(cancelled, found !== undefined);
      this.#release(releasedLocks('cancelled', { uniqueKey: cancelled.uniqueKey }), input.id);
      return { outcome: 'cancelled', record: cancelled };
    });
  }

  /** Make a dead run runnable again (see {@link TaskStore.revive}; outcome: {@link decideRevive}). */
  async revive(input: ReviveInput): Promise<ReviveResult> {
    return this.#writeTx(input.now, (): ReviveResult => {
      const { now } = input;
      const decision = decideRevive(this.#read(input.id, now));
      if (decision.outcome !== 'revive') return decision;
      const revived: Mutable<TaskRecord> = {
        ...decision.record,
        state: 'queued',
        attempt: 0,
        updatedAt: now,
        expiresAt: input.expiresAt,
      };
      delete revived.leaseOwner;
      delete revived.leaseExpiresAt;
      delete revived.nextRunAt;
      this.#write(revived, true);
      return { outcome: 'revived', record: revived };
    });
  }

  /** Take a unique lock (see {@link TaskStore.acquireUnique}; outcome: {@link decideAcquireUnique}). */
  async acquireUnique(input: AcquireUniqueInput): Promise<AcquireUniqueResult> {
    return this.#writeTx(input.now, (): AcquireUniqueResult => {
      const key = lockName('unique', input.key);
      const decision = decideAcquireUnique(this.#readLock(key, input.now), input);
      if (decision.outcome !== 'acquire') return decision;
      this.#writeLock(key, input.id, input.now + input.ttlMs);
      return { outcome: 'acquired' };
    });
  }

  /** Release a unique lock that `id` holds (see {@link TaskStore.releaseUnique}). */
  async releaseUnique(key: string, id: string): Promise<void> {
    await this.#writeTx(this.#now(), () => this.#release([{ kind: 'unique', key }], id));
  }

  /** Records in `state`, most recently updated first (index `tasks_by_state`). */
  async list(state: ListableState, options: { readonly limit: number }): Promise<TaskRecord[]> {
    if (!Number.isInteger(options.limit) || options.limit < 1) {
      throw new ConfigurationError(
        `EmbeddedStore.list: limit must be an integer ≥ 1, got ${String(options.limit)}. Pass e.g. { limit: 50 }.`,
      );
    }
    return this.#list(state, this.#now(), options.limit);
  }

  /** Delete each of `locks` that `id` holds (a lock another run holds is left alone). */
  #release(locks: readonly LockRef[], id: string): void {
    for (const lock of locks) this.#releaseLock(lockName(lock.kind, lock.key), id);
  }

  /**
   * One write (read, check, write) in the database's group commit (see {@link EmbeddedDatabase.write}):
   * it resolves only after its COMMIT, and fails alone. Sweeps expired rows every {@link SWEEP_EVERY} writes.
   */
  #writeTx<R>(now: number, fn: () => R): Promise<R> {
    return this.#db.write(() => {
      const result = fn();
      this.#writes += 1;
      if (this.#writes % SWEEP_EVERY === 0) this.#sweep(now);
      return result;
    });
  }
}
