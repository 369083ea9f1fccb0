/**
 * The message format (protocol version 1). A message body is one JSON object:
 *
 * ```json
 * { "spool": 1, "id": "<task id>", "task": "<task name>", "args": <JSON>, "unique": "<unique key>" }
 * ```
 *
 * - `spool` — protocol version, the number 1.
 * - `id` — the task id: 1–128 characters of `[A-Za-z0-9_.:-]` (`./ids.ts`). Also the FIFO
 *   deduplication id, so the body must be a pure function of the id: no timestamps. A second send
 *   of the id is the same run: within the 5-minute deduplication window the queue drops it
 *   (whatever its body), after it the store's claim finds the run's record; so whichever copy is
 *   claimed first is what runs. The send time comes from the queue.
 * - `task` — the registered task name: 1–200 characters of `[A-Za-z0-9_.:/-]`.
 * - `args` — the task's arguments, validated by the task's schema when the run starts; nested at
 *   most `MAX_JSON_DEPTH` (256) deep, as the producer allows (a deeper message is dead-lettered
 *   `MalformedMessage`, with the producer's explanation).
 * - `argsRef` — instead of `args`, for arguments too large for a message: a blob reference
 *   (`./blob-ref.ts`) to their JSON text. The worker reads the blob before validating them (a blob
 *   it cannot read dead-letters the run, `MissingBlob`).
 * - `unique` — optional: the unique lock the run holds (released when it ends).
 * - `notBefore` — optional: an ISO 8601 UTC time; the run does not start before it (a delay or
 *   ETA). A worker that receives the message earlier hides it until then. Such a message's
 *   deduplication id is `<id>@<notBefore, epoch ms>` (`delayedDeduplicationId`), since its body
 *   differs from the undelayed one's.
 * - `enqueuedBy` — optional: who enqueued the run (the HTTP API sets the caller's IAM ARN),
 *   1–{@link MAX_ENQUEUED_BY_LENGTH} characters without control characters. The first claim records it on the run, and
 *   it is part of the run's binding (`argumentsHash`): a copy naming another enqueuer is refused.
 * - `schedule` — optional, on runs a schedule fired: `{ "name", "at" (the scheduled time, ISO
 *   8601), "cron" + "timezone" or "every", "overlap", "missedRuns" }` (see docs/protocol.md).
 *
 * Producers in any language can build this by hand; unknown fields are ignored.
 *
 * @module
 */

import { BLOB_REF_FORMAT, type BlobRef, isBlobRef } from './blob-ref.js';
import { exceedsJsonDepth, pathBeyondDepth, shortPath, tooDeepArgumentsReason } from './canonical.js';
import { isValidTaskId, isValidTaskName, TASK_ID_FORMAT, TASK_NAME_FORMAT } from './ids.js';
import { MAX_ENQUEUED_BY_LENGTH, MAX_JSON_DEPTH } from './limits.js';

export { isValidTaskId, isValidTaskName };

/** The protocol version this library writes and reads. */
export const PROTOCOL_VERSION = 1;

/** A decoded message body. */
export interface Envelope {
  readonly spool: typeof PROTOCOL_VERSION;
  readonly id: string;
  readonly task: string;
  /** The arguments (`undefined` when they are a blob: see {@link argsRef}). */
  readonly args: unknown;
  /** Where the arguments' JSON text is, when they were too large for the message (the claim-check). */
  readonly argsRef?: BlobRef;
  readonly unique?: string;
  /** Epoch ms before which the run must not start. */
  readonly notBefore?: number;
  /** Set on runs fired by a schedule. */
  readonly schedule?: FireInfo;
  /** Who enqueued the run (`EnqueueOptions.enqueuedBy`). */
  readonly enqueuedBy?: string;
}

/** What a run fired by a schedule carries: which schedule, which fire, and the schedule's rules. */
export interface FireInfo {
  /** The schedule's name. */
  readonly name: string;
  /** The fire's scheduled time, ISO 8601 UTC. */
  readonly at: string;
  readonly cron?: string;
  readonly timezone?: string;
  readonly every?: string;
  readonly overlap?: 'skip' | 'allow';
  readonly missedRuns?: 'latest' | 'all';
}

/** Optional envelope fields, as {@link encodeEnvelope} takes them. */
export interface EnvelopeExtras {
  readonly unique?: string | undefined;
  readonly notBefore?: number | undefined;
  readonly schedule?: FireInfo | undefined;
  readonly enqueuedBy?: string | undefined;
}

/** What {@link decodeEnvelope} gives: an envelope, or why the body is not one (with what could be read). */
export type DecodeResult =
  | { readonly ok: true; readonly envelope: Envelope }
  | { readonly ok: false; readonly reason: string; readonly id?: string; readonly task?: string };

/**
 * Encode an envelope as a message body; `args` is the arguments' canonical JSON text, or `{ ref }`
 * for arguments written as a blob (the body then carries `argsRef` instead of `args`).
 */
export function encodeEnvelope(
  id: string,
  task: string,
  args: string | { readonly ref: BlobRef },
  extras: EnvelopeExtras = {},
): string {
  const argsPart =
    typeof args === 'string'
      ? `"args":${args}`
      : `"argsRef":${JSON.stringify({ key: args.ref.key, bytes: args.ref.bytes, sha256: args.ref.sha256 })}`;
  const uniquePart = extras.unique === undefined ? '' : `,"unique":${JSON.stringify(extras.unique)}`;
  const notBeforePart =
    extras.notBefore === undefined ? '' : `,"notBefore":${JSON.stringify(new Date(extras.notBefore).toISOString())}`;
  const schedulePart = extras.schedule === undefined ? '' : `,"schedule":${JSON.stringify(extras.schedule)}`;
  const byPart = extras.enqueuedBy === undefined ? '' : `,"enqueuedBy":${JSON.stringify(extras.enqueuedBy)}`;
  return `{"spool":${PROTOCOL_VERSION},"id":${JSON.stringify(id)},"task":${JSON.stringify(task)},${argsPart}${uniquePart}${notBeforePart}${schedulePart}${byPart}}`;
}

/** Parse an ISO 8601 time with a zone (`Z` or an offset); `undefined` when it is not one. */
export function parseIsoTime(value: unknown): number | undefined {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value)) {
    return undefined;
  }
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * Decode a message body without throwing: a malformed body gives a reason a person can act on.
 * A body that nests deeper than the producer allows (`args` deeper than `MAX_JSON_DEPTH`, or any
 * field as deep) is malformed, so nothing downstream walks a value deep enough to run out of stack.
 */
export function decodeEnvelope(body: string): DecodeResult {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    const preview = body.length > 80 ? `${body.slice(0, 80)}…` : body;
    return {
      ok: false,
      reason: `message body is not JSON (${(error as Error).message}); body starts ${JSON.stringify(preview)}. A spool message is a JSON object {"spool":1,"id":…,"task":…,"args":…}: see docs/protocol.md`,
    };
  }
  const record =
    typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  const id = typeof record?.id === 'string' && isValidTaskId(record.id) ? record.id : undefined;
  const task = typeof record?.task === 'string' && isValidTaskName(record.task) ? record.task : undefined;
  const known = { ...(id === undefined ? {} : { id }), ...(task === undefined ? {} : { task }) };
  // The envelope object is one level: its `args` may nest MAX_JSON_DEPTH more, as the producer allows.
  if (exceedsJsonDepth(body, MAX_JSON_DEPTH + 1)) {
    const argsPath = record === undefined ? undefined : pathBeyondDepth(record.args);
    const bodyPath = pathBeyondDepth(value, MAX_JSON_DEPTH + 1) ?? '$';
    return {
      ok: false,
      reason:
        argsPath === undefined
          ? `message body is nested too deep: ${shortPath(bodyPath)} is more than ${MAX_JSON_DEPTH} levels below the envelope (spool's limit, MAX_JSON_DEPTH); see docs/protocol.md`
          : tooDeepArgumentsReason(argsPath),
      ...known,
    };
  }
  if (record === undefined) {
    return {
      ok: false,
      reason: `message body is JSON but not an object (got ${describe(value)}); see docs/protocol.md`,
    };
  }
  if (record.spool !== PROTOCOL_VERSION) {
    return {
      ok: false,
      reason: `unsupported protocol version: "spool" is ${describe(record.spool)}, this worker reads version ${PROTOCOL_VERSION}`,
      ...known,
    };
  }
  if (id === undefined) {
    return {
      ok: false,
      reason: `"id" is ${describe(record.id)}; expected ${TASK_ID_FORMAT}`,
      ...known,
    };
  }
  if (task === undefined) {
    return {
      ok: false,
      reason: `"task" is ${describe(record.task)}; expected a task name: ${TASK_NAME_FORMAT}`,
      ...known,
    };
  }
  const argsRef = record.argsRef;
  if (argsRef !== undefined && !isBlobRef(argsRef)) {
    return { ok: false, reason: `"argsRef" is ${describe(argsRef)}; expected ${BLOB_REF_FORMAT}`, ...known };
  }
  if (argsRef !== undefined && 'args' in record) {
    return { ok: false, reason: 'both "args" and "argsRef" are given; send one of them', ...known };
  }
  if (!('args' in record) && argsRef === undefined) {
    return { ok: false, reason: '"args" is missing; send the task arguments (null if it takes none)', ...known };
  }
  const unique = record.unique;
  if (unique !== undefined && typeof unique !== 'string') {
    return { ok: false, reason: `"unique" is ${describe(unique)}; expected a string or absent`, ...known };
  }
  const notBefore = record.notBefore === undefined ? undefined : parseIsoTime(record.notBefore);
  if (record.notBefore !== undefined && notBefore === undefined) {
    return {
      ok: false,
      reason: `"notBefore" is ${describe(record.notBefore)}; expected an ISO 8601 time with a zone, such as "2026-11-22T09:30:00Z"`,
      ...known,
    };
  }
  const schedule = record.schedule === undefined ? undefined : decodeFireInfo(record.schedule);
  if (typeof schedule === 'string') return { ok: false, reason: schedule, ...known };
  const enqueuedBy = record.enqueuedBy;
  if (enqueuedBy !== undefined && !isValidEnqueuer(enqueuedBy)) {
    return { ok: false, reason: `"enqueuedBy" is ${describe(enqueuedBy)}; expected ${ENQUEUED_BY_FORMAT}`, ...known };
  }
  return {
    ok: true,
    envelope: {
      spool: PROTOCOL_VERSION,
      id,
      task,
      args: record.args,
      ...(argsRef === undefined ? {} : { argsRef }),
      ...(unique === undefined ? {} : { unique }),
      ...(notBefore === undefined ? {} : { notBefore }),
      ...(schedule === undefined ? {} : { schedule }),
      ...(enqueuedBy === undefined ? {} : { enqueuedBy }),
    },
  };
}

/** What `enqueuedBy` may be, for messages. */
export const ENQUEUED_BY_FORMAT = `a string of 1–${MAX_ENQUEUED_BY_LENGTH} characters without control characters (an IAM ARN, for example)`;

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses.
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;

/** Whether `value` is a valid `enqueuedBy` ({@link ENQUEUED_BY_FORMAT}). */
export function isValidEnqueuer(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.length >= 1 &&
    value.length <= MAX_ENQUEUED_BY_LENGTH &&
    !CONTROL_CHARACTER.test(value)
  );
}

/** Read a `schedule` field: the fire info, or why it is not one. */
function decodeFireInfo(value: unknown): FireInfo | string {
  const v = value as Record<string, unknown>;
  const problem =
    typeof value !== 'object' || value === null || Array.isArray(value)
      ? 'is not an object'
      : typeof v.name !== 'string'
        ? '"name" is not a string'
        : parseIsoTime(v.at) === undefined
          ? '"at" is not an ISO 8601 time'
          : v.overlap !== undefined && v.overlap !== 'skip' && v.overlap !== 'allow'
            ? '"overlap" is neither "skip" nor "allow"'
            : v.missedRuns !== undefined && v.missedRuns !== 'latest' && v.missedRuns !== 'all'
              ? '"missedRuns" is neither "latest" nor "all"'
              : undefined;
  if (problem !== undefined) return `"schedule" ${problem} (got ${describe(value)}); see docs/protocol.md`;
  return value as FireInfo;
}

/** A field's value for a reason: its JSON, cut at 60 characters. */
function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}
