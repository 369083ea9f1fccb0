/**
 * The DynamoDB writes the task store is built from: conditional updates of task items, lock
 * items, transactions of both, and the clean-up of expired items. Each caller states its
 * condition; see `dynamo-store.ts` for the store's writes and `lib/backend/store-rules.ts` for
 * their outcomes.
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
    const out = await this.db.send(this.#updateCommand(id, u, condition, 'ALL_NEW'));
    return this.must(out.Attributes, now);
  }

  /** {@link update} without reading the new record back (for a caller that needs only success). */
  async apply(id: string, u: UpdateBuilder, condition: string): Promise<void> {
    await this.db.send(this.#updateCommand(id, u, condition, 'NONE'));
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
    await this.db.send(new PutCommand({ ...this.lockPutOf({ kind, key }, id, now, expiresAt, replace), ...ALL_OLD }));
  }

  /** DeleteItem of a lock item ({@link lockDeleteOf}); a lock held by another, or gone, is left alone. */
  async releaseLock(kind: LockKind, key: string, id: string): Promise<void> {
    try {
      await this.db.send(
        new DeleteCommand({ ...this.lockDeleteOf({ kind, key }, id), ReturnConsumedCapacity: 'TOTAL' }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  /** TransactWriteItems: all of `items` or none (TransactionCanceledException; see {@link explainFailure}). */
  async transact(items: TransactWriteItem[]): Promise<void> {
    await this.db.send(new TransactWriteCommand({ TransactItems: items, ReturnConsumedCapacity: 'TOTAL' }));
  }

  /** DeleteItem of an item; condition: it has expired (TTL not yet applied). */
  async deleteExpired(key: Record<string, string>, now: number): Promise<void> {
    try {
      await this.db.send(
        new DeleteCommand({
          TableName: this.table,
          Key: key,
          ConditionExpression: 'expiresAt <= :now',
          ExpressionAttributeValues: { ':now': now },
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
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
  const reasons =
    (error as { CancellationReasons?: { Code?: string; Item?: Record<string, unknown> }[] }).CancellationReasons ?? [];
  return reasons.map((reason) => ({
    conditionFailed: reason.Code === 'ConditionalCheckFailed',
    item: itemOfConditionFailure({ Item: reason.Item }),
  }));
}
