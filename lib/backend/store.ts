/**
 * The task store port: one record per task id, changed only by the conditional writes below.
 * Its semantics are those of a **DynamoDB table** (the AWS backend) and every backend must
 * reproduce them (the conformance suite checks):
 *
 * - Each method is **one atomic conditional write** (or a transaction of several): its condition
 *   is evaluated and its update applied as one step, even with many processes or machines. The
 *   only writes outside that step are the **follow-ups** a method's header names (the release of
 *   the unique lock after `deadLetter` and `cancel`): others may see the state between the two,
 *   and a crash between them leaves it for good; the header says what that state is and what
 *   repairs it.
 * - Which outcome a write has is decided by one pure function over the record it finds, in
 *   `./store-rules.ts`; every backend calls those.
 * - Records carry `expiresAt` (epoch ms). Once `expiresAt ≤ now` a record reads as absent and is
 *   removed later (DynamoDB TTL). Every method treats an expired record as absent.
 * - The store keeps no clock: callers pass `now` (epoch ms), so tests can drive time.
 *
 * Costs matter on DynamoDB, so the happy path is exactly **two writes per run**: {@link TaskStore.claim}
 * and {@link TaskStore.finish}. Enqueue writes nothing to the store (a run with no record is
 * `queued`), except for `unique` tasks, which take a lock.
 *
 * @module
 */

import type { ErrorInfo } from '../task/errors.js';
import type { TaskState } from '../task/states.js';
import type { BlobRef, BlobStore } from './blobs.js';

/** The record of one task run. */
export interface TaskRecord {
  /** The task id (also the message's deduplication id). */
  readonly id: string;
  /** The task's name; absent when unknown (a cancel by id before the run was ever seen). */
  readonly task?: string;
  readonly state: TaskState;
  /**
   * Attempts counted against `maxAttempts`: claims, less the attempts a shutdown gave back
   * (`FinishInput.releaseAttempt`). 0 until the first claim.
   */
  readonly attempt: number;
  /** Owner of the current lease (a worker id, a per-process random token and a counter), while `running`. */
  readonly leaseOwner?: string;
  /** When the current lease ends, epoch ms, while `running`. */
  readonly leaseExpiresAt?: number;
  /** When a `retrying` run is due, epoch ms. */
  readonly nextRunAt?: number;
  /** The handler's return value as JSON text (absent with `ignoreResult`, or before success, or when it is a blob). */
  readonly result?: string;
  /**
   * Where the result is, when it was too large for the record: the record carries this reference
   * instead of `result` (the claim-check, `./blobs.ts`). Handles resolve it.
   */
  readonly resultRef?: BlobRef;
  /** The last error (for `retrying`, `failed`, `dead`) or, for `cancelled`, why (a skipped fire's reason, or the cancelled attempt's abort). */
  readonly error?: ErrorInfo;
  /** The last value passed to `ctx.progress()` that was accepted, as JSON text (at most `MAX_PROGRESS_BYTES`). */
  readonly progress?: string;
  /** Set by `cancel()` on a running run; the worker's next heartbeat aborts the handler's signal. */
  readonly cancelRequested?: boolean;
  /** The singleton key the run holds while running, if its task is a singleton. */
  readonly singletonKey?: string;
  /** The unique key the run holds until it ends, if its task is unique. */
  readonly uniqueKey?: string;
  /**
   * What binds the run to its arguments: {@link argumentsHash} of the arguments (and enqueuer) of
   * the message its first claim ran. A later message with the same id and another hash is refused
   * (`conflict`). Absent until the first claim (and on records a cancel or dead-letter created).
   */
  readonly argsHash?: string;
  /**
   * The principal that enqueued the run, as its message said (`EnqueueOptions.enqueuedBy`, set by
   * the HTTP API to the caller's IAM ARN), recorded by the first claim. The HTTP API shows a run's
   * result only to this principal.
   */
  readonly enqueuedBy?: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** When the current or last attempt started, epoch ms. */
  readonly startedAt?: number;
  /** When the run reached a terminal state, epoch ms. */
  readonly finishedAt?: number;
  /** TTL: the record reads as absent from this time on, epoch ms. */
  readonly expiresAt: number;
}

/** Input of {@link TaskStore.claim}. */
export interface ClaimInput {
  readonly id: string;
  readonly task: string;
  /** Lease owner to record: unique per attempt. */
  readonly owner: string;
  readonly now: number;
  /** Lease length from `now`, ms. */
  readonly leaseMs: number;
  /** The claim fails with `exhausted` when `attempt` has reached this. */
  readonly maxAttempts: number;
  /** TTL to set while running, epoch ms. */
  readonly expiresAt: number;
  /** Also take the singleton lock on this key (atomically with the claim). */
  readonly singletonKey?: string;
  /** Remember the unique key the run holds, so finishing releases it. */
  readonly uniqueKey?: string;
  /**
   * {@link argumentsHash} of the message's arguments and enqueuer: recorded by the first claim,
   * compared by every later one (outcome `conflict` when they differ). The processor always passes
   * it; a claim without it (a test, a tool) binds and compares nothing.
   */
  readonly argsHash?: string;
  /** The message's enqueuer, recorded with `argsHash` by the first claim ({@link TaskRecord.enqueuedBy}). */
  readonly enqueuedBy?: string;
}

/** Outcome of {@link TaskStore.claim}. */
export type ClaimResult =
  /** The attempt may start: `record` is `running`, `attempt` + 1, leased to the owner. */
  | { readonly outcome: 'claimed'; readonly record: TaskRecord }
  /**
   * The run is bound to other arguments (or another enqueuer): `record.argsHash` is not the
   * input's. The message is a conflicting duplicate: never run it, and leave the run alone.
   */
  | { readonly outcome: 'conflict'; readonly record: TaskRecord }
  /** The run is terminal: acknowledge the message without running. */
  | { readonly outcome: 'finished'; readonly record: TaskRecord }
  /** Another worker holds a live lease: do not run; look again after `record.leaseExpiresAt`. */
  | { readonly outcome: 'leased'; readonly record: TaskRecord }
  /** The lease expired with no attempts left (the worker kept dying): dead-letter it. */
  | { readonly outcome: 'exhausted'; readonly record: TaskRecord }
  /** The run is `retrying` and not due yet (`record.nextRunAt` > now): do not run; look again then. */
  | { readonly outcome: 'not-due'; readonly record: TaskRecord }
  /** Another run holds the singleton lock until `heldUntil`: do not run; look again then. */
  | { readonly outcome: 'singleton-busy'; readonly holderId: string; readonly heldUntil: number };

/** Input of {@link TaskStore.heartbeat}. */
export interface HeartbeatInput {
  readonly id: string;
  readonly owner: string;
  readonly now: number;
  /** New lease length from `now`, ms. */
  readonly leaseMs: number;
  /** Progress to record (JSON text). */
  readonly progress?: string;
  /** The singleton lock to extend with the lease. */
  readonly singletonKey?: string;
}

/** Outcome of {@link TaskStore.heartbeat}. */
export type HeartbeatResult =
  | { readonly outcome: 'renewed'; readonly cancelRequested: boolean }
  /** The lease is no longer ours (it expired and another worker claimed the run, or it ended). */
  | { readonly outcome: 'lost' };

/** What every {@link FinishInput} carries. */
interface FinishFields {
  readonly id: string;
  readonly owner: string;
  readonly now: number;
  /** JSON text of the result (`succeeded` only; omit with `ignoreResult`). */
  readonly result?: string;
  /** Instead of `result`: where the result's blob is (`succeeded` only). The finish removes whichever of the two it is not given. */
  readonly resultRef?: BlobRef;
  readonly error?: ErrorInfo;
  /**
   * The attempt's last progress (JSON text), when it reported any: written with the outcome, so the
   * record ends with the last value the attempt accepted. Absent: the record's progress is kept.
   */
  readonly progress?: string;
  /** When a `retrying` run is due, epoch ms. */
  readonly nextRunAt?: number;
  /** New TTL, epoch ms. */
  readonly expiresAt: number;
  /** The singleton key the run holds (its claimed record's `singletonKey`): that lock is released. */
  readonly singletonKey?: string;
  /** The unique key the run holds (its claimed record's `uniqueKey`): that lock is released when `state` is terminal. */
  readonly uniqueKey?: string;
}

/**
 * Input of {@link TaskStore.finish}. Only a `retrying` finish may give its attempt back: the
 * other states do not compile with `releaseAttempt`.
 */
export type FinishInput = FinishFields &
  (
    | {
        readonly state: 'retrying';
        /**
         * Give the attempt back (`attempt` − 1, in the same write): a shutdown released it before it
         * ended, and a released attempt is not a failed one, so it does not count against
         * `maxAttempts` (else a shutdown during the last attempt would leave the run no attempt).
         * @default false
         */
        readonly releaseAttempt?: boolean;
      }
    | { readonly state: 'succeeded' | 'failed' | 'dead' | 'cancelled'; readonly releaseAttempt?: never }
  );

/**
 * Outcome of {@link TaskStore.finish}. It carries no record: the caller has the claimed one and
 * knows what it wrote, and not reading the record back keeps the write cheap (`get` reads it).
 */
export type FinishResult =
  | { readonly outcome: 'finished' }
  /** The lease was lost before the attempt ended: nothing was written. */
  | { readonly outcome: 'lost' };

/** Input of {@link TaskStore.deadLetter}. */
export interface DeadLetterInput {
  readonly id: string;
  /** The task's name, when the message named one (recorded when the run has no record yet). */
  readonly task?: string;
  readonly now: number;
  readonly error: ErrorInfo;
  readonly expiresAt: number;
  /**
   * {@link argumentsHash} of the message's arguments, when they could be read. A run bound to
   * arguments (`record.argsHash`) is dead-lettered only by a message with the same hash: a
   * message that could not be read, or names other arguments, cannot end another's run.
   */
  readonly argsHash?: string;
}

/** Outcome of {@link TaskStore.deadLetter}. */
export type DeadLetterResult =
  | { readonly outcome: 'dead'; readonly record: TaskRecord }
  /** The run is bound to other arguments than the input's (or the input has none): nothing was written. */
  | { readonly outcome: 'conflict'; readonly record: TaskRecord }
  /** The run is already terminal (or running under a live lease): nothing was written. */
  | { readonly outcome: 'unchanged'; readonly record: TaskRecord };

/** Input of {@link TaskStore.cancel}. */
export interface CancelInput {
  readonly id: string;
  /** The task name, if known (recorded when the run has no record yet). */
  readonly task?: string;
  readonly now: number;
  readonly expiresAt: number;
  /** Why it was cancelled, recorded as the record's `error` (a skipped schedule fire, for example). */
  readonly reason?: ErrorInfo;
  /** Leave a running run alone (outcome `running`) instead of requesting its cancellation. */
  readonly onlyIfNotStarted?: boolean;
}

/** Outcome of {@link TaskStore.cancel}. */
export type CancelResult =
  /** It will never run: it was queued or retrying (or unknown), and is now `cancelled`. */
  | { readonly outcome: 'cancelled'; readonly record: TaskRecord }
  /** It is running: `cancelRequested` is set and the worker's next heartbeat aborts its signal. */
  | { readonly outcome: 'requested'; readonly record: TaskRecord }
  /** Too late: the run is terminal. */
  | { readonly outcome: 'finished'; readonly record: TaskRecord }
  /** It is running and `onlyIfNotStarted` was set: nothing was written. */
  | { readonly outcome: 'running'; readonly record: TaskRecord };

/** Input of {@link TaskStore.revive}. */
export interface ReviveInput {
  readonly id: string;
  readonly now: number;
  readonly expiresAt: number;
}

/** Outcome of {@link TaskStore.revive}. */
export type ReviveResult =
  | { readonly outcome: 'revived'; readonly record: TaskRecord }
  | { readonly outcome: 'absent' }
  | { readonly outcome: 'not-dead'; readonly record: TaskRecord };

/** Input of {@link TaskStore.acquireUnique}. */
export interface AcquireUniqueInput {
  readonly key: string;
  /** The task id that will hold the lock. */
  readonly id: string;
  readonly now: number;
  /** The lock expires on its own after this long, ms (celery-once's timeout). */
  readonly ttlMs: number;
  /** Take the lock over from this holder (it was found terminal or gone). */
  readonly replaceHolder?: string;
}

/** Outcome of {@link TaskStore.acquireUnique}. */
export type AcquireUniqueResult =
  | { readonly outcome: 'acquired' }
  | { readonly outcome: 'held'; readonly holderId: string; readonly expiresAt: number };

/** States {@link TaskStore.list} can list (the ones an operator looks for). */
export type ListableState = 'retrying' | 'failed' | 'dead' | 'cancelled';

/**
 * The task store port. Each method's header states its key, condition and outcomes; a backend
 * implements each as one conditional write (DynamoDB: `UpdateItem` with a `ConditionExpression`,
 * or `TransactWriteItems` where a lock is involved; SQLite: one `BEGIN IMMEDIATE` transaction),
 * plus the follow-up a header names, and decides the outcome with `./store-rules.ts`.
 */
export interface TaskStore {
  /**
   * Where values too large for a record or a message are kept (`./blobs.ts`): results and error
   * messages the records point to, and the arguments and dead-letter copies messages point to.
   * Absent when the backend has none (an AWS backend without a bucket): then arguments must fit a
   * message and results a record. It hangs on the store because everything that reads a record
   * (the worker's processor, handles) is handed the store.
   */
  readonly blobs?: BlobStore;

  /** Read a record; `undefined` when absent or expired. */
  get(id: string): Promise<TaskRecord | undefined>;

  /**
   * Read only a record's state; `undefined` when absent or expired. What an enqueue's unique-lock
   * check needs (is the holder's run over?): on DynamoDB a GetItem projected to
   * `STATE_PROJECTION_ATTRIBUTES`, so a producer's grant can withhold every run's result.
   */
  stateOf(id: string): Promise<TaskState | undefined>;

  /**
   * **Claim** — start an attempt.
   * - Key: `task#id` (and `singleton#singletonKey` when given, in the same transaction).
   * - Condition: (record absent OR ((argsHash absent OR argsHash = input.argsHash) AND (state ∈
   *   {queued, retrying} OR (state = running AND leaseExpiresAt ≤ now)) AND attempt < maxAttempts
   *   AND NOT (state = retrying AND nextRunAt > now))); with a singleton key, also the lock is
   *   absent, expired, or held by this id.
   * - Update: state = running, attempt + 1, leaseOwner = owner, leaseExpiresAt = now + leaseMs,
   *   startedAt = now, cancelRequested removed; argsHash and enqueuedBy = the input's when the
   *   record has no argsHash yet; the singleton lock (if any) = { holder: id, expiresAt: now + leaseMs }.
   * - Outcomes, checked in this order: `conflict` (the record's argsHash is not the input's: a
   *   message with the run's id and other arguments) | `finished` (terminal; a cancelled run too) | `leased`
   *   (running, lease live) | `exhausted` (condition failed on attempts) | `not-due` (retrying, its
   *   `nextRunAt` still ahead: a message that came back before its retry's time, such as one whose
   *   wait was longer than its receive's 12-hour visibility window) | `singleton-busy` (the lock is
   *   held by another run) | else `claimed`. One write: the lock is taken in the same transaction.
   */
  claim(input: ClaimInput): Promise<ClaimResult>;

  /**
   * **Heartbeat** — extend a lease (and record progress).
   * - Key: `task#id` (and `singleton#singletonKey` when given, in the same transaction).
   * - Condition: state = running AND leaseOwner = owner (the lease may have lapsed, if no one has
   *   claimed the run since).
   * - Update: leaseExpiresAt = now + leaseMs; progress if given. With a singleton key, the lock =
   *   { holder: id, expiresAt: now + leaseMs } when it is absent, lapsed or held by this id; a lock
   *   another run holds is left alone (the lease is renewed all the same).
   * - Outcomes: `renewed` (with `cancelRequested`) | `lost` (nothing written). One write.
   */
  heartbeat(input: HeartbeatInput): Promise<HeartbeatResult>;

  /**
   * **Finish** — end an attempt.
   * - Key: `task#id` (and the locks below, in the same transaction).
   * - Condition: state = running AND leaseOwner = owner.
   * - Update: state, result (or resultRef), error, nextRunAt, expiresAt; progress when given (else kept);
   *   attempt − 1 when `releaseAttempt` (`retrying` only); lease removed; finishedAt = now when
   *   terminal. Releases the singleton lock `input.singletonKey` and, when terminal, the unique
   *   lock `input.uniqueKey` (the caller passes the keys of the record its claim returned), each
   *   only if held by this id: a lock that is gone or held by another run is left alone.
   * - Outcomes: `finished` | `lost` (nothing written). One write.
   */
  finish(input: FinishInput): Promise<FinishResult>;

  /**
   * **Dead-letter** — record that a run will not be attempted again (retries exhausted by lost
   * leases, unknown task, malformed message).
   * - Condition: record absent OR ((argsHash absent OR argsHash = input.argsHash) AND (state ∈
   *   {queued, retrying} OR (state = running AND leaseExpiresAt ≤ now))).
   * - Update: state = dead, error, finishedAt = now, expiresAt; lease removed.
   * - Outcomes, checked in this order: `conflict` (the record is bound to other arguments than the
   *   input's, or the input has none) | `unchanged` (terminal, or running under a live lease: the
   *   record as it is) | else `dead`.
   * - Follow-up on `dead`: the unique lock `record.uniqueKey` is released (if held by this id). It
   *   may be a second write (DynamoDB learns the key from the update's result). Between the two,
   *   and for good after a crash between them, the lock names a run that is `dead`: an enqueue of
   *   that unique key reads the holder's record, finds it terminal and takes the lock over
   *   (`acquireUnique` with `replaceHolder`); else it lapses at its ttl. A run with no record has
   *   no `uniqueKey`, so its lock is never released here: the same state, repaired the same way.
   */
  deadLetter(input: DeadLetterInput): Promise<DeadLetterResult>;

  /**
   * **Cancel**.
   * - Condition A: record absent OR state ∈ {queued, retrying} → state = cancelled, error = reason
   *   (creates the record if absent, so the run is refused when its message arrives).
   * - Condition B: state = running → cancelRequested = true; with `onlyIfNotStarted`, nothing.
   * - Outcomes: `finished` (terminal, nothing written) | `cancelled` (A) | `requested` (B) |
   *   `running` (B with `onlyIfNotStarted`, nothing written). A backend may try A, then B, as two
   *   conditional writes; only one of them takes effect.
   * - Follow-up on `cancelled`: the unique lock `record.uniqueKey` is released (if held by this
   *   id), as for `deadLetter`, with the same window: until then, or for good after a crash, the
   *   lock names a `cancelled` run, which an enqueue of that unique key takes over. A run cancelled
   *   before it had a record has no `uniqueKey`: its lock stays, and is taken over the same way.
   */
  cancel(input: CancelInput): Promise<CancelResult>;

  /**
   * **Revive** — make a dead run runnable again (dead-letter redrive).
   * - Condition: state = dead.
   * - Update: state = queued, attempt = 0, lease and nextRunAt removed, expiresAt.
   * - Outcomes: `revived` | `absent` | `not-dead`.
   */
  revive(input: ReviveInput): Promise<ReviveResult>;

  /**
   * **Acquire a unique lock** (celery-once).
   * - Key: `unique#key`.
   * - Condition: lock absent OR lock.expiresAt ≤ now OR lock.holder = id OR lock.holder =
   *   replaceHolder.
   * - Update: holder = id, expiresAt = now + ttlMs.
   * - Outcomes: `acquired` | `held` (by `holderId`).
   */
  acquireUnique(input: AcquireUniqueInput): Promise<AcquireUniqueResult>;

  /**
   * **Release a unique lock** that `id` holds (an enqueue that could not send).
   * - Condition: lock.holder = id. No outcome: a lock held by another is left alone.
   */
  releaseUnique(key: string, id: string): Promise<void>;

  /** Records in `state`, most recently updated first (for `spool status` and `inspect`). */
  list(state: ListableState, options: { readonly limit: number }): Promise<TaskRecord[]>;
}
