/**
 * The task store port on DynamoDB. Each method header states the write, its condition and its
 * outcomes; the port (`lib/backend/store.ts`) states what they mean. Failed conditions return the
 * old item (`ReturnValuesOnConditionCheckFailure: ALL_OLD`), so deciding an outcome never costs a
 * read. The happy path is two writes: `claim` and `finish`, 1 WCU each for items under 1 KB.
 *
 * An item that exists but has expired (TTL not yet applied) counts as absent: a write whose
 * condition fails on one deletes it (conditionally) and tries again.
 *
 * @module
 */

import {
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
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
import { SpoolError } from '../task/errors.js';
import { isTerminal } from '../task/states.js';
import {
  isConditionFailure,
  isExpired,
  isIndexed,
  itemOfConditionFailure,
  lockKey,
  STATE_INDEX,
  taskKey,
  toRecord,
  ttlSeconds,
  UpdateBuilder,
} from './dynamo-item.js';
import { ALL_OLD, explainFailure, TableWriter } from './dynamo-writes.js';

/** The task store of the AWS backend. */
export class DynamoStore implements TaskStore {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #now: () => number;
  readonly #w: TableWriter;

  /** @param now - clock for reads (`get`, `list`), epoch ms. */
  constructor(db: DynamoDBDocumentClient, tableName: string, now: () => number = Date.now) {
    this.#db = db;
    this.#table = tableName;
    this.#now = now;
    this.#w = new TableWriter(db, tableName);
  }

  async get(id: string): Promise<TaskRecord | undefined> {
    const out = await this.#db.send(
      new GetCommand({
        TableName: this.#table,
        Key: taskKey(id),
        ConsistentRead: true,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    return toRecord(out.Item, this.#now());
  }

  // claim — UpdateItem task#id (TransactWriteItems with lock#singleton#key for singletons).
  // Condition: (absent OR state ∈ {queued, retrying} OR (running AND leaseExpiresAt ≤ now)) AND
  // attempt < maxAttempts; lock absent, expired or held by id. Outcomes: claimed | finished |
  // leased | exhausted | singleton-busy, decided from the old item when the condition fails.
  async claim(input: ClaimInput): Promise<ClaimResult> {
    const { now } = input;
    const u = new UpdateBuilder()
      .set('id', input.id)
      .set('task', input.task)
      .set('state', 'running')
      .set('leaseOwner', input.owner)
      .set('leaseExpiresAt', now + input.leaseMs)
      .set('startedAt', now)
      .set('updatedAt', now)
      .set('expiresAt', input.expiresAt)
      .set('ttl', ttlSeconds(input.expiresAt))
      .remove('cancelRequested')
      .remove('gsiState');
    u.setRaw('attempt', `if_not_exists(${u.name('attempt')}, ${u.value(0)}) + ${u.value(1)}`);
    u.setRaw('createdAt', `if_not_exists(${u.name('createdAt')}, ${u.value(now)})`);
    if (input.singletonKey !== undefined) u.set('singletonKey', input.singletonKey);
    if (input.uniqueKey !== undefined) u.set('uniqueKey', input.uniqueKey);
    const state = u.name('state');
    const lease = u.name('leaseExpiresAt');
    const attempt = u.name('attempt');
    const nowV = u.value(now);
    const condition =
      `attribute_not_exists(pk) OR (${u.name('expiresAt')} > ${nowV} AND ` +
      `(${state} IN (${u.value('queued')}, ${u.value('retrying')}) OR (${state} = ${u.value('running')} AND ${lease} <= ${nowV})) AND ` +
      `${attempt} < ${u.value(input.maxAttempts)})`;
    const update = {
      TableName: this.#table,
      Key: taskKey(input.id),
      UpdateExpression: u.expression(),
      ConditionExpression: condition,
      ExpressionAttributeNames: u.names,
      ExpressionAttributeValues: u.values,
    };
    for (let round = 0; ; round++) {
      try {
        if (input.singletonKey === undefined) {
          const out = await this.#db.send(new UpdateCommand({ ...update, ...ALL_OLD, ReturnValues: 'ALL_NEW' }));
          return { outcome: 'claimed', record: this.#w.must(out.Attributes, now) };
        }
        await this.#db.send(
          new TransactWriteCommand({
            ReturnConsumedCapacity: 'TOTAL',
            TransactItems: [
              { Update: { ...update, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } },
              {
                Put: {
                  TableName: this.#table,
                  Item: {
                    ...lockKey('singleton', input.singletonKey),
                    holder: input.id,
                    expiresAt: now + input.leaseMs,
                    ttl: ttlSeconds(now + input.leaseMs),
                  },
                  ConditionExpression: 'attribute_not_exists(pk) OR expiresAt <= :now OR holder = :id',
                  ExpressionAttributeValues: { ':now': now, ':id': input.id },
                  ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
                },
              },
            ],
          }),
        );
        const record = await this.get(input.id);
        return { outcome: 'claimed', record: this.#w.must(record, now) };
      } catch (error) {
        const [taskItem, lockItem, failedOnTask, failedOnLock] = explainFailure(
          error,
          input.singletonKey !== undefined,
        );
        if (!failedOnTask && !failedOnLock) throw error;
        if (failedOnTask) {
          if (isExpired(taskItem, now) && round < 2) {
            await this.#w.deleteExpired(taskKey(input.id), now);
            continue;
          }
          const record = toRecord(taskItem, now);
          if (record === undefined) throw error;
          if (isTerminal(record.state)) return { outcome: 'finished', record };
          if (record.state === 'running' && (record.leaseExpiresAt ?? 0) > now) return { outcome: 'leased', record };
          if (record.attempt >= input.maxAttempts) return { outcome: 'exhausted', record };
          if (round < 2) continue; // it changed between the write and now: try again
          throw error;
        }
        return {
          outcome: 'singleton-busy',
          holderId: String(lockItem?.holder),
          heldUntil: Number(lockItem?.expiresAt),
        };
      }
    }
  }

  // heartbeat — UpdateItem task#id SET leaseExpiresAt (, progress). Condition: state = running AND
  // leaseOwner = owner. Outcomes: renewed (cancelRequested read from the new item) | lost.
  // A singleton's lock is extended after (PutItem, condition: absent, expired or held by id).
  async heartbeat(input: HeartbeatInput): Promise<HeartbeatResult> {
    const { now } = input;
    const u = new UpdateBuilder().set('leaseExpiresAt', now + input.leaseMs).set('updatedAt', now);
    if (input.progress !== undefined) u.set('progress', input.progress);
    try {
      const renewed = await this.#w.update(input.id, u, leaseHeldBy(u, input.owner, now), now);
      if (input.singletonKey !== undefined)
        await this.#w.putLock('singleton', input.singletonKey, input.id, now, now + input.leaseMs);
      return { outcome: 'renewed', cancelRequested: renewed.cancelRequested === true };
    } catch (error) {
      if (isConditionFailure(error)) return { outcome: 'lost' };
      throw error;
    }
  }

  // finish — UpdateItem task#id SET state, result, error, nextRunAt, expiresAt (absent ones
  // removed), finishedAt when terminal; REMOVE lease. Condition: state = running AND leaseOwner =
  // owner. Outcomes: finished | lost. Then releases the singleton lock input.singletonKey, and the
  // unique lock input.uniqueKey when terminal (DeleteItem, condition: holder = id).
  async finish(input: FinishInput): Promise<FinishResult> {
    const { now } = input;
    const terminal = isTerminal(input.state);
    const u = new UpdateBuilder()
      .set('state', input.state)
      .set('updatedAt', now)
      .set('expiresAt', input.expiresAt)
      .set('ttl', ttlSeconds(input.expiresAt))
      .setOrRemove('result', input.result)
      .setOrRemove('error', input.error)
      .setOrRemove('nextRunAt', input.nextRunAt)
      .setOrRemove('gsiState', isIndexed(input.state) ? input.state : undefined)
      .remove('leaseOwner')
      .remove('leaseExpiresAt');
    if (terminal) u.set('finishedAt', now);
    try {
      await this.#w.apply(input.id, u, leaseHeldBy(u, input.owner, now));
      if (input.singletonKey !== undefined) await this.#w.releaseLock('singleton', input.singletonKey, input.id);
      if (terminal && input.uniqueKey !== undefined) await this.#w.releaseLock('unique', input.uniqueKey, input.id);
      return { outcome: 'finished' };
    } catch (error) {
      if (isConditionFailure(error)) return { outcome: 'lost' };
      throw error;
    }
  }

  // deadLetter — UpdateItem task#id SET state = dead, error, finishedAt; REMOVE lease. Condition:
  // absent OR state ∈ {queued, retrying} OR (running AND leaseExpiresAt ≤ now). Outcomes: dead |
  // unchanged. Then releases the unique lock (condition: holder = id).
  async deadLetter(input: DeadLetterInput): Promise<DeadLetterResult> {
    const { now } = input;
    const u = this.#w.terminalUpdate('dead', input.id, input.task, now, input.expiresAt).set('error', input.error);
    u.remove('leaseOwner').remove('leaseExpiresAt');
    const state = u.name('state');
    const condition =
      `attribute_not_exists(pk) OR (${u.name('expiresAt')} > ${u.value(now)} AND (${state} IN (${u.value('queued')}, ${u.value('retrying')}) OR ` +
      `(${state} = ${u.value('running')} AND ${u.name('leaseExpiresAt')} <= ${u.value(now)})))`;
    for (let round = 0; ; round++) {
      try {
        const record = await this.#w.update(input.id, u, condition, now);
        if (record.uniqueKey !== undefined) await this.#w.releaseLock('unique', record.uniqueKey, input.id);
        return { outcome: 'dead', record };
      } catch (error) {
        const old = itemOfConditionFailure(error);
        if (!isConditionFailure(error)) throw error;
        if (isExpired(old, now) && round < 2) {
          await this.#w.deleteExpired(taskKey(input.id), now);
          continue;
        }
        const record = toRecord(old, now);
        if (record === undefined) throw error;
        return { outcome: 'unchanged', record };
      }
    }
  }

  // cancel — A: UpdateItem task#id SET state = cancelled, condition absent OR state ∈ {queued,
  // retrying} (then the unique lock is released). B, when A finds it running: SET cancelRequested =
  // true, condition state = running. Outcomes: cancelled (A) | requested (B) | finished.
  async cancel(input: CancelInput): Promise<CancelResult> {
    const { now } = input;
    for (let round = 0; round < 4; round++) {
      const u = this.#w.terminalUpdate('cancelled', input.id, input.task ?? '?', now, input.expiresAt);
      if (input.reason !== undefined) u.set('error', input.reason);
      const state = u.name('state');
      const condition = `attribute_not_exists(pk) OR (${u.name('expiresAt')} > ${u.value(now)} AND ${state} IN (${u.value('queued')}, ${u.value('retrying')}))`;
      try {
        const record = await this.#w.update(input.id, u, condition, now);
        if (record.uniqueKey !== undefined) await this.#w.releaseLock('unique', record.uniqueKey, input.id);
        return { outcome: 'cancelled', record };
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        const old = itemOfConditionFailure(error);
        if (isExpired(old, now)) {
          await this.#w.deleteExpired(taskKey(input.id), now);
          continue;
        }
        const record = toRecord(old, now);
        if (record === undefined) continue;
        if (isTerminal(record.state)) return { outcome: 'finished', record };
        if (input.onlyIfNotStarted === true) return { outcome: 'running', record };
        const b = new UpdateBuilder().set('cancelRequested', true).set('updatedAt', now);
        try {
          const requested = await this.#w.update(input.id, b, `${b.name('state')} = ${b.value('running')}`, now);
          return { outcome: 'requested', record: requested };
        } catch (inner) {
          if (!isConditionFailure(inner)) throw inner;
        }
      }
    }
    throw new SpoolError(`cancel(${input.id}): the run kept changing state; try again`, { taskId: input.id });
  }

  // revive — UpdateItem task#id SET state = queued, attempt = 0; REMOVE lease, nextRunAt.
  // Condition: state = dead. Outcomes: revived | absent | not-dead.
  async revive(input: ReviveInput): Promise<ReviveResult> {
    const { now } = input;
    const u = new UpdateBuilder()
      .set('state', 'queued')
      .set('attempt', 0)
      .set('updatedAt', now)
      .set('expiresAt', input.expiresAt)
      .set('ttl', ttlSeconds(input.expiresAt))
      .remove('leaseOwner')
      .remove('leaseExpiresAt')
      .remove('nextRunAt')
      .remove('gsiState');
    try {
      const record = await this.#w.update(
        input.id,
        u,
        `${u.name('state')} = ${u.value('dead')} AND ${u.name('expiresAt')} > ${u.value(now)}`,
        now,
      );
      return { outcome: 'revived', record };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const record = toRecord(itemOfConditionFailure(error), now);
      return record === undefined ? { outcome: 'absent' } : { outcome: 'not-dead', record };
    }
  }

  // acquireUnique — PutItem lock#unique#key. Condition: absent OR expired OR holder = id OR holder =
  // replaceHolder. Outcomes: acquired | held.
  async acquireUnique(input: AcquireUniqueInput): Promise<AcquireUniqueResult> {
    try {
      await this.#w.putLock('unique', input.key, input.id, input.now, input.now + input.ttlMs, input.replaceHolder);
      return { outcome: 'acquired' };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const old = itemOfConditionFailure(error);
      return { outcome: 'held', holderId: String(old?.holder), expiresAt: Number(old?.expiresAt) };
    }
  }

  // releaseUnique — DeleteItem lock#unique#key. Condition: holder = id.
  async releaseUnique(key: string, id: string): Promise<void> {
    await this.#w.releaseLock('unique', key, id);
  }

  async list(state: ListableState, options: { readonly limit: number }): Promise<TaskRecord[]> {
    const now = this.#now();
    const records: TaskRecord[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.#db.send(
        new QueryCommand({
          TableName: this.#table,
          IndexName: STATE_INDEX,
          KeyConditionExpression: 'gsiState = :s',
          ExpressionAttributeValues: { ':s': state },
          ScanIndexForward: false,
          Limit: options.limit,
          ReturnConsumedCapacity: 'TOTAL',
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        }),
      );
      for (const item of out.Items ?? []) {
        const record = toRecord(item, now);
        if (record !== undefined && records.length < options.limit) records.push(record);
      }
      start = out.LastEvaluatedKey;
    } while (start !== undefined && records.length < options.limit);
    return records;
  }
}

/** The condition of heartbeat and finish: the run is running, under this owner's lease, and not expired. */
function leaseHeldBy(u: UpdateBuilder, owner: string, now: number): string {
  return `${u.name('state')} = ${u.value('running')} AND ${u.name('leaseOwner')} = ${u.value(owner)} AND ${u.name('expiresAt')} > ${u.value(now)}`;
}
