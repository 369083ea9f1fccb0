/**
 * Rows of table `tasks`: one column per {@link TaskRecord} field, read and written positionally
 * (arrays in `TASK_COLUMNS` order, no per-call objects).
 *
 * @module
 */

import type { BlobRef } from '../backend/blobs.js';
import type { TaskRecord } from '../backend/store.js';
import type { ErrorInfo } from '../task/errors.js';
import type { TaskState } from '../task/states.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** A fresh `queued` record. */
export function newRecord(id: string, task: string | undefined, now: number, expiresAt: number): TaskRecord {
  return {
    id,
    ...(task === undefined ? {} : { task }),
    state: 'queued',
    attempt: 0,
    createdAt: now,
    updatedAt: now,
    expiresAt,
  };
}

/** The `task` column of a record whose task is unknown (the column is NOT NULL; no task name is empty). */
const NO_TASK = '';

/**
 * A row of table `tasks` as a raw array, in {@link TASK_COLUMNS} order: one column per
 * {@link TaskRecord} field, `null` for an absent one.
 */
export type TaskRow = [id: string, ...TaskRowFields];

/** The columns of {@link TaskRow} after `id`. */
export type TaskRowFields = [
  task: string,
  state: string,
  attempt: number,
  lease_owner: string | null,
  lease_expires_at: number | null,
  next_run_at: number | null,
  result: string | null,
  /** {@link ErrorInfo} as JSON. */
  error: string | null,
  progress: string | null,
  /** 1 when set. */
  cancel_requested: number | null,
  singleton_key: string | null,
  unique_key: string | null,
  created_at: number,
  updated_at: number,
  started_at: number | null,
  finished_at: number | null,
  expires_at: number,
  /** {@link TaskRecord.resultRef} as JSON. */
  result_ref: string | null,
  args_hash: string | null,
  enqueued_by: string | null,
];

export function toRow(record: TaskRecord): TaskRow {
  return [
    record.id,
    record.task ?? NO_TASK,
    record.state,
    record.attempt,
    record.leaseOwner ?? null,
    record.leaseExpiresAt ?? null,
    record.nextRunAt ?? null,
    record.result ?? null,
    errorColumn(record.error),
    record.progress ?? null,
    record.cancelRequested === true ? 1 : null,
    record.singletonKey ?? null,
    record.uniqueKey ?? null,
    record.createdAt,
    record.updatedAt,
    record.startedAt ?? null,
    record.finishedAt ?? null,
    record.expiresAt,
    record.resultRef === undefined ? null : JSON.stringify(record.resultRef),
    record.argsHash ?? null,
    record.enqueuedBy ?? null,
  ];
}

/** The `error` column of an error: its JSON (`name`, `message`, and `messageRef` when it has one). */
export function errorColumn(error: ErrorInfo | undefined): string | null {
  if (error === undefined) return null;
  const { name, message, messageRef } = error;
  return JSON.stringify(messageRef === undefined ? { name, message } : { name, message, messageRef });
}

/** The record of a row, with absent optional fields omitted (never `undefined`). */
export function fromRow(row: TaskRow): TaskRecord {
  const [
    id,
    task,
    state,
    attempt,
    leaseOwner,
    leaseExpiresAt,
    nextRunAt,
    result,
    error,
    progress,
    cancelRequested,
    singletonKey,
    uniqueKey,
    createdAt,
    updatedAt,
    startedAt,
    finishedAt,
    expiresAt,
    resultRef,
    argsHash,
    enqueuedBy,
  ] = row;
  const record: Mutable<TaskRecord> = {
    id,
    ...(task === NO_TASK ? {} : { task }),
    state: state as TaskState,
    attempt,
    createdAt,
    updatedAt,
    expiresAt,
  };
  if (leaseOwner !== null) record.leaseOwner = leaseOwner;
  if (leaseExpiresAt !== null) record.leaseExpiresAt = leaseExpiresAt;
  if (nextRunAt !== null) record.nextRunAt = nextRunAt;
  if (result !== null) record.result = result;
  if (resultRef !== null) record.resultRef = JSON.parse(resultRef) as BlobRef;
  if (error !== null) record.error = JSON.parse(error) as ErrorInfo;
  if (progress !== null) record.progress = progress;
  if (cancelRequested !== null) record.cancelRequested = true;
  if (singletonKey !== null) record.singletonKey = singletonKey;
  if (uniqueKey !== null) record.uniqueKey = uniqueKey;
  if (startedAt !== null) record.startedAt = startedAt;
  if (finishedAt !== null) record.finishedAt = finishedAt;
  if (argsHash !== null) record.argsHash = argsHash;
  if (enqueuedBy !== null) record.enqueuedBy = enqueuedBy;
  return record;
}
