/**
 * The DynamoDB writes the task store is built from: conditional updates of task items, lock
 * items, and the clean-up of expired items. Each caller states its condition; see
 * `dynamo-store.ts` for the store's writes and their outcomes.
 *
 * @module
 */

import { DeleteCommand, type DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { TaskRecord } from '../backend/store.js';
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
  terminalUpdate(state: 'dead' | 'cancelled', id: string, task: string, now: number, expiresAt: number): UpdateBuilder {
    const u = new UpdateBuilder()
      .set('id', id)
      .set('state', state)
      .set('gsiState', state)
      .set('finishedAt', now)
      .set('updatedAt', now)
      .set('expiresAt', expiresAt)
      .set('ttl', ttlSeconds(expiresAt));
    u.setRaw('task', `if_not_exists(${u.name('task')}, ${u.value(task)})`);
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

  #updateCommand(id: string, u: UpdateBuilder, condition: string, returnValues: 'ALL_NEW' | 'NONE'): UpdateCommand {
    return new UpdateCommand({
      TableName: this.table,
      Key: taskKey(id),
      UpdateExpression: u.expression(),
      ConditionExpression: condition,
      ExpressionAttributeNames: u.names,
      ExpressionAttributeValues: u.values,
      ReturnValues: returnValues,
      ...ALL_OLD,
    });
  }

  /** PutItem of a lock item; condition: absent, expired, held by `id` (or by `replace`). */
  async putLock(
    kind: 'unique' | 'singleton',
    key: string,
    id: string,
    now: number,
    expiresAt: number,
    replace?: string,
  ) {
    await this.db.send(
      new PutCommand({
        TableName: this.table,
        Item: { ...lockKey(kind, key), holder: id, expiresAt, ttl: ttlSeconds(expiresAt) },
        ConditionExpression: `attribute_not_exists(pk) OR expiresAt <= :now OR holder = :id${replace === undefined ? '' : ' OR holder = :replace'}`,
        ExpressionAttributeValues: {
          ':now': now,
          ':id': id,
          ...(replace === undefined ? {} : { ':replace': replace }),
        },
        ...ALL_OLD,
      }),
    );
  }

  /** DeleteItem of a lock item; condition: held by `id` (otherwise left alone). */
  async releaseLock(kind: 'unique' | 'singleton', key: string, id: string): Promise<void> {
    try {
      await this.db.send(
        new DeleteCommand({
          TableName: this.table,
          Key: lockKey(kind, key),
          ConditionExpression: 'holder = :id',
          ExpressionAttributeValues: { ':id': id },
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
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

/**
 * Which part of a failed claim failed: `[taskItem, lockItem, failedOnTask, failedOnLock]`.
 * A plain UpdateItem fails with ConditionalCheckFailedException; a transaction with
 * TransactionCanceledException and one reason per item.
 */
export function explainFailure(
  error: unknown,
  transaction: boolean,
): [Item | undefined, Item | undefined, boolean, boolean] {
  if (!transaction) {
    return isConditionFailure(error)
      ? [itemOfConditionFailure(error), undefined, true, false]
      : [undefined, undefined, false, false];
  }
  if (!(error instanceof Error) || error.name !== 'TransactionCanceledException')
    return [undefined, undefined, false, false];
  const reasons =
    (error as { CancellationReasons?: { Code?: string; Item?: Record<string, unknown> }[] }).CancellationReasons ?? [];
  const [onTask, onLock] = [reasons[0], reasons[1]];
  const taskItem = itemOfConditionFailure({ Item: onTask?.Item });
  const lockItem = itemOfConditionFailure({ Item: onLock?.Item });
  return [taskItem, lockItem, onTask?.Code === 'ConditionalCheckFailed', onLock?.Code === 'ConditionalCheckFailed'];
}
