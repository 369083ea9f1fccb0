/**
 * The worker's side of the claim-check (`lib/backend/blobs.ts`): read a message's argument blob
 * before the run starts, write a result too large for the record and an error message too long
 * for it as blobs, and keep a dead-letter copy that would not fit the dead-letter queue as a blob.
 * The processor (`./processor.ts`) calls these; each decides from sizes alone, so both backends
 * end a run alike.
 *
 * @module
 */

import {
  type BlobRef,
  type BlobStore,
  deadLetterBlobExpiry,
  putBlob,
  readBlob,
  recordBlobExpiry,
} from '../backend/blobs.js';
import type { TaskRecord } from '../backend/store.js';
import { recordBytes, recordFits } from '../backend/store-rules.js';
import { MAX_MESSAGE_BYTES, messageBytes, type OutgoingMessage } from '../backend/transport.js';
import { encodeBodyRef } from '../protocol/blob-ref.js';
import { exceedsJsonDepth, pathBeyondDepth, tooDeepArgumentsReason } from '../protocol/canonical.js';
import type { Envelope } from '../protocol/envelope.js';
import { MAX_ERROR_MESSAGE_BYTES, MAX_JSON_DEPTH, MAX_RECORD_BYTES, MAX_RESULT_BYTES } from '../protocol/limits.js';
import { reasonError } from '../protocol/reasons.js';
import type { ErrorInfo } from '../task/errors.js';

/** Whose blobs these are: the task queue's name and the clock. */
export interface BlobContext {
  readonly blobs: BlobStore | undefined;
  /** The task queue's name (a segment of each key). */
  readonly queue: string;
  readonly now: number;
}

/** What {@link resolveArguments} gives: the envelope with its `args`, or why the run cannot have them. */
export type ResolvedArguments =
  | { readonly ok: true; readonly envelope: Envelope }
  | { readonly ok: false; readonly error: ErrorInfo };

/**
 * The envelope with its arguments read from their blob when it carries `argsRef` (as it is
 * otherwise). A blob that is missing, does not match its reference, or is not JSON gives
 * `MissingBlob`; arguments nested deeper than the producer allows, `MalformedMessage`.
 */
export async function resolveArguments(context: BlobContext, envelope: Envelope): Promise<ResolvedArguments> {
  const ref = envelope.argsRef;
  if (ref === undefined) return { ok: true, envelope };
  const read = await readBlob(context.blobs, ref, context.now);
  if (!read.ok) return { ok: false, error: reasonError('MissingBlob', `the arguments cannot be read: ${read.reason}`) };
  if (exceedsJsonDepth(read.body, MAX_JSON_DEPTH)) {
    let path: string | undefined;
    try {
      path = pathBeyondDepth(JSON.parse(read.body));
    } catch {
      path = undefined;
    }
    return { ok: false, error: reasonError('MalformedMessage', tooDeepArgumentsReason(path ?? '$')) };
  }
  let args: unknown;
  try {
    args = JSON.parse(read.body);
  } catch (error) {
    const reason = `the arguments' blob ${ref.key} is not JSON (${(error as Error).message}); enqueue the run again`;
    return { ok: false, error: reasonError('MissingBlob', reason) };
  }
  const { argsRef: _ref, ...rest } = envelope;
  return { ok: true, envelope: { ...rest, args } };
}

/** Where a result goes: into the record, or as a blob the record points to; or why it cannot be stored. */
export type PlacedResult =
  | { readonly ok: true; readonly fields: { readonly result: string } | { readonly resultRef: BlobRef } }
  | { readonly ok: false; readonly error: ErrorInfo };

/**
 * Place a result (its JSON text): in the record when the record the finish would write (the result,
 * the run's progress and its other fields, as `recordBytes` counts them) fits `MAX_RECORD_BYTES`;
 * else as a blob kept as long as the record (`recordExpiresAt`), when the backend has a blob store
 * and the result is at most `MAX_RESULT_BYTES`. Otherwise `ResultTooLarge`, with the sizes and the
 * limit. The blob is written before the finish: a finish that loses its lease leaves a blob no
 * record points to, which expires.
 */
export async function placeResult(
  context: BlobContext,
  record: TaskRecord,
  json: string,
  progress: string | undefined,
  recordExpiresAt: number,
): Promise<PlacedResult> {
  const size = Buffer.byteLength(json, 'utf8');
  if (size > MAX_RESULT_BYTES) {
    return {
      ok: false,
      error: reasonError(
        'ResultTooLarge',
        `the result is ${size} bytes as JSON; at most ${MAX_RESULT_BYTES} are stored (MAX_RESULT_BYTES). Store it elsewhere (S3) and return its key, or set ignoreResult.`,
      ),
    };
  }
  const inline = finishedRecord(record, { result: json }, progress, context.now);
  if (recordFits(inline, MAX_RECORD_BYTES)) return { ok: true, fields: { result: json } };
  const kept = progress ?? record.progress;
  const progressBytes = kept === undefined ? 0 : Buffer.byteLength(kept, 'utf8');
  if (context.blobs === undefined) {
    return {
      ok: false,
      error: reasonError(
        'ResultTooLarge',
        `the result is ${size} bytes as JSON, and with the run's progress (${progressBytes} bytes) and its other fields the record would be ${recordBytes(inline)} bytes; ` +
          `the store keeps records up to ${MAX_RECORD_BYTES} bytes (MAX_RECORD_BYTES, from DynamoDB's 400 KB item), and this backend has no blob store for larger results ` +
          '(on AWS, set SPOOL_BUCKET or the bucketName option). Configure the bucket, return a smaller result (store it elsewhere and return its key), or set ignoreResult.',
      ),
    };
  }
  const subject = {
    kind: 'result' as const,
    queue: context.queue,
    id: record.id,
    now: context.now,
    expiresAt: recordBlobExpiry(recordExpiresAt),
  };
  const ref = await putBlob(context.blobs, subject, json);
  const withRef = finishedRecord(record, { resultRef: ref }, progress, context.now);
  if (recordFits(withRef, MAX_RECORD_BYTES)) return { ok: true, fields: { resultRef: ref } };
  return {
    ok: false,
    error: reasonError(
      'ResultTooLarge',
      `the result is a blob (${size} bytes), yet with the run's progress (${progressBytes} bytes) and its other fields the record would be ${recordBytes(withRef)} bytes; ` +
        `the store keeps records up to ${MAX_RECORD_BYTES} bytes (MAX_RECORD_BYTES). Report smaller progress.`,
    ),
  };
}

/** The record a `succeeded` finish would leave (what the finish removes is not counted). */
function finishedRecord(
  record: TaskRecord,
  fields: { readonly result: string } | { readonly resultRef: BlobRef },
  progress: string | undefined,
  now: number,
): TaskRecord {
  const kept = progress ?? record.progress;
  const {
    leaseOwner: _owner,
    leaseExpiresAt: _lease,
    error: _error,
    nextRunAt: _next,
    result: _result,
    resultRef: _resultRef,
    progress: _progress,
    ...rest
  } = record;
  return {
    ...rest,
    state: 'succeeded',
    ...fields,
    ...(kept === undefined ? {} : { progress: kept }),
    updatedAt: now,
    finishedAt: now,
  };
}

/**
 * `info` (an error as a record stores it, its message cut to `MAX_ERROR_MESSAGE_BYTES`) with the
 * whole message kept as a blob (`messageRef`), when the message thrown (`thrown`) was longer and the
 * backend has a blob store; as it is otherwise. A message over `MAX_RESULT_BYTES` is not kept whole,
 * nor one whose blob could not be written (the run's outcome is recorded all the same).
 */
export async function keepWholeMessage(
  context: BlobContext,
  id: string,
  info: ErrorInfo,
  thrown: unknown,
  recordExpiresAt: number,
): Promise<ErrorInfo> {
  const whole = thrownMessage(thrown);
  if (context.blobs === undefined || whole === undefined || whole === info.message) return info;
  // A UTF-16 code unit is at most 3 bytes of UTF-8, so most messages need no measuring.
  if (whole.length * 3 <= MAX_ERROR_MESSAGE_BYTES) return info;
  const bytes = Buffer.byteLength(whole, 'utf8');
  if (bytes <= MAX_ERROR_MESSAGE_BYTES || bytes > MAX_RESULT_BYTES) return info;
  const subject = {
    kind: 'error' as const,
    queue: context.queue,
    id,
    now: context.now,
    expiresAt: recordBlobExpiry(recordExpiresAt),
  };
  try {
    return { ...info, messageRef: await putBlob(context.blobs, subject, whole) };
  } catch {
    // The run's outcome matters more than the message's tail: it is recorded with the cut message.
    return info;
  }
}

/** The message `toErrorInfo` reads from a thrown value, whole; `undefined` when it is not a string. */
function thrownMessage(thrown: unknown): string | undefined {
  try {
    if (thrown instanceof Error) return typeof thrown.message === 'string' ? thrown.message : undefined;
    return typeof thrown === 'string' ? thrown : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The body of a dead-letter copy: the original `body` when the copy (with its `attributes`, which
 * SQS counts toward its 1 MiB) fits the queue; else a reference to the body kept as a blob for the
 * dead-letter queue's retention (`{"spool":1,"bodyRef":…}`, which `spool dlq redrive` resolves);
 * without a blob store, a JSON preview of the first 1000 characters (`truncated: true`).
 */
export async function deadLetterBody(
  context: BlobContext,
  id: string,
  body: string,
  attributes: NonNullable<OutgoingMessage['attributes']>,
): Promise<string> {
  if (messageBytes({ body, attributes }) <= MAX_MESSAGE_BYTES) return body;
  if (context.blobs === undefined) return JSON.stringify({ truncated: true, preview: body.slice(0, 1000) });
  const subject = {
    kind: 'dead-letter' as const,
    queue: context.queue,
    id,
    now: context.now,
    expiresAt: deadLetterBlobExpiry(context.now),
  };
  return encodeBodyRef(await putBlob(context.blobs, subject, body));
}
