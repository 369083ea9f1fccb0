/**
 * The task store port on DynamoDB. Each method header says which DynamoDB writes it makes; the port
 * (`lib/backend/store.ts`) states their conditions and outcomes, and the store rules
 * (`lib/backend/store-rules.ts`) decide the outcome. Failed conditions return the old item
 * (`ReturnValuesOnConditionCheckFailure: ALL_OLD`), so deciding an outcome never costs a read. The
 * happy path is two writes: `claim` and `finish`, 1 WCU each for items under 1 KB (a transaction,
 * taken only where a lock is involved, costs 2 WCU per item).
 *
 * An item that exists but has expired (TTL not yet applied) counts as absent: a write whose
 * condition fails on one deletes it (conditionally) and tries again.
 *
 * A write that conflicts with another transaction on one of its items (a singleton claim against a
 * heartbeat of the same lock, a finish's lock delete against a claim taking it) is tried again
 * shortly, a few times within about 200 ms (`retryOnConflict` in `dynamo-writes.ts`): a conflict
 * is not an outcome and not a backend failure. Conflicts that outlast the retries reject with a
 * retriable `SpoolError` saying so; nothing was written.
 *
 * @module
 */

import { type DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { BlobStore } from '../backend/blobs.js';
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
  type LockRef,
  releasedAttempts,
  releasedLocks,
} from '../backend/store-rules.js';
import { SpoolError } from '../task/errors.js';
import { isTerminal, type TaskState } from '../task/states.js';
import {
  isConditionFailure,
  isExpired,
  isIndexed,
  itemOfConditionFailure,
  STATE_INDEX,
  STATE_PROJECTION_ATTRIBUTES,
  taskKey,
  toLock,
  toRecord,
  ttlSeconds,
  UpdateBuilder,
} from './dynamo-item.js';
import { ALL_OLD, explainFailure, retryOnConflict, TableWriter } from './dynamo-writes.js';

/** The task store of the AWS backend. */
export class DynamoStore implements TaskStore {
  /** The S3 bucket's blobs (the claim-check), when the backend has a bucket. */
  readonly blobs?: BlobStore;
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #now: () => number;
  readonly #w: TableWriter;

  /** @param now - clock for reads (`get`, `list`), epoch ms. */
  constructor(db: DynamoDBDocumentClient, tableName: string, now: () => number = Date.now, blobs?: BlobStore) {
    if (blobs !== undefined) this.blobs = blobs;
    this.#db = db;
    this.#table = tableName;
    this.#now = now;
    this.#w = new TableWriter(db, tableName);
  }

  /** GetItem task#id, strongly consistent (see {@link TaskStore.get}). */
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

  /** GetItem task#id projected to `STATE_PROJECTION_ATTRIBUTES`, strongly consistent (see {@link TaskStore.stateOf}). */
  async stateOf(id: string): Promise<TaskState | undefined> {
    const names = Object.fromEntries(STATE_PROJECTION_ATTRIBUTES.map((name, i) => [`#a${i}`, name]));
    const out = await this.#db.send(
      new GetCommand({
        TableName: this.#table,
        Key: taskKey(id),
        ConsistentRead: true,
        ProjectionExpression: Object.keys(names).join(', '),
        ExpressionAttributeNames: names,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    const item = out.Item;
    if (item === undefined || !(Number(item.expiresAt) > this.#now())) return undefined;
    return item.state as TaskState;
  }

  // claim — UpdateItem task#id (a retrying run only once its nextRunAt has come); for a singleton,
  // TransactWriteItems of it and the PutItem of lock#singleton#key. Outcome: decideClaim on the old
  // items of the failed conditions.
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
    // The first claim binds the run to its message (argsHash, enqueuedBy); later ones keep it.
    let bound = '';
    if (input.argsHash !== undefined) {
      const argsHash = u.name('argsHash');
      const hashV = u.value(input.argsHash);
      u.setRaw('argsHash', `if_not_exists(${argsHash}, ${hashV})`);
      if (input.enqueuedBy !== undefined) {
        u.setRaw('enqueuedBy', `if_not_exists(${u.name('enqueuedBy')}, ${u.value(input.enqueuedBy)})`);
      }
      bound = `(attribute_not_exists(${argsHash}) OR ${argsHash} = ${hashV}) AND `;
    }
    const state = u.name('state');
    const lease = u.name('leaseExpiresAt');
    const attempt = u.name('attempt');
    const nowV = u.value(now);
    const retrying = u.value('retrying');
    const nextRunAt = u.name('nextRunAt');
    const condition =
      `attribute_not_exists(pk) OR (${u.name('expiresAt')} > ${nowV} AND ${bound}` +
      `(${state} IN (${u.value('queued')}, ${retrying}) OR (${state} = ${u.value('running')} AND ${lease} <= ${nowV})) AND ` +
      `${attempt} < ${u.value(input.maxAttempts)} AND ` +
      `(${state} <> ${retrying} OR attribute_not_exists(${nextRunAt}) OR ${nextRunAt} <= ${nowV}))`;
    const update = this.#w.updateOf(input.id, u, condition);
    const lock =
      input.singletonKey === undefined
        ? undefined
        : this.#w.lockPutOf({ kind: 'singleton', key: input.singletonKey }, input.id, now, now + input.leaseMs);
    for (let round = 0; ; round++) {
      try {
        if (lock === undefined) {
          const command = new UpdateCommand({ ...update, ...ALL_OLD, ReturnValues: 'ALL_NEW' });
          const out = await retryOnConflict(`claim of task ${input.id}`, () => this.#db.send(command));
          return { outcome: 'claimed', record: this.#w.must(out.Attributes, now) };
        }
        await this.#w.transact([{ Update: update }, { Put: lock }]);
        const record = await this.get(input.id);
        return { outcome: 'claimed', record: this.#w.must(record, now) };
      } catch (error) {
        const [onTask, onLock] = explainFailure(error) ?? [];
        if (onTask?.conditionFailed !== true && onLock?.conditionFailed !== true) throw error;
        if (onTask?.conditionFailed === true && isExpired(onTask.item, now) && round < 2) {
          await this.#w.deleteExpired(taskKey(input.id), now);
          continue;
        }
        const decision = decideClaim(
          onTask?.conditionFailed === true ? toRecord(onTask.item, now) : undefined,
          input,
          onLock?.conditionFailed === true ? toLock(onLock.item) : undefined,
        );
        if (decision.outcome !== 'claim') return decision;
        if (round < 2) continue; // it changed between the write and now: try again
        throw error;
      }
    }
  }

  // heartbeat — UpdateItem task#id; for a singleton, TransactWriteItems of it and the PutItem of
  // lock#singleton#key, or the UpdateItem alone when only the lock's condition failed (another run
  // holds it). A transaction returns no new item, so its update also requires that cancelRequested
  // is absent: failing on that alone, with the lease ours, says it is set (then again without it).
  async heartbeat(input: HeartbeatInput): Promise<HeartbeatResult> {
    const { now } = input;
    const renewal = () => {
      const u = new UpdateBuilder().set('leaseExpiresAt', now + input.leaseMs).set('updatedAt', now);
      if (input.progress !== undefined) u.set('progress', input.progress);
      return { u, held: leaseHeldBy(u, input.owner, now) };
    };
    let lock: LockRef | undefined =
      input.singletonKey === undefined ? undefined : { kind: 'singleton', key: input.singletonKey };
    let cancelRequested = false;
    let failure: unknown;
    for (let round = 0; round < 4; round++) {
      const { u, held } = renewal();
      try {
        if (lock === undefined) {
          const renewed = await this.#w.update(input.id, u, held, now);
          return { outcome: 'renewed', cancelRequested: renewed.cancelRequested === true };
        }
        const condition = cancelRequested ? held : `${held} AND attribute_not_exists(${u.name('cancelRequested')})`;
        await this.#w.transact([
          { Update: this.#w.updateOf(input.id, u, condition) },
          { Put: this.#w.lockPutOf(lock, input.id, now, now + input.leaseMs) },
        ]);
        return { outcome: 'renewed', cancelRequested };
      } catch (error) {
        const [onTask, onLock] = explainFailure(error) ?? [];
        if (onTask === undefined) throw error;
        if (onTask.conditionFailed) {
          // With the lease ours, only the transaction's cancelRequested clause can have failed.
          const record = toRecord(onTask.item, now);
          const onlyTheFlag =
            lock !== undefined &&
            !cancelRequested &&
            holdsLease(record, input.owner) &&
            record.cancelRequested === true;
          if (!onlyTheFlag) return { outcome: 'lost' };
          cancelRequested = true;
        }
        if (onLock?.conditionFailed === true) lock = undefined;
        failure = error;
      }
    }
    throw failure;
  }

  // finish — UpdateItem task#id (attempt − releasedAttempts, in the same update); with locks to
  // release (releasedLocks), TransactWriteItems of it and a DeleteItem per lock, again without the
  // locks whose condition failed (gone, or held by another).
  async finish(input: FinishInput): Promise<FinishResult> {
    const { now } = input;
    const terminal = isTerminal(input.state);
    const u = new UpdateBuilder()
      .set('state', input.state)
      .set('updatedAt', now)
      .set('expiresAt', input.expiresAt)
      .set('ttl', ttlSeconds(input.expiresAt))
      .setOrRemove('result', input.result)
      .setOrRemove('resultRef', input.resultRef)
      .setOrRemove('error', input.error)
      .setOrRemove('nextRunAt', input.nextRunAt)
      .setOrRemove('gsiState', isIndexed(input.state) ? input.state : undefined)
      .remove('leaseOwner')
      .remove('leaseExpiresAt');
    if (terminal) u.set('finishedAt', now);
    if (input.progress !== undefined) u.set('progress', input.progress);
    const given = releasedAttempts(input);
    if (given > 0) u.setRaw('attempt', `${u.name('attempt')} - ${u.value(given)}`);
    const condition = leaseHeldBy(u, input.owner, now);
    let locks = releasedLocks(input.state, input);
    let failure: unknown;
    for (let round = 0; round < 4; round++) {
      try {
        if (locks.length === 0) {
          await this.#w.apply(input.id, u, condition);
        } else {
          await this.#w.transact([
            { Update: this.#w.updateOf(input.id, u, condition) },
            ...locks.map((lock) => ({ Delete: this.#w.lockDeleteOf(lock, input.id) })),
          ]);
        }
        return { outcome: 'finished' };
      } catch (error) {
        const reasons = explainFailure(error);
        if (reasons === undefined) throw error;
        if (reasons[0]?.conditionFailed === true) return { outcome: 'lost' };
        locks = locks.filter((_, i) => reasons[i + 1]?.conditionFailed !== true);
        failure = error;
      }
    }
    throw failure;
  }

  // deadLetter — UpdateItem task#id (outcome: decideDeadLetter on the old item), then the port's
  // follow-up: DeleteItem of the unique lock the new record names.
  async deadLetter(input: DeadLetterInput): Promise<DeadLetterResult> {
    const { now } = input;
    const u = this.#w.terminalUpdate('dead', input.id, input.task, now, input.expiresAt).set('error', input.error);
    u.remove('leaseOwner').remove('leaseExpiresAt');
    const state = u.name('state');
    const argsHash = u.name('argsHash');
    const bound =
      input.argsHash === undefined
        ? `attribute_not_exists(${argsHash})`
        : `(attribute_not_exists(${argsHash}) OR ${argsHash} = ${u.value(input.argsHash)})`;
    const condition =
      `attribute_not_exists(pk) OR (${u.name('expiresAt')} > ${u.value(now)} AND ${bound} AND (${state} IN (${u.value('queued')}, ${u.value('retrying')}) OR ` +
      `(${state} = ${u.value('running')} AND ${u.name('leaseExpiresAt')} <= ${u.value(now)})))`;
    for (let round = 0; ; round++) {
      try {
        const record = await this.#w.update(input.id, u, condition, now);
        await this.#release(releasedLocks('dead', { uniqueKey: record.uniqueKey }), input.id);
        return { outcome: 'dead', record };
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        const old = itemOfConditionFailure(error);
        if (isExpired(old, now) && round < 2) {
          await this.#w.deleteExpired(taskKey(input.id), now);
          continue;
        }
        const decision = decideDeadLetter(toRecord(old, now), input);
        if (decision.outcome !== 'dead-letter') return decision;
        if (round < 2) continue; // it changed between the write and now: try again
        throw error;
      }
    }
  }

  // cancel — UpdateItem task#id to cancelled (write A; outcome: decideCancel on the old item), or to
  // cancelRequested (write B, condition state = running); after A, the port's follow-up: DeleteItem
  // of the unique lock the new record names.
  async cancel(input: CancelInput): Promise<CancelResult> {
    const { now } = input;
    for (let round = 0; round < 4; round++) {
      const u = this.#w.terminalUpdate('cancelled', input.id, input.task, now, input.expiresAt);
      if (input.reason !== undefined) u.set('error', input.reason);
      const state = u.name('state');
      const condition = `attribute_not_exists(pk) OR (${u.name('expiresAt')} > ${u.value(now)} AND ${state} IN (${u.value('queued')}, ${u.value('retrying')}))`;
      try {
        const record = await this.#w.update(input.id, u, condition, now);
        await this.#release(releasedLocks('cancelled', { uniqueKey: record.uniqueKey }), input.id);
        return { outcome: 'cancelled', record };
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        const old = itemOfConditionFailure(error);
        if (isExpired(old, now)) {
          await this.#w.deleteExpired(taskKey(input.id), now);
          continue;
        }
        const decision = decideCancel(toRecord(old, now), input);
        if (decision.outcome === 'finished' || decision.outcome === 'running') return decision;
        if (decision.outcome === 'cancel') continue; // it changed between the write and now
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

  // revive — UpdateItem task#id (outcome: decideRevive on the old item).
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
      const decision = decideRevive(toRecord(itemOfConditionFailure(error), now));
      if (decision.outcome !== 'revive') return decision;
      throw error;
    }
  }

  // acquireUnique — PutItem lock#unique#key (outcome: decideAcquireUnique on the old lock).
  async acquireUnique(input: AcquireUniqueInput): Promise<AcquireUniqueResult> {
    try {
      await this.#w.putLock('unique', input.key, input.id, input.now, input.now + input.ttlMs, input.replaceHolder);
      return { outcome: 'acquired' };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const decision = decideAcquireUnique(toLock(itemOfConditionFailure(error)), input);
      if (decision.outcome !== 'acquire') return decision;
      throw error;
    }
  }

  // releaseUnique — DeleteItem lock#unique#key (condition: held by id).
  async releaseUnique(key: string, id: string): Promise<void> {
    await this.#release([{ kind: 'unique', key }], id);
  }

  /** DeleteItem of each of `locks` that `id` holds, one by one (a lock another run holds is left alone). */
  async #release(locks: readonly LockRef[], id: string): Promise<void> {
    for (const lock of locks) await this.#w.releaseLock(lock.kind, lock.key, id);
  }

  /** Query of the sparse index `byState`, newest first (see {@link TaskStore.list}). */
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
