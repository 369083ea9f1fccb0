/**
 * The task store's rules: which outcome each conditional write of the port (`./store.ts`) has, as
 * pure functions over the record (and lock) the write finds. The port's method headers state each
 * condition and outcome; these functions are their one implementation, and both adapters call them:
 * the embedded store on what it reads inside its transaction, the DynamoDB store on the item a
 * failed condition returns (`ReturnValuesOnConditionCheckFailure: ALL_OLD`). An adapter only does
 * the I/O: it expresses the condition in its own language (SQL, a `ConditionExpression`) and writes.
 *
 * Every function takes the record as the store reads it: `undefined` when absent or expired.
 * A decision is either an outcome of the port (nothing is written) or a verb naming the write to
 * make (`claim`, `dead-letter`, `cancel`, …).
 *
 * @module
 */

import type { LockKind } from '../protocol/ids.js';
import { isTerminal, type TaskState } from '../task/states.js';
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
  ReviveResult,
  TaskRecord,
} from './store.js';

/** The kinds of lock a store keeps (defined with the lock names, in `lib/protocol/ids.ts`). */
export type { LockKind };

/** A lock as a store holds it. */
export interface Lock {
  /** The task id holding it. */
  readonly holder: string;
  /** When it lapses on its own, epoch ms. */
  readonly expiresAt: number;
}

/** Which lock: its kind and key (a store derives its own item key or row key from them). */
export interface LockRef {
  readonly kind: LockKind;
  readonly key: string;
}

/**
 * Whether `id` may take, keep or extend `lock`: the lock condition of `TaskStore.acquireUnique`'s
 * header. {@link decideClaim} and a heartbeat's singleton lock use it without `replaceHolder`.
 */
export function mayTakeLock(lock: Lock | undefined, id: string, now: number, replaceHolder?: string): boolean {
  return (
    lock === undefined ||
    lock.expiresAt <= now ||
    lock.holder === id ||
    (replaceHolder !== undefined && lock.holder === replaceHolder)
  );
}

/** Whether the run is `running` under a lease that has not lapsed (`leaseExpiresAt > now`). */
export function hasLiveLease(record: TaskRecord, now: number): boolean {
  return record.state === 'running' && (record.leaseExpiresAt ?? 0) > now;
}

/**
 * The condition of `TaskStore.heartbeat` and `TaskStore.finish` (see their headers): `owner` holds
 * the lease of a `running` run, lapsed or not (nobody has claimed the run since).
 */
export function holdsLease(record: TaskRecord | undefined, owner: string): record is TaskRecord {
  return record?.state === 'running' && record.leaseOwner === owner;
}

/**
 * Whether the run is `retrying` and its retry is not due (`nextRunAt > now`): a claim then has the
 * outcome `not-due`, so a message that comes back early (its retry's wait was longer than what its
 * receive's 12-hour visibility window allowed) is hidden again instead of running early.
 */
export function isNotDue(record: TaskRecord, now: number): boolean {
  return record.state === 'retrying' && record.nextRunAt !== undefined && record.nextRunAt > now;
}

/**
 * Whether `record` is bound to other arguments than `argsHash` (`TaskRecord.argsHash`): it has a
 * hash, and `argsHash` is another one or absent. A record with no hash yet is bound to nothing.
 * The binding condition of `TaskStore.claim` and `TaskStore.deadLetter` (their headers).
 */
export function isBoundElsewhere(record: TaskRecord, argsHash: string | undefined): boolean {
  return record.argsHash !== undefined && record.argsHash !== argsHash;
}

/** What {@link decideClaim} decides: write the claim, or an outcome of the port with nothing written. */
export type ClaimDecision = { readonly outcome: 'claim' } | Exclude<ClaimResult, { readonly outcome: 'claimed' }>;

/**
 * The outcome of `TaskStore.claim` (its header states the condition and the outcomes, checked
 * in the order listed there). `singletonLock` is the lock on `input.singletonKey` as found
 * (`undefined`: absent, or no singleton key).
 *
 * @example
 * ```ts
 * const decision = decideClaim(record, input, lock);
 * if (decision.outcome !== 'claim') return decision; // conflict | finished | leased | exhausted | not-due | singleton-busy
 * ```
 */
export function decideClaim(
  record: TaskRecord | undefined,
  input: Pick<ClaimInput, 'id' | 'now' | 'maxAttempts' | 'argsHash'>,
  singletonLock?: Lock,
): ClaimDecision {
  if (record !== undefined) {
    // A claim without a hash (a test, a tool) compares nothing.
    if (input.argsHash !== undefined && isBoundElsewhere(record, input.argsHash))
      return { outcome: 'conflict', record };
    if (isTerminal(record.state)) return { outcome: 'finished', record };
    if (hasLiveLease(record, input.now)) return { outcome: 'leased', record };
    if (record.attempt >= input.maxAttempts) return { outcome: 'exhausted', record };
    if (isNotDue(record, input.now)) return { outcome: 'not-due', record };
  }
  if (singletonLock !== undefined && !mayTakeLock(singletonLock, input.id, input.now)) {
    return { outcome: 'singleton-busy', holderId: singletonLock.holder, heldUntil: singletonLock.expiresAt };
  }
  return { outcome: 'claim' };
}

/** What {@link decideDeadLetter} decides. */
export type DeadLetterDecision =
  | { readonly outcome: 'dead-letter' }
  | Extract<DeadLetterResult, { readonly outcome: 'unchanged' | 'conflict' }>;

/** The outcome of `TaskStore.deadLetter` (its header states the condition and the order of the outcomes). */
export function decideDeadLetter(
  record: TaskRecord | undefined,
  input: Pick<DeadLetterInput, 'now' | 'argsHash'>,
): DeadLetterDecision {
  if (record === undefined) return { outcome: 'dead-letter' };
  if (isBoundElsewhere(record, input.argsHash)) return { outcome: 'conflict', record };
  if (isTerminal(record.state) || hasLiveLease(record, input.now)) return { outcome: 'unchanged', record };
  return { outcome: 'dead-letter' };
}

/** What {@link decideCancel} decides: `cancel` is the header's write A, `request-cancel` its write B. */
export type CancelDecision =
  | { readonly outcome: 'cancel' }
  | { readonly outcome: 'request-cancel' }
  | Extract<CancelResult, { readonly outcome: 'finished' | 'running' }>;

/** The outcome of `TaskStore.cancel` (its header states conditions A and B and the outcomes). */
export function decideCancel(
  record: TaskRecord | undefined,
  input: Pick<CancelInput, 'onlyIfNotStarted'>,
): CancelDecision {
  if (record === undefined) return { outcome: 'cancel' };
  if (isTerminal(record.state)) return { outcome: 'finished', record };
  if (record.state !== 'running') return { outcome: 'cancel' };
  return input.onlyIfNotStarted === true ? { outcome: 'running', record } : { outcome: 'request-cancel' };
}

/** What {@link decideRevive} decides. */
export type ReviveDecision =
  | { readonly outcome: 'revive'; readonly record: TaskRecord }
  | Exclude<ReviveResult, { readonly outcome: 'revived' }>;

/** The outcome of `TaskStore.revive` (its header states the condition); `revive` carries the dead record. */
export function decideRevive(record: TaskRecord | undefined): ReviveDecision {
  if (record === undefined) return { outcome: 'absent' };
  return record.state === 'dead' ? { outcome: 'revive', record } : { outcome: 'not-dead', record };
}

/** What {@link decideAcquireUnique} decides. */
export type AcquireUniqueDecision =
  | { readonly outcome: 'acquire' }
  | Extract<AcquireUniqueResult, { readonly outcome: 'held' }>;

/** The outcome of `TaskStore.acquireUnique`: {@link mayTakeLock} on the lock as found. */
export function decideAcquireUnique(
  lock: Lock | undefined,
  input: Pick<AcquireUniqueInput, 'id' | 'now' | 'replaceHolder'>,
): AcquireUniqueDecision {
  if (lock !== undefined && !mayTakeLock(lock, input.id, input.now, input.replaceHolder)) {
    return { outcome: 'held', holderId: lock.holder, expiresAt: lock.expiresAt };
  }
  return { outcome: 'acquire' };
}

/**
 * The locks a write that leaves `running` (or never reaches it) releases, each only if held by the
 * run's id (a lock another run holds is left alone): the singleton lock `singletonKey` names, and
 * the unique lock `uniqueKey` names when `state` is terminal. `TaskStore.finish` passes its
 * input's keys; `TaskStore.deadLetter` and `TaskStore.cancel` pass only the record's
 * `uniqueKey` (the runs they end hold no live singleton lock: it lapses with the lease).
 */
export function releasedLocks(
  state: TaskState,
  keys: { readonly singletonKey?: string | undefined; readonly uniqueKey?: string | undefined },
): LockRef[] {
  const locks: LockRef[] = [];
  if (keys.singletonKey !== undefined) locks.push({ kind: 'singleton', key: keys.singletonKey });
  if (keys.uniqueKey !== undefined && isTerminal(state)) locks.push({ kind: 'unique', key: keys.uniqueKey });
  return locks;
}

/**
 * How much `TaskStore.finish` takes off the record's `attempt` (its header): 1 when the input gives
 * the attempt back (`releaseAttempt`, a shutdown's release), else 0.
 */
export function releasedAttempts(input: Pick<FinishInput, 'releaseAttempt'>): 0 | 1 {
  return input.releaseAttempt === true ? 1 : 0;
}

/** What DynamoDB counts for a number: up to 38 significant digits, at most 21 bytes. */
const NUMBER_BYTES = 21;

/**
 * The size of `record` as a store item, in bytes, as DynamoDB counts an item: for each attribute,
 * the UTF-8 length of its name plus its value's size (a string: its UTF-8 length; a number: at
 * most 21 bytes, counted as 21; a boolean: 1; a map, `error`: 3 bytes, and for each entry its name,
 * its value and 1 byte). The store's own attributes (key, TTL, index key) are left out:
 * `MAX_RECORD_BYTES` leaves room for them. The worker compares it with `MAX_RECORD_BYTES` before
 * a write that adds a result or progress, so both backends refuse the same records (DynamoDB would
 * fail the write; SQLite would take it).
 *
 * @example
 * ```ts
 * if (recordBytes({ ...record, state: 'succeeded', result }) > MAX_RECORD_BYTES) fail('ResultTooLarge');
 * ```
 */
export function recordBytes(record: TaskRecord): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(record)) {
    if (value !== undefined) bytes += Buffer.byteLength(name, 'utf8') + valueBytes(value);
  }
  return bytes;
}

/**
 * Whether {@link recordBytes} of `record` is at most `limit`, cheaply in the common case: a string
 * takes at most 3 UTF-8 bytes per UTF-16 unit, so a record whose bound fits is not measured exactly.
 */
export function recordFits(record: TaskRecord, limit: number): boolean {
  let bound = 0;
  for (const name in record) {
    const value = (record as unknown as Record<string, unknown>)[name];
    if (value === undefined) continue;
    bound += 3 * name.length + (typeof value === 'string' ? 3 * value.length : valueBytes(value));
  }
  return bound <= limit || recordBytes(record) <= limit;
}

/** What DynamoDB adds for a map, besides 1 byte per entry. */
const MAP_BYTES = 3;

function valueBytes(value: unknown): number {
  switch (typeof value) {
    case 'string':
      return Buffer.byteLength(value, 'utf8');
    case 'number':
    case 'bigint':
      return NUMBER_BYTES;
    case 'boolean':
      return 1;
    case 'object': {
      if (value === null) return 1;
      let bytes = MAP_BYTES;
      for (const [name, item] of Object.entries(value)) {
        if (item !== undefined) bytes += Buffer.byteLength(name, 'utf8') + valueBytes(item) + 1;
      }
      return bytes;
    }
    default:
      return 0;
  }
}
