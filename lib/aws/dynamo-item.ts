/**
 * The DynamoDB table layout of the task store, and the conversions between items and records.
 *
 * One table, partition key `pk` (string), no sort key, on-demand capacity:
 * - `task#<id>` — a task record: the {@link TaskRecord} fields as attributes, plus `ttl` (epoch
 *   *seconds*, DynamoDB's TTL attribute) and, only while the state is retrying, failed, dead or
 *   cancelled, `gsiState` (the key of the sparse index `byState`, sorted by `updatedAt`). The happy
 *   path (running → succeeded) never writes the index, so it costs no index writes.
 * - `lock#unique#<key>` and `lock#singleton#<key>` — locks: `holder` (a task id), `expiresAt`, `ttl`.
 *
 * DynamoDB deletes expired items within days, not at once, so every read and condition treats
 * `expiresAt ≤ now` as absent.
 *
 * @module
 */

import type { NativeAttributeValue } from '@aws-sdk/util-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { ListableState, TaskRecord } from '../backend/store.js';
import type { Lock } from '../backend/store-rules.js';
import type { TaskState } from '../task/states.js';

export { lockKey, STATE_INDEX, taskKey } from './keys.js';

const LISTABLE: ReadonlySet<TaskState> = new Set<ListableState>(['retrying', 'failed', 'dead', 'cancelled']);

/** Whether records in `state` carry the `gsiState` index key. */
export function isIndexed(state: TaskState): boolean {
  return LISTABLE.has(state);
}

/** DynamoDB TTL value (epoch seconds) for an expiry in epoch ms. */
export function ttlSeconds(expiresAtMs: number): number {
  return Math.ceil(expiresAtMs / 1000);
}

type Item = Record<string, NativeAttributeValue>;

const RECORD_FIELDS = [
  'leaseOwner',
  'leaseExpiresAt',
  'nextRunAt',
  'result',
  'resultRef',
  'error',
  'progress',
  'cancelRequested',
  'singletonKey',
  'uniqueKey',
  'startedAt',
  'finishedAt',
  'argsHash',
  'enqueuedBy',
] as const;

export { STATE_PROJECTION_ATTRIBUTES } from './keys.js';

/** A task item as a record (`undefined` for none or an expired one). */
export function toRecord(item: Item | undefined, now: number): TaskRecord | undefined {
  if (item === undefined || typeof item.id !== 'string') return undefined;
  const expiresAt = Number(item.expiresAt);
  if (!(expiresAt > now)) return undefined;
  const record: Record<string, unknown> = {
    id: item.id,
    ...(typeof item.task === 'string' ? { task: item.task } : {}),
    state: item.state,
    attempt: Number(item.attempt ?? 0),
    createdAt: Number(item.createdAt),
    updatedAt: Number(item.updatedAt),
    expiresAt,
  };
  for (const field of RECORD_FIELDS) {
    const value = item[field];
    if (value !== undefined && value !== null) record[field] = typeof value === 'bigint' ? Number(value) : value;
  }
  return record as unknown as TaskRecord;
}

/** A lock item as a lock (`undefined` for none). An expired one is returned as it is: the rules compare its expiry. */
export function toLock(item: Item | undefined): Lock | undefined {
  if (item === undefined || typeof item.holder !== 'string') return undefined;
  return { holder: item.holder, expiresAt: Number(item.expiresAt) };
}

/** Whether an item exists but has expired (so it must be treated as absent and replaced). */
export function isExpired(item: Item | undefined, now: number): boolean {
  return item !== undefined && !(Number(item.expiresAt) > now);
}

/**
 * The item a failed condition returned (`ReturnValuesOnConditionCheckFailure: ALL_OLD`), plain.
 * The document client does not unmarshall items carried by errors, so this does.
 */
export function itemOfConditionFailure(error: unknown): Item | undefined {
  const item = (error as { Item?: Record<string, unknown> } | undefined)?.Item;
  if (item === undefined) return undefined;
  return looksMarshalled(item) ? unmarshall(item as Parameters<typeof unmarshall>[0]) : (item as Item);
}

/** Whether an error is DynamoDB's ConditionalCheckFailedException. */
export function isConditionFailure(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

function looksMarshalled(item: Record<string, unknown>): boolean {
  const pk = item.pk;
  return typeof pk === 'object' && pk !== null && 'S' in pk;
}

/**
 * Builds an `UpdateExpression` with generated attribute names and values, so no reserved word
 * (`state`, `ttl`, …) ever appears bare.
 */
export class UpdateBuilder {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, NativeAttributeValue> = {};
  readonly #set: string[] = [];
  readonly #remove: string[] = [];
  #n = 0;

  /** `#field` for an attribute name. */
  name(field: string): string {
    const alias = `#${field}`;
    this.names[alias] = field;
    return alias;
  }

  /** `:vN` for a value. */
  value(value: NativeAttributeValue): string {
    const alias = `:v${this.#n++}`;
    this.values[alias] = value;
    return alias;
  }

  /** `SET field = value`. */
  set(field: string, value: NativeAttributeValue): this {
    this.#set.push(`${this.name(field)} = ${this.value(value)}`);
    return this;
  }

  /** `SET field = <raw expression>` (use {@link name}/{@link value} inside). */
  setRaw(field: string, expression: string): this {
    this.#set.push(`${this.name(field)} = ${expression}`);
    return this;
  }

  /** `SET field = value` when defined, else `REMOVE field`. */
  setOrRemove(field: string, value: NativeAttributeValue | undefined): this {
    return value === undefined ? this.remove(field) : this.set(field, value);
  }

  /** `REMOVE field`. */
  remove(field: string): this {
    this.#remove.push(this.name(field));
    return this;
  }

  /** The `UpdateExpression`. */
  expression(): string {
    const parts: string[] = [];
    if (this.#set.length > 0) parts.push(`SET ${this.#set.join(', ')}`);
    if (this.#remove.length > 0) parts.push(`REMOVE ${this.#remove.join(', ')}`);
    return parts.join(' ');
  }
}
