/**
 * spool's limits and defaults, each written once. Every constant says its unit (in its name:
 * `…_MS`, `…_SECONDS`, `…_BYTES`) and where it comes from:
 *
 * - **a limit of an AWS service** spool runs on (SQS, DynamoDB, EventBridge Scheduler). The
 *   embedded runtime enforces the same ones, so what works locally works on AWS;
 * - **spool's own** bound or default, derived from a service limit where it has to fit one.
 *
 * Imports nothing, so every layer (protocol, core, adapters, the CDK construct) may use it.
 *
 * @module
 */

const SECOND_MS = 1000;
const MINUTE_SECONDS = 60;
const HOUR_SECONDS = 3600;
const DAY_SECONDS = 86_400;

// SQS (FIFO queues)

/** Largest message body in bytes (UTF-8): SQS's limit, 1 MiB. The embedded queue enforces the same. */
export const MAX_MESSAGE_BYTES = 1_048_576;
/** Most messages one receive or one send batch may carry (SQS's limit). */
export const MAX_BATCH = 10;
/** Longest visibility timeout SQS accepts, in seconds (12 hours). */
export const MAX_VISIBILITY_SECONDS = 12 * HOUR_SECONDS;
/** Longest long-poll wait SQS accepts, in seconds. */
export const MAX_WAIT_SECONDS = 20;
/** The FIFO deduplication window, in milliseconds (SQS's: 5 minutes). */
export const DEDUPLICATION_WINDOW_MS = 5 * MINUTE_SECONDS * SECOND_MS;
/** Longest FIFO message group id and deduplication id, in characters (SQS's limit). */
export const MAX_FIFO_ID_LENGTH = 128;
/** Largest `maxReceiveCount` of an SQS redrive policy (SQS allows 1 to this). */
export const MAX_REDRIVE_RECEIVE_COUNT = 1000;
/** Longest SQS queue name, in characters (SQS's limit; a FIFO queue's includes its `.fifo`). */
export const MAX_QUEUE_NAME_LENGTH = 80;
/** Longest message retention SQS allows, in seconds (14 days); the dead-letter queue keeps its messages this long. */
export const MAX_RETENTION_SECONDS = 14 * DAY_SECONDS;

// DynamoDB

/**
 * Largest DynamoDB item, in bytes: 400 KB, counting each attribute's name and value (UTF-8). A
 * run's record is one item; {@link MAX_RECORD_BYTES} is what spool lets a record grow to.
 */
export const MAX_ITEM_BYTES = 400 * 1024;

// EventBridge Scheduler

/** Longest schedule name and schedule group name, in characters (EventBridge Scheduler's limit). */
export const MAX_SCHEDULER_NAME_LENGTH = 64;

// spool's own bounds

/** Longest `enqueuedBy` (who enqueued a run), in characters: an IAM ARN's limit. */
export const MAX_ENQUEUED_BY_LENGTH = 2048;

/** Longest task id, in characters: the task id is the message's FIFO deduplication id. */
export const MAX_TASK_ID_LENGTH = MAX_FIFO_ID_LENGTH;
/** Longest task name, in characters (spool's own bound). */
export const MAX_TASK_NAME_LENGTH = 200;
/** Longest schedule name, in characters: a schedule's name is its EventBridge Scheduler schedule's name. */
export const MAX_SCHEDULE_NAME_LENGTH = MAX_SCHEDULER_NAME_LENGTH;
/**
 * Longest delay before a retry, in milliseconds (12 hours): a retry waits out its delay in its
 * message's visibility timeout, so at most SQS's longest ({@link MAX_VISIBILITY_SECONDS}).
 */
export const MAX_RETRY_DELAY_MS = MAX_VISIBILITY_SECONDS * SECOND_MS;
/**
 * Longest delay of an enqueue (`delaySeconds`, `runAt`), in milliseconds (365 days; spool's own
 * bound). Delays over {@link MAX_QUEUED_DELAY_MS} wait in a one-time schedule.
 */
export const MAX_ENQUEUE_DELAY_MS = 365 * DAY_SECONDS * SECOND_MS;
/**
 * Longest delay a message waits out in the task queue itself, in milliseconds (15 minutes; spool's
 * own threshold): a worker that receives it early hides it again. Longer delays use a timer.
 */
export const MAX_QUEUED_DELAY_MS = 15 * MINUTE_SECONDS * SECOND_MS;
/** Most attempts a retry policy may allow (`retry.maxAttempts`; spool's own bound). */
export const MAX_ATTEMPTS = 1000;
/** Most attempts one long-running worker runs at once (`concurrency`; spool's own bound). */
export const MAX_CONCURRENCY = 10_000;

/**
 * Bytes of an item kept for the store's own attributes (the key `pk`, `ttl`, the index key
 * `gsiState`: under 200 bytes), which a record does not count (spool's own margin).
 */
export const RECORD_RESERVED_BYTES = 1024;
/**
 * Largest run record, in bytes, as `recordBytes` (`lib/backend/store-rules.ts`) counts it: DynamoDB's
 * item limit less {@link RECORD_RESERVED_BYTES}. Checked before each write that adds a result or
 * progress, against the record the write will leave: a result that would make the record larger
 * is stored as a blob (the record carries its reference); progress is not (it stays at most
 * {@link MAX_PROGRESS_BYTES}, and a value that would not fit the record is refused). Both backends
 * decide alike.
 */
export const MAX_RECORD_BYTES = MAX_ITEM_BYTES - RECORD_RESERVED_BYTES;
/**
 * Default largest task arguments, in bytes of their JSON text (UTF-8; 32 MiB, spool's own bound):
 * the `maxArgumentBytes` option of `createProducer` and `createSpool`. Arguments whose message
 * would be over {@link MAX_MESSAGE_BYTES} travel as a blob (the claim-check, `lib/backend/blobs.ts`).
 */
export const DEFAULT_MAX_ARGUMENT_BYTES = 32 * 1024 * 1024;
/**
 * Largest result stored, in bytes of its JSON text (UTF-8): {@link DEFAULT_MAX_ARGUMENT_BYTES}. A
 * result that does not fit the record ({@link MAX_RECORD_BYTES}) is stored as a blob and the record
 * carries its reference; without a blob store (an AWS backend without a bucket) it must fit the
 * record. A larger one fails the run with `ResultTooLarge`. Error messages longer than
 * {@link MAX_ERROR_MESSAGE_BYTES} are kept whole as a blob up to this size too.
 */
export const MAX_RESULT_BYTES = DEFAULT_MAX_ARGUMENT_BYTES;
/**
 * Margin added to a blob's expiry past the latest expiry of what points to it, in milliseconds
 * (1 day, spool's own): S3 lifecycle rules count whole days from midnight UTC, and clocks drift.
 */
export const BLOB_EXPIRY_MARGIN_MS = DAY_SECONDS * SECOND_MS;
/**
 * Largest `ctx.progress()` value, in bytes of its JSON text (UTF-8; 64 KiB, spool's own bound):
 * progress is a status for people and dashboards, not a result. With error messages
 * ({@link MAX_ERROR_MESSAGE_BYTES}) it leaves the rest of the record for the result.
 */
export const MAX_PROGRESS_BYTES = 64 * 1024;
/**
 * Longest error message stored on a run, in bytes (UTF-8; 8 KiB, spool's own bound): a longer one
 * is cut, and the cut says how long it was. So a failing run always fits its record.
 */
export const MAX_ERROR_MESSAGE_BYTES = 8 * 1024;
/** Longest error name stored on a run, in characters (spool's own bound); a longer one is cut. */
export const MAX_ERROR_NAME_LENGTH = 200;
/**
 * Deepest nesting of task arguments (arrays and objects within each other; `[[1]]` is 2 deep):
 * 256, spool's own bound, as JSON parsers keep one (serde_json's is 128, Ruby's 100). The
 * producer refuses deeper arguments with `EnqueueError` (`ARGUMENTS_NOT_JSON`) and the worker
 * dead-letters such a message (`MalformedMessage`), with the same explanation, so no walk over
 * arguments can run out of stack. Results and progress values deeper than this are refused too.
 */
export const MAX_JSON_DEPTH = 256;

// spool's own defaults

/**
 * Default lease of a run, in seconds (30): a task's `leaseSeconds`. The default visibility
 * timeouts derive from it ({@link DEFAULT_VISIBILITY_TIMEOUT_SECONDS}).
 */
export const DEFAULT_LEASE_SECONDS = 30;
/**
 * Default visibility timeout, in seconds: the long-running worker's `visibilityTimeoutSeconds` and
 * a provisioned task queue's. The lease's default, because a crashed worker's run is taken over
 * after the longer of the two: equal, neither waits for the other.
 */
export const DEFAULT_VISIBILITY_TIMEOUT_SECONDS = DEFAULT_LEASE_SECONDS;
/**
 * Default retention of a record, in seconds (7 days): how long a finished run's record is kept
 * (a task's `resultTtlSeconds`), and the retention of records whose task is not known.
 */
export const DEFAULT_RETENTION_SECONDS = 7 * DAY_SECONDS;
/** {@link DEFAULT_RETENTION_SECONDS} in milliseconds, as records' `expiresAt` counts. */
export const DEFAULT_RETENTION_MS = DEFAULT_RETENTION_SECONDS * SECOND_MS;
/**
 * Default `maxReceiveCount` of the task queue's redrive policy (100; AWS and embedded): a safety
 * net for messages that keep crashing the worker. spool dead-letters exhausted runs itself, so it
 * is high.
 */
export const DEFAULT_MAX_RECEIVE_COUNT = 100;
