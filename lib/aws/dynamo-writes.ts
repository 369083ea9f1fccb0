/**
 * The DynamoDB writes the task store is built from: conditional updates of task items, lock
 * items, transactions of both, and the clean-up of expired items. Each caller states its
 * condition; see `dynamo-store.ts` for the store's writes and `lib/backend/store-rules.ts` for
 * their outcomes.
 *
 * **Transaction conflicts** are not failures: DynamoDB cancels a transaction
 * (`TransactionCanceledException` with a `TransactionConflict` reason) or refuses a plain write
 * (`TransactionConflictException`) when another transaction is changing one of its items at that
 * moment, and writes nothing. Every write here tries again after a short wait with jitter
 * ({@link CONFLICT_TRIES} tries within about 200 ms, {@link retryOnConflict}); when the conflicts
 * outlast that, it rejects with a retriable `SpoolError` (`BACKEND_FAILURE`) that says so. Which
 * failure it is is decided by the SDK's fields (`name`, `CancellationReasons[].Code`), never by
 * the message. A transaction whose reasons include a failed condition is not a conflict: the
 * caller decides its outcome from the reasons ({@link explainFailure}).
 *
 * @module
 */

import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  TransactWriteCommand,
  type TransactWriteDelete,
  type TransactWriteItem,
  type TransactWritePut,
  type TransactWriteUpdate,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { TaskRecord } from '../backend/store.js';
import type { LockKind, LockRef } from '../backend/store-rules.js';
import { SpoolError } from '../task/errors.js';
import {
  isConditionFailure,
  itemOfConditionFailure,
  lockKey,
  taskKey,
  toRecord,
  ttlSeconds,
  UpdateBuilder,
} from './dynamo-item.js';

type Item = Record<string, unknown>;

/** How many times a write is tried when it conflicts with another transaction, in all. */
export const CONFLICT_TRIES = 4;
/**
 * The wait before the second try, ms; each later wait doubles, and each is drawn uniformly from half
 * of it to all of it (jitter, so that two writers that conflicted do not meet again): at most
 * 20 + 40 + 80 = 140 ms of waiting over {@link CONFLICT_TRIES} tries.
 */
export const CONFLICT_FIRST_WAIT_MS = 20;

/** Ask for the old item when a condition fails, and for the capacity consumed. */
export const ALL_OLD = { ReturnValuesOnConditionCheckFailure: 'ALL_OLD', ReturnConsumedCapacity: 'TOTAL' } as const;

/** Conditional writes on one table. */
export class TableWriter {
  /** @param table - the table name. */
  constructor(
    readonly db: DynamoDBDocumentClient,
    readonly table: string,
  ) {}

  /** An update that ends a run without an attempt (dead-letter, cancel), creating the record if absent. */
  terminalUpdate(
    state: 'dead' | 'cancelled',
    id: string,
    task: string | undefined,
    now: number,
    expiresAt: number,
  ): UpdateBuilder {
    const u = new UpdateBuilder()
      .set('id', id)
      .set('state', state)
      .set('gsiState', state)
      .set('finishedAt', now)
      .set('updatedAt', now)
      .set('expiresAt', expiresAt)
      .set('ttl', ttlSeconds(expiresAt));
    // An unknown task name is left absent (a record made by a cancel by id, before the run was seen).
    if (task !== undefined) u.setRaw('task', `if_not_exists(${u.name('task')}, ${u.value(task)})`);
    u.setRaw('attempt', `if_not_exists(${u.name('attempt')}, ${u.value(0)})`);
    u.setRaw('createdAt', `if_not_exists(${u.name('createdAt')}, ${u.value(now)})`);
    return u;
  }

  /** UpdateItem on `task#id` under `condition`; resolves the new record (ConditionalCheckFailed carries the old item). */
  async update(id: string, u: UpdateBuilder, condition: string, now: number): Promise<TaskRecord> {
    const out = await retryOnConflict(`UpdateItem of task ${id}`, () =>
      this.db.send(this.#updateCommand(id, u, condition, 'ALL_NEW')),
    );
    return this.must(out.Attributes, now);
  }

  /** {@link update} without reading the new record back (for a caller that needs only success). */
  async apply(id: string, u: UpdateBuilder, condition: string): Promise<void> {
    await retryOnConflict(`UpdateItem of task ${id}`, () =>
      this.db.send(this.#updateCommand(id, u, condition, 'NONE')),
    );
  }

  /** The conditional update of `task#id`, as a member of a transaction (the old item on failure). */
  updateOf(id: string, u: UpdateBuilder, condition: string): TransactWriteUpdate {
    return {
      TableName: this.table,
      Key: taskKey(id),
      UpdateExpression: u.expression(),
      ConditionExpression: condition,
      ExpressionAttributeNames: u.names,
      ExpressionAttributeValues: u.values,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    };
  }

  #updateCommand(id: string, u: UpdateBuilder, condition: string, returnValues: 'ALL_NEW' | 'NONE'): UpdateCommand {
    return new UpdateCommand({ ...this.updateOf(id, u, condition), ReturnValues: returnValues, ...ALL_OLD });
  }

  /**
   * The put of a lock item held by `id` until `expiresAt`; condition: absent, expired, held by
   * `id` (or by `replace`): the port's lock condition (`mayTakeLock` in the store rules).
   */
  lockPutOf(lock: LockRef, id: string, now: number, expiresAt: number, replace?: string): TransactWritePut {
    return {
      TableName: this.table,
      Item: { ...lockKey(lock.kind, lock.key), holder: id, expiresAt, ttl: ttlSeconds(expiresAt) },
      ConditionExpression: `attribute_not_exists(pk) OR expiresAt <= :now OR holder = :id${replace === undefined ? '' : ' OR holder = :replace'}`,
      ExpressionAttributeValues: {
        ':now': now,
        ':id': id,
        ...(replace === undefined ? {} : { ':replace': replace }),
      },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    };
  }

  /** The delete of a lock item; condition: held by `id`. */
  lockDeleteOf(lock: LockRef, id: string): TransactWriteDelete {
    return {
      TableName: this.table,
      Key: lockKey(lock.kind, lock.key),
      ConditionExpression: 'holder = :id',
      ExpressionAttributeValues: { ':id': id },
    };
  }

  /** PutItem of a lock item ({@link lockPutOf}); ConditionalCheckFailed carries the old lock. */
  async putLock(kind: LockKind, key: string, id: string, now: number, expiresAt: number, replace?: string) {
    const put = new PutCommand({ ...this.lockPutOf({ kind, key }, id, now, expiresAt, replace), ...ALL_OLD });
    await retryOnConflict(`PutItem of lock ${kind}#${key}`, () => this.db.send(put));
  }

  /** DeleteItem of a lock item ({@link lockDeleteOf}); a lock held by another, or gone, is left alone. */
  async releaseLock(kind: LockKind, key: string, id: string): Promise<void> {
    try {
      const remove = new DeleteCommand({ ...this.lockDeleteOf({ kind, key }, id), ReturnConsumedCapacity: 'TOTAL' });
      await retryOnConflict(`DeleteItem of lock ${kind}#${key}`, () => this.db.send(remove));
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  /**
   * TransactWriteItems: all of `items` or none (TransactionCanceledException; see {@link explainFailure}).
   * A transaction cancelled by conflicts alone is tried again ({@link retryOnConflict}).
   */
  async transact(items: TransactWriteItem[]): Promise<void> {
    const command = new TransactWriteCommand({ TransactItems: items, ReturnConsumedCapacity: 'TOTAL' });
    await retryOnConflict(`TransactWriteItems of ${items.length} items`, () => this.db.send(command));
  }

  /** DeleteItem of an item; condition: it has expired (TTL not yet applied). */
  async deleteExpired(key: Record<string, string>, now: number): Promise<void> {
    try {
      const remove = new DeleteCommand({
        TableName: this.table,
        Key: key,
        ConditionExpression: 'expiresAt <= :now',
        ExpressionAttributeValues: { ':now': now },
        ReturnConsumedCapacity: 'TOTAL',
      });
      await retryOnConflict(`DeleteItem of expired ${String(key.pk)}`, () => this.db.send(remove));
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  /** The record of an item a successful write returned. */
  must(item: Item | TaskRecord | undefined, now: number): TaskRecord {
    const record = toRecord(item as Item | undefined, now);
    if (record === undefined) throw new SpoolError('DynamoDB returned no record after a successful write');
    return record;
  }
}

/** What one member of a failed write reported: a plain write has one, a transaction one per item. */
export interface WriteFailure {
  /** Its condition failed. */
  readonly conditionFailed: boolean;
  /** The item as the write found it, when its condition failed and `ALL_OLD` was asked for. */
  readonly item: Item | undefined;
}

/**
 * Why a write failed: one {@link WriteFailure} per member, in request order, or `undefined` when it
 * failed otherwise (rethrow it). A plain write fails with ConditionalCheckFailedException (one
 * member); a transaction with TransactionCanceledException and one reason per item, `None` for an
 * item whose condition held (all of them, when another write on an item conflicted).
 */
export function explainFailure(error: unknown): readonly WriteFailure[] | undefined {
  if (isConditionFailure(error)) return [{ conditionFailed: true, item: itemOfConditionFailure(error) }];
  if (!(error instanceof Error) || error.name !== 'TransactionCanceledException') return undefined;
  return cancellationReasons(error).map((reason) => ({
    conditionFailed: reason.Code === 'ConditionalCheckFailed',
    item: itemOfConditionFailure({ Item: reason.Item }),
  }));
}

/** One reason of a cancelled transaction, as the SDK gives it (`Code` is `None` for an item without error). */
interface CancellationReason {
  readonly Code?: string;
  readonly Item?: Record<string, unknown>;
}

function cancellationReasons(error: Error): readonly CancellationReason[] {
  return (error as { CancellationReasons?: CancellationReason[] }).CancellationReasons ?? [];
}

/**
 * Whether `error` says that another transaction was changing an item of the write, so that nothing
 * was written and the same write may succeed a moment later: a plain write's
 * `TransactionConflictException`, a `TransactionInProgressException` (the SDK has tried it
 * already), or a `TransactionCanceledException` whose reasons are all `TransactionConflict` (or
 * `None`). A cancellation with any other reason (a failed condition above all) is not one.
 */
export function isTransactionConflict(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'TransactionConflictException' || error.name === 'TransactionInProgressException') return true;
  if (error.name !== 'TransactionCanceledException') return false;
  const codes = cancellationReasons(error)
    .map((reason) => reason.Code ?? 'None')
    .filter((code) => code !== 'None');
  return codes.length > 0 && codes.every((code) => code === 'TransactionConflict');
}

/**
 * Make the write `call` (one DynamoDB request, `what` names it) and try it again while it fails
 * with a transaction conflict ({@link isTransactionConflict}): up to {@link CONFLICT_TRIES} tries,
 * with waits from {@link CONFLICT_FIRST_WAIT_MS} doubling, jittered. Any other error is thrown
 * as it is. When every try conflicted, rejects with a retriable `SpoolError` (`BACKEND_FAILURE`,
 * the last conflict as its `cause`): nothing was written.
 */
export async function retryOnConflict<T>(what: string, call: () => Promise<T>): Promise<T> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!isTransactionConflict(error)) throw error;
      if (attempt >= CONFLICT_TRIES) {
        throw new SpoolError(
          `DynamoDB ${what}: another transaction was changing the same item at each of ${CONFLICT_TRIES} tries ` +
            `over ${Date.now() - started} ms (${(error as Error).name}), so nothing was written. ` +
            'This is transient contention, not a fault: the write may be tried again (a worker gets the message again).',
          { cause: error },
        );
      }
      const wait = CONFLICT_FIRST_WAIT_MS * 2 ** (attempt - 1);
      await new Promise((resolve) => setTimeout(resolve, wait / 2 + Math.random() * (wait / 2)));
    }
  }
}
