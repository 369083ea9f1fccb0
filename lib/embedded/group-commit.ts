/**
 * The group commit of one connection ({@link GroupCommit}, see `EmbeddedDatabase.write`): every
 * write requested in one turn of the event loop runs in one `BEGIN IMMEDIATE … COMMIT`, and the
 * wake-ups those writes asked for are handed on once the transactions are committed. Waiting for
 * another process's write lock does not block the event loop.
 *
 * @module
 */

import type { SqliteConnection } from './database.js';

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

/** While another connection holds the write lock, retry on the next turn of the event loop for this long, ms. */
const BUSY_SPIN_MS = 1;
/** Then retry on a timer, at most this far apart, ms. */
const BUSY_RETRY_MAX_MS = 5;

/** What {@link GroupCommit} did with one transaction's writes. */
type CommitOutcome = { readonly busy: false } | { readonly busy: true; readonly error: unknown };
/** The writes ran and are settled (committed, or rejected). */
const SETTLED: CommitOutcome = { busy: false };

/** Whether `error` is SQLite's "another connection holds the lock" (`SQLITE_BUSY`, `SQLITE_BUSY_*`). */
function isBusy(error: unknown): boolean {
  const code = (error as { readonly code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/**
 * The group-commit scheduler of one connection (see `EmbeddedDatabase.write`), with the wake-ups its
 * writes asked for (`EmbeddedDatabase.wakeOnCommit`), handed to `onWake` once per flush.
 *
 * Waiting for another process's write lock does not block the event loop: a flush begins its
 * transactions without SQLite's busy handler (`busy_timeout = 0` for the flush), and when BEGIN finds
 * the lock taken, the flush tries again on the next turn (for {@link BUSY_SPIN_MS}), then on a timer
 * ({@link BUSY_RETRY_MAX_MS} apart at most), until the busy timeout has passed; then the writes of the
 * transaction that could not begin reject with SQLite's error, as they would have with the busy
 * handler. SQLite's handler sleeps 1, 2, 5, 10… ms between its tries, so a process whose commits
 * interleave with another's would wait milliseconds for a lock held a tenth of one.
 */
export class GroupCommit {
  readonly #sqlite: SqliteConnection;
  readonly #tx: (writes: readonly PendingWrite[], results: unknown[]) => void;
  readonly #onWake: (queues: ReadonlySet<string>) => void;
  readonly #busyTimeoutMs: number;
  #pending: PendingWrite[] = [];
  /** The next flush, when one is scheduled (on the next turn, or on a timer after a busy lock). */
  #next: { readonly immediate: NodeJS.Immediate } | { readonly timer: NodeJS.Timeout } | undefined;
  #flushing = false;
  /** Whether the connection's busy handler is on (`busy_timeout` is the configured one). */
  #waiting = true;
  /** When the transaction at the head of the queue first found the lock taken (`performance.now()`). */
  #busySince: number | undefined;
  /** Whether the current transaction got as far as running a write (so BEGIN succeeded). */
  #began = false;
  /** Queues to wake after this flush. */
  #wakes = new Set<string>();

  /**
   * Group the writes of `sqlite`, whose configured busy timeout is `busyTimeoutMs`; `onWake` gets,
   * after each flush, the queues its writes asked to wake.
   */
  constructor(sqlite: SqliteConnection, busyTimeoutMs: number, onWake: (queues: ReadonlySet<string>) => void) {
    this.#sqlite = sqlite;
    this.#onWake = onWake;
    this.#busyTimeoutMs = busyTimeoutMs;
    const transaction = sqlite.transaction((writes: readonly PendingWrite[], results: unknown[]) => {
      this.#began = true;
      for (const write of writes) results.push(write.run());
    });
    this.#tx = (writes, results) => transaction.immediate(writes, results);
  }

  /** Wake `queue` after the flush under way (at once outside one). */
  wakeOnCommit(queue: string): void {
    this.#wakes.add(queue);
    if (!this.#flushing) this.#wake();
  }

  /** Run `fn` in the next flush (see `EmbeddedDatabase.write`); `weight` ≈ the rows it writes. */
  write<R>(fn: () => R, weight: number): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#pending.push({ run: fn, weight, resolve: resolve as (value: unknown) => void, reject });
      if (this.#next === undefined) this.#next = { immediate: setImmediate(() => this.flush(false)) };
    });
  }

  /**
   * Commit everything pending now, in call order. `wait`: wait for a busy lock in SQLite's busy
   * handler, blocking (for `close()`, which must commit before it returns); otherwise a busy lock
   * leaves the rest pending for a later flush.
   */
  flush(wait: boolean): void {
    this.#unschedule();
    this.#flushing = true;
    let busy: unknown;
    try {
      if (this.#pending.length > 0) this.#setWaiting(wait);
      while (this.#pending.length > 0) {
        const count = this.#headCount();
        const outcome = this.#commit(this.#pending.slice(0, count), wait);
        if (outcome.busy) {
          busy = outcome.error;
          break;
        }
        this.#pending.splice(0, count);
        this.#busySince = undefined;
      }
    } finally {
      this.#setWaiting(true);
      this.#flushing = false;
    }
    // Every transaction of the flush is committed: one wake-up per queue, however many writes asked.
    this.#wake();
    if (busy !== undefined) this.#retryLater(busy);
  }

  /** How many pending writes the next transaction takes. */
  #headCount(): number {
    let count = 0;
    let weight = 0;
    for (const write of this.#pending) {
      if (count > 0 && weight + write.weight > MAX_TRANSACTION_WEIGHT) break;
      count += 1;
      weight += write.weight;
    }
    return count;
  }

  /** After BEGIN found the lock taken: try again soon, or give up on the head transaction after the busy timeout. */
  #retryLater(error: unknown): void {
    const now = performance.now();
    this.#busySince ??= now;
    const waited = now - this.#busySince;
    if (waited >= this.#busyTimeoutMs) {
      this.#busySince = undefined;
      for (const write of this.#pending.splice(0, this.#headCount())) write.reject(error);
      if (this.#pending.length === 0) return;
    }
    this.#next =
      waited < BUSY_SPIN_MS
        ? { immediate: setImmediate(() => this.flush(false)) }
        : {
            timer: setTimeout(
              () => this.flush(false),
              Math.min(BUSY_RETRY_MAX_MS, Math.max(1, Math.floor(waited / 10))),
            ),
          };
  }

  #unschedule(): void {
    const next = this.#next;
    this.#next = undefined;
    if (next === undefined) return;
    if ('immediate' in next) clearImmediate(next.immediate);
    else clearTimeout(next.timer);
  }

  #setWaiting(on: boolean): void {
    // Closed: every write rejects (its transaction cannot begin); there is no handler to switch.
    if (this.#waiting === on || !this.#sqlite.open) return;
    // `exec`, not a prepared statement: SQLite applies `busy_timeout` when it compiles the pragma.
    this.#sqlite.exec(`PRAGMA busy_timeout = ${on ? this.#busyTimeoutMs : 0}`);
    this.#waiting = on;
  }

  #wake(): void {
    if (this.#wakes.size === 0) return;
    const queues = this.#wakes;
    this.#wakes = new Set();
    this.#onWake(queues);
  }

  /**
   * Run `batch` in one transaction and settle its writes; or, when BEGIN found the lock taken and
   * `wait` is off, settle nothing and report it (no write ran).
   */
  #commit(batch: readonly PendingWrite[], wait: boolean): CommitOutcome {
    const results: unknown[] = [];
    this.#began = false;
    try {
      this.#tx(batch, results);
    } catch (error) {
      if (!this.#began && !wait && isBusy(error)) return { busy: true, error };
      if (batch.length === 1 || !this.#began) {
        for (const write of batch) write.reject(error);
        return SETTLED;
      }
      // One write threw, or COMMIT failed: the whole batch was rolled back. Run each write in its
      // own transaction, as if they had never been grouped (waiting for the lock: a rare path).
      const waiting = this.#waiting;
      this.#setWaiting(true);
      for (const write of batch) {
        const alone: unknown[] = [];
        try {
          this.#tx([write], alone);
          write.resolve(alone[0]);
        } catch (failure) {
          write.reject(failure);
        }
      }
      this.#setWaiting(waiting);
      return SETTLED;
    }
    for (let index = 0; index < batch.length; index++) batch[index]?.resolve(results[index]);
    return SETTLED;
  }
}
