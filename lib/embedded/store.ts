/**
 * {@link EmbeddedStore}: the task store port (`lib/backend/store.ts`) on the embedded SQLite file.
 *
 * Each write method reads the record (and lock), evaluates the port's condition, and writes, inside
 * a `BEGIN IMMEDIATE` transaction — so it is atomic across connections and processes. Writes are
 * group-committed: those requested in one turn of the event loop share one transaction (one
 * COMMIT instead of one each; see `#writeTx`), and each resolves only after that COMMIT. Table `tasks`
 * holds the records (one column per field), table `locks` the `unique#…` and `singleton#…` locks.
 * A record or lock with `expires_at ≤ now` reads as absent; expired rows are swept opportunistically
 * (a bounded delete every {@link SWEEP_EVERY} writes).
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
import type { ErrorInfo } from '../task/errors.js';
import { ConfigurationError } from '../task/errors.js';
import type { TaskState } from '../task/states.js';
import { isTerminal } from '../task/states.js';
import type { EmbeddedDatabase } from './database.js';
import { writeTransaction } from './database.js';

/** Options of {@link EmbeddedStore}. */
export interface EmbeddedStoreOptions {
  /** Clock for the methods that take no `now` (`get`, `list`, `releaseUnique`), epoch ms. @default Date.now */
  readonly now?: () => number;
}

/** Sweep expired records and locks every this many writes. */
export const SWEEP_EVERY = 100;
/** Most rows of each table one sweep deletes. */
const SWEEP_LIMIT = 500;

interface LockRow {
  readonly holder: string;
  readonly expires_at: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The task store of the embedded backend. */
export class EmbeddedStore implements TaskStore {
  readonly #now: () => number;
  readonly #read: (id: string, now: number) => TaskRecord | undefined;
  readonly #write: (record: TaskRecord) => void;
  readonly #readLock: (key: string, now: number) => LockRow | undefined;
  readonly #writeLock: (key: string, holder: string, expiresAt: number) => void;
  readonly #releaseLock: (key: string, holder: string) => void;
  readonly #list: (state: string, now: number, limit: number) => TaskRecord[];
  readonly #sweep: (now: number) => void;
  readonly #tx: <R>(fn: () => R) => R;
  /** Writes waiting for the next group commit, in call order. */
  #pending: PendingWrite[] = [];
  #commitScheduled = false;
  #writes = 0;

  /** Bind to `db` (prepares the statements once). */
  constructor(db: EmbeddedDatabase, options: EmbeddedStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
    const sqlite = db.sqlite;
    const select = sqlite.prepare<[string, number], TaskRow>('SELECT * FROM tasks WHERE id = ? AND expires_at > ?');
    const upsert = sqlite.prepare<TaskRow>(
      `INSERT OR REPLACE INTO tasks (id, task, state, attempt, lease_owner, lease_expires_at, next_run_at, result, error,
         progress, cancel_requested, singleton_key, unique_key, created_at, updated_at, started_at, finished_at, expires_at)
       VALUES (@id, @task, @state, @attempt, @lease_owner, @lease_expires_at, @next_run_at, @result, @error, @progress,
         @cancel_requested, @singleton_key, @unique_key, @created_at, @updated_at, @started_at, @finished_at, @expires_at)`,
    );
    const selectLock = sqlite.prepare<[string, number], LockRow>(
      'SELECT holder, expires_at FROM locks WHERE key = ? AND expires_at > ?',
    );
    const upsertLock = sqlite.prepare<[string, string, number]>(
      'INSERT OR REPLACE INTO locks (key, holder, expires_at) VALUES (?, ?, ?)',
    );
    const deleteLock = sqlite.prepare<[string, string]>('DELETE FROM locks WHERE key = ? AND holder = ?');
    const list = sqlite.prepare<[string, number, number], TaskRow>(
      'SELECT * FROM tasks WHERE state = ? AND expires_at > ? ORDER BY updated_at DESC LIMIT ?',
    );
    const sweepTasks = sqlite.prepare<[number, number]>(
      'DELETE FROM tasks WHERE id IN (SELECT id FROM tasks WHERE expires_at <= ? LIMIT ?)',
    );
    const sweepLocks = sqlite.prepare<[number, number]>(
      'DELETE FROM locks WHERE key IN (SELECT key FROM locks WHERE expires_at <= ? LIMIT ?)',
    );
    this.#read = (id, now) => {
      const row = select.get(id, now);
      return row && fromRow(row);
    };
    this.#write = (record) => {
      upsert.run(toRow(record));
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
      sweepTasks.run(now, SWEEP_LIMIT);
      sweepLocks.run(now, SWEEP_LIMIT);
    };
    const tx = writeTransaction(sqlite, (fn: () => unknown) => fn());
    this.#tx = <R>(fn: () => R): R => tx(fn) as R;
    // Closing commits what is pending first, as if each write had been its own transaction.
    db.closed.addEventListener('abort', () => this.#commit(), { once: true });
  }

  /** Read a record; `undefined` when absent or expired. */
  async get(id: string): Promise<TaskRecord | undefined> {
    return this.#read(id, this.#now());
  }

  // claim — condition: (absent | queued | retrying | running with lease ≤ now) AND attempt < maxAttempts
  // AND singleton lock absent/expired/held by id. Outcomes: claimed | finished (terminal, incl. cancelled)
  // | leased (live lease) | exhausted (attempts) | singleton-busy (lock held by another).
  /** Start an attempt (see {@link TaskStore.claim}). */
  async claim(input: ClaimInput): Promise<ClaimResult> {
    return this.#writeTx(input.now, (): ClaimResult => {
      const { now } = input;
      const found = this.#read(input.id, now);
      const record = found ?? newRecord(input.id, input.task, now, input.expiresAt);
      if (isTerminal(record.state)) return { outcome: 'finished', record };
      if (record.state === 'running' && (record.leaseExpiresAt ?? 0) > now) return { outcome: 'leased', record };
      if (record.attempt >= input.maxAttempts) return { outcome: 'exhausted', record };
      const singletonLock = input.singletonKey === undefined ? undefined : `singleton#${input.singletonKey}`;
      if (singletonLock !== undefined) {
        const lock = this.#readLock(singletonLock, now);
        if (lock && lock.holder !== input.id) {
          return { outcome: 'singleton-busy', holderId: lock.holder, heldUntil: lock.expires_at };
        }
        this.#writeLock(singletonLock, input.id, now + input.leaseMs);
      }
      const claimed: Mutable<TaskRecord> = {
        ...record,
        task: input.task,
        state: 'running',
        attempt: record.attempt + 1,
        leaseOwner: input.owner,
        leaseExpiresAt: now + input.leaseMs,
        startedAt: now,
        updatedAt: now,
        expiresAt: input.expiresAt,
      };
      delete claimed.cancelRequested;
      if (input.singletonKey !== undefined) claimed.singletonKey = input.singletonKey;
      if (input.uniqueKey !== undefined) claimed.uniqueKey = input.uniqueKey;
      this.#write(claimed);
      return { outcome: 'claimed', record: claimed };
    });
  }

  // heartbeat — condition: state = running AND leaseOwner = owner. Update: lease (+ singleton lock) to
  // now + leaseMs, progress if given. Outcomes: renewed (with cancelRequested) | lost.
  /** Extend a lease and record progress (see {@link TaskStore.heartbeat}). */
  async heartbeat(input: HeartbeatInput): Promise<HeartbeatResult> {
    return this.#writeTx(input.now, (): HeartbeatResult => {
      const { now } = input;
      const record = this.#read(input.id, now);
      if (record?.state !== 'running' || record.leaseOwner !== input.owner) return { outcome: 'lost' };
      const renewed: Mutable<TaskRecord> = { ...record, leaseExpiresAt: now + input.leaseMs, updatedAt: now };
      if (input.progress !== undefined) renewed.progress = input.progress;
      this.#write(renewed);
      if (input.singletonKey !== undefined) {
        const key = `singleton#${input.singletonKey}`;
        const lock = this.#readLock(key, now);
        if (!lock || lock.holder === input.id) this.#writeLock(key, input.id, now + input.leaseMs);
      }
      return { outcome: 'renewed', cancelRequested: record.cancelRequested === true };
    });
  }

  // finish — condition: state = running AND leaseOwner = owner. Update: state, result, error, nextRunAt,
  // expiresAt; lease removed; finishedAt when terminal; releases singleton lock, and unique lock when
  // terminal (each only if held by this id). Outcomes: finished | lost (nothing written).
  /** End an attempt (see {@link TaskStore.finish}). */
  async finish(input: FinishInput): Promise<FinishResult> {
    return this.#writeTx(input.now, (): FinishResult => {
      const { now } = input;
      const record = this.#read(input.id, now);
      if (record?.state !== 'running' || record.leaseOwner !== input.owner) return { outcome: 'lost' };
      const terminal = isTerminal(input.state);
      const finished: Mutable<TaskRecord> = {
        ...record,
        state: input.state,
        updatedAt: now,
        expiresAt: input.expiresAt,
      };
      delete finished.leaseOwner;
      delete finished.leaseExpiresAt;
      delete finished.result;
      delete finished.error;
      delete finished.nextRunAt;
      if (input.result !== undefined) finished.result = input.result;
      if (input.error !== undefined) finished.error = input.error;
      if (input.nextRunAt !== undefined) finished.nextRunAt = input.nextRunAt;
      if (terminal) finished.finishedAt = now;
      this.#write(finished);
      if (record.singletonKey !== undefined) this.#releaseLock(`singleton#${record.singletonKey}`, input.id);
      if (terminal && record.uniqueKey !== undefined) this.#releaseLock(`unique#${record.uniqueKey}`, input.id);
      return { outcome: 'finished', record: finished };
    });
  }

  // deadLetter — condition: absent | queued | retrying | running with lease ≤ now. Update: state = dead,
  // error, finishedAt = now, expiresAt; lease removed; unique lock released. Outcomes: dead | unchanged.
  /** Record that a run will not be attempted again (see {@link TaskStore.deadLetter}). */
  async deadLetter(input: DeadLetterInput): Promise<DeadLetterResult> {
    return this.#writeTx(input.now, (): DeadLetterResult => {
      const { now } = input;
      const record = this.#read(input.id, now) ?? newRecord(input.id, input.task, now, input.expiresAt);
      const liveLease = record.state === 'running' && (record.leaseExpiresAt ?? 0) > now;
      if (isTerminal(record.state) || liveLease) return { outcome: 'unchanged', record };
      const dead: Mutable<TaskRecord> = {
        ...record,
        state: 'dead',
        error: input.error,
        finishedAt: now,
        updatedAt: now,
        expiresAt: input.expiresAt,
      };
      delete dead.leaseOwner;
      delete dead.leaseExpiresAt;
      this.#write(dead);
      if (record.uniqueKey !== undefined) this.#releaseLock(`unique#${record.uniqueKey}`, input.id);
      return { outcome: 'dead', record: dead };
    });
  }

  // cancel — A: absent | queued | retrying → cancelled (record created if absent), unique lock released;
  // B: running → cancelRequested = true. Outcomes: cancelled (A) | requested (B) | finished (terminal).
  /** Cancel a run (see {@link TaskStore.cancel}). */
  async cancel(input: CancelInput): Promise<CancelResult> {
    return this.#writeTx(input.now, (): CancelResult => {
      const { now } = input;
      const record = this.#read(input.id, now) ?? newRecord(input.id, input.task ?? '?', now, input.expiresAt);
      if (isTerminal(record.state)) return { outcome: 'finished', record };
      if (record.state === 'running') {
        const requested: TaskRecord = { ...record, cancelRequested: true, updatedAt: now };
        this.#write(requested);
        return { outcome: 'requested', record: requested };
      }
      const cancelled: TaskRecord = {
        ...record,
        state: 'cancelled',
        finishedAt: now,
        updatedAt: now,
        expiresAt: input.expiresAt,
      };
      this.#write(cancelled);
      if (record.uniqueKey !== undefined) this.#releaseLock(`unique#${record.uniqueKey}`, input.id);
      return { outcome: 'cancelled', record: cancelled };
    });
  }

  // revive — condition: state = dead. Update: state = queued, attempt = 0, lease and nextRunAt removed,
  // expiresAt. Outcomes: revived | absent | not-dead.
  /** Make a dead run runnable again (see {@link TaskStore.revive}). */
  async revive(input: ReviveInput): Promise<ReviveResult> {
    return this.#writeTx(input.now, (): ReviveResult => {
      const { now } = input;
      const record = this.#read(input.id, now);
      if (!record) return { outcome: 'absent' };
      if (record.state !== 'dead') return { outcome: 'not-dead', record };
      const revived: Mutable<TaskRecord> = {
        ...record,
        state: 'queued',
        attempt: 0,
        updatedAt: now,
        expiresAt: input.expiresAt,
      };
      delete revived.leaseOwner;
      delete revived.leaseExpiresAt;
      delete revived.nextRunAt;
      this.#write(revived);
      return { outcome: 'revived', record: revived };
    });
  }

  // acquireUnique — key unique#key; condition: lock absent | expired | holder = id | holder = replaceHolder.
  // Update: holder = id, expiresAt = now + ttlMs. Outcomes: acquired | held (by holderId).
  /** Take a unique lock (see {@link TaskStore.acquireUnique}). */
  async acquireUnique(input: AcquireUniqueInput): Promise<AcquireUniqueResult> {
    return this.#writeTx(input.now, (): AcquireUniqueResult => {
      const key = `unique#${input.key}`;
      const lock = this.#readLock(key, input.now);
      if (lock && lock.holder !== input.id && lock.holder !== input.replaceHolder) {
        return { outcome: 'held', holderId: lock.holder, expiresAt: lock.expires_at };
      }
      this.#writeLock(key, input.id, input.now + input.ttlMs);
      return { outcome: 'acquired' };
    });
  }

  // releaseUnique — condition: lock.holder = id (a lock held by another is left alone). No outcome.
  /** Release a unique lock that `id` holds (see {@link TaskStore.releaseUnique}). */
  async releaseUnique(key: string, id: string): Promise<void> {
    await this.#writeTx(this.#now(), () => this.#releaseLock(`unique#${key}`, id));
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

  /**
   * Group commit: queue `fn` (one write: read, check, write) for the next commit, which runs the
   * writes requested in this turn of the event loop one after another in one IMMEDIATE
   * transaction. Each write sees the ones before it, exactly as if each had its own transaction, and
   * resolves only after the COMMIT (a caller never sees a write that is not committed). If any
   * write throws, the batch is rolled back and each write is run again in its own transaction, so a
   * failing write fails alone. Sweeps expired rows every {@link SWEEP_EVERY} writes.
   */
  #writeTx<R>(now: number, fn: () => R): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const run = () => {
        const result = fn();
        this.#writes += 1;
        if (this.#writes % SWEEP_EVERY === 0) this.#sweep(now);
        return result;
      };
      this.#pending.push({ run, resolve: resolve as (value: unknown) => void, reject });
      if (!this.#commitScheduled) {
        this.#commitScheduled = true;
        setImmediate(() => this.#commit());
      }
    });
  }

  /** Run the pending writes in one transaction now, then settle their promises. */
  #commit(): void {
    this.#commitScheduled = false;
    const batch = this.#pending;
    if (batch.length === 0) return;
    this.#pending = [];
    let results: unknown[];
    try {
      results = this.#tx(() => batch.map((write) => write.run()));
    } catch (error) {
      if (batch.length === 1) {
        batch[0]?.reject(error);
        return;
      }
      // One write threw, or BEGIN/COMMIT failed: the whole batch was rolled back. Run each write
      // in its own transaction, as if they had never been grouped.
      for (const write of batch) {
        try {
          write.resolve(this.#tx(write.run));
        } catch (alone) {
          write.reject(alone);
        }
      }
      return;
    }
    for (const [index, write] of batch.entries()) write.resolve(results[index]);
  }
}

/** A write waiting for the next group commit. */
interface PendingWrite {
  readonly run: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

function newRecord(id: string, task: string, now: number, expiresAt: number): TaskRecord {
  return { id, task, state: 'queued', attempt: 0, createdAt: now, updatedAt: now, expiresAt };
}

/** A row of table `tasks`: one column per {@link TaskRecord} field, `null` for an absent one. */
interface TaskRow {
  readonly id: string;
  readonly task: string;
  readonly state: string;
  readonly attempt: number;
  readonly lease_owner: string | null;
  readonly lease_expires_at: number | null;
  readonly next_run_at: number | null;
  readonly result: string | null;
  /** {@link ErrorInfo} as JSON. */
  readonly error: string | null;
  readonly progress: string | null;
  /** 1 when set. */
  readonly cancel_requested: number | null;
  readonly singleton_key: string | null;
  readonly unique_key: string | null;
  readonly created_at: number;
  readonly updated_at: number;
  readonly started_at: number | null;
  readonly finished_at: number | null;
  readonly expires_at: number;
}

function toRow(record: TaskRecord): TaskRow {
  return {
    id: record.id,
    task: record.task,
    state: record.state,
    attempt: record.attempt,
    lease_owner: record.leaseOwner ?? null,
    lease_expires_at: record.leaseExpiresAt ?? null,
    next_run_at: record.nextRunAt ?? null,
    result: record.result ?? null,
    error:
      record.error === undefined ? null : JSON.stringify({ name: record.error.name, message: record.error.message }),
    progress: record.progress ?? null,
    cancel_requested: record.cancelRequested === true ? 1 : null,
    singleton_key: record.singletonKey ?? null,
    unique_key: record.uniqueKey ?? null,
    created_at: record.createdAt,
    updated_at: record.updatedAt,
    started_at: record.startedAt ?? null,
    finished_at: record.finishedAt ?? null,
    expires_at: record.expiresAt,
  };
}

/** The record of a row, with absent optional fields omitted (never `undefined`). */
function fromRow(row: TaskRow): TaskRecord {
  const record: Mutable<TaskRecord> = {
    id: row.id,
    task: row.task,
    state: row.state as TaskState,
    attempt: row.attempt,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    expiresAt: row.expires_at,
  };
  if (row.lease_owner !== null) record.leaseOwner = row.lease_owner;
  if (row.lease_expires_at !== null) record.leaseExpiresAt = row.lease_expires_at;
  if (row.next_run_at !== null) record.nextRunAt = row.next_run_at;
  if (row.result !== null) record.result = row.result;
  if (row.error !== null) record.error = JSON.parse(row.error) as ErrorInfo;
  if (row.progress !== null) record.progress = row.progress;
  if (row.cancel_requested !== null) record.cancelRequested = true;
  if (row.singleton_key !== null) record.singletonKey = row.singleton_key;
  if (row.unique_key !== null) record.uniqueKey = row.unique_key;
  if (row.started_at !== null) record.startedAt = row.started_at;
  if (row.finished_at !== null) record.finishedAt = row.finished_at;
  return record;
}
