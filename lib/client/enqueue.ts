/**
 * Enqueue: validate, derive the task id, take a unique lock when asked, send.
 *
 * @module
 */

import { argumentsBlobExpiry, type BlobStore, type PendingBlob, prepareBlob } from '../backend/blobs.js';
import { MAX_TIMER_MESSAGE_CHARS, type OneTimeTimer, type SchedulerPort } from '../backend/scheduler.js';
import type { TaskStore } from '../backend/store.js';
import { MAX_MESSAGE_BYTES, type OutgoingMessage, type Queue } from '../backend/transport.js';
import { canonicalJson, deriveTaskId, randomTaskId } from '../protocol/canonical.js';
import { ENQUEUED_BY_FORMAT, encodeEnvelope, isValidEnqueuer } from '../protocol/envelope.js';
import { delayedDeduplicationId, FIFO_ID_FORMAT, FIFO_ID_PATTERN, lockKey, timerName } from '../protocol/ids.js';
import { DEFAULT_MAX_ARGUMENT_BYTES, MAX_ENQUEUE_DELAY_MS, MAX_QUEUED_DELAY_MS } from '../protocol/limits.js';
import type { AnyTaskContract } from '../task/contract.js';
import { ConfigurationError, EnqueueError } from '../task/errors.js';
import type { Middleware } from '../task/middleware.js';
import { validateArgs } from '../task/schema.js';
import { isTerminal } from '../task/states.js';

// Defined in lib/protocol (limits.ts, ids.ts), re-exported for the modules that import them from here.
export { MAX_QUEUED_DELAY_MS, timerName };

/** Options of one enqueue. */
export interface EnqueueOptions {
  /**
   * What makes two enqueues the same run, overriding the task's `idempotencyKey`. Two enqueues
   * with the same key are one run. With different arguments, the copy the first claim runs binds
   * the run (`TaskRecord.argsHash`): a copy with other arguments is refused by the worker (never
   * run; it goes to the dead-letter queue as `ConflictingDuplicate`), and within the queue's
   * 5-minute deduplication window a copy in the same ordering group is dropped by the queue.
   * @default the task's `idempotencyKey`, else the canonical JSON of the arguments
   */
  readonly idempotencyKey?: string;
  /**
   * Runs with the same ordering key start in enqueue order, one at a time (the FIFO message
   * group). Without one, every run is its own group and runs in parallel.
   * @default the task id
   */
  readonly orderingKey?: string;
  /**
   * Start the run this many seconds from now (0 to 31,536,000: one year; fractions allowed).
   * Up to 15 minutes the message waits in the queue (hidden by its visibility timeout); longer
   * delays are one-time schedules (EventBridge Scheduler on AWS). Give this or `runAt`. With an
   * `orderingKey`, the runs after a delayed one in that group wait for it (FIFO order holds).
   */
  readonly delaySeconds?: number;
  /**
   * Start the run at this time (a `Date` or epoch ms), at most one year ahead. A time in the past
   * runs at once. Give this or `delaySeconds`.
   */
  readonly runAt?: Date | number;
  /**
   * Who enqueues the run, recorded on it by its first claim (`TaskRecord.enqueuedBy`) and part of
   * its binding: a copy of the run naming another enqueuer is refused as a conflicting duplicate.
   * The HTTP API sets the caller's IAM ARN, and shows a run's result only to it.
   * 1–2048 characters without control characters.
   */
  readonly enqueuedBy?: string;
}

/** A run ready to send: its id, message and (for unique tasks) lock key. */
export interface PreparedRun {
  readonly id: string;
  readonly message: OutgoingMessage;
  readonly uniqueKey: string | undefined;
  readonly args: unknown;
  /** For a delay longer than {@link MAX_QUEUED_DELAY_MS}: the one-time timer that sends `message`. */
  readonly timer?: OneTimeTimer;
  /** Arguments too large for the message: the blob to write before `message` is sent (it carries the reference). */
  readonly blob?: PendingBlob;
}

/**
 * Where arguments too large for a message go (the claim-check, `lib/backend/blobs.ts`), and how
 * large they may be.
 */
export interface ClaimCheck {
  /** The backend's blob store; absent: arguments must fit the message. */
  readonly blobs: BlobStore | undefined;
  /** The task queue's name (a segment of the blob's key). */
  readonly queue: string;
  /**
   * Largest arguments, bytes of their JSON text (the producer's `maxArgumentBytes`).
   * @default DEFAULT_MAX_ARGUMENT_BYTES (32 MiB)
   */
  readonly maxArgumentBytes?: number;
}

/**
 * Validate arguments and build the message of one run (nothing is sent). Arguments whose message
 * would be over SQS's 1 MiB become a blob ({@link PreparedRun.blob}) when `claimCheck` has a blob
 * store, and are refused over its `maxArgumentBytes`.
 */
export async function prepareRun(
  task: AnyTaskContract,
  args: unknown,
  options: EnqueueOptions = {},
  now: number = Date.now(),
  claimCheck: ClaimCheck = { blobs: undefined, queue: '' },
): Promise<PreparedRun> {
  const notBefore = startTime(task, options, now);
  // Validate what the worker will see: the JSON round trip of the arguments.
  const argsJson = canonicalJson(args, task.name);
  const travelled: unknown = JSON.parse(argsJson);
  await validateArgs(task.schema, travelled, { taskName: task.name, when: 'enqueue' });
  const key =
    options.idempotencyKey ??
    (task.idempotencyKey === false ? undefined : (task.idempotencyKey?.(travelled) ?? argsJson));
  const id = key === undefined ? randomTaskId() : deriveTaskId(task.name, key);
  const uniqueKey = task.unique === undefined ? undefined : uniqueLockKey(task, id, key, travelled);
  if (task.singletonKey !== undefined) lockKeyOrThrow(task, id, 'singleton', task.singletonKey(travelled));
  const enqueuedBy = options.enqueuedBy;
  if (enqueuedBy !== undefined && !isValidEnqueuer(enqueuedBy)) {
    throw new EnqueueError(
      `Task '${task.name}': enqueuedBy ${JSON.stringify(String(enqueuedBy)).slice(0, 80)} is not allowed; use ${ENQUEUED_BY_FORMAT}. Nothing was enqueued.`,
      { code: 'INVALID_ENQUEUE_OPTION', taskName: task.name, taskId: id },
    );
  }
  const maxArgumentBytes = claimCheck.maxArgumentBytes ?? DEFAULT_MAX_ARGUMENT_BYTES;
  const argsBytes = Buffer.byteLength(argsJson, 'utf8');
  if (argsBytes > maxArgumentBytes) {
    throw new EnqueueError(
      `Task '${task.name}': the arguments are ${argsBytes} bytes as JSON; the limit is ${maxArgumentBytes} bytes ` +
        `(the maxArgumentBytes option of createProducer and createSpool, default ${DEFAULT_MAX_ARGUMENT_BYTES}). ` +
        'Nothing was enqueued. Pass smaller arguments (store large data elsewhere and pass its key), or raise maxArgumentBytes.',
      { code: 'PAYLOAD_TOO_LARGE', taskName: task.name, taskId: id },
    );
  }
  const extras = { unique: uniqueKey, notBefore, enqueuedBy };
  let body = encodeEnvelope(id, task.name, argsJson, extras);
  const bytes = Buffer.byteLength(body, 'utf8');
  let blob: PendingBlob | undefined;
  if (bytes > MAX_MESSAGE_BYTES) {
    if (claimCheck.blobs === undefined) {
      throw new EnqueueError(
        `Task '${task.name}': the message is ${bytes} bytes; the limit is ${MAX_MESSAGE_BYTES} bytes (SQS's 1 MiB), ` +
          'and this backend has no blob store for larger arguments (on AWS, set SPOOL_BUCKET or the bucketName option to the bucket the TaskQueue construct or `spool provision` made). ' +
          'Nothing was enqueued. Configure the bucket, or store large data elsewhere (S3, a database) and pass its key as the argument.',
        { code: 'PAYLOAD_TOO_LARGE', taskName: task.name, taskId: id },
      );
    }
    const subject = {
      kind: 'args' as const,
      queue: claimCheck.queue,
      id,
      now,
      expiresAt: argumentsBlobExpiry(notBefore ?? now, task.resultTtlSeconds * 1000),
    };
    blob = prepareBlob(subject, argsJson);
    body = encodeEnvelope(id, task.name, { ref: blob.ref }, extras);
  }
  const withBlob = blob === undefined ? {} : { blob };
  const groupId = options.orderingKey ?? id;
  if (!FIFO_ID_PATTERN.test(groupId)) {
    throw new EnqueueError(
      `Task '${task.name}': orderingKey ${JSON.stringify(groupId)} is not allowed; use ${FIFO_ID_FORMAT}.`,
      { code: 'INVALID_ENQUEUE_OPTION', taskName: task.name, taskId: id },
    );
  }
  if (notBefore === undefined)
    return { id, message: { body, deduplicationId: id, groupId }, uniqueKey, args: travelled, ...withBlob };
  // The body names its start time, and a deduplication id must always carry the same body.
  const message = { body, deduplicationId: delayedDeduplicationId(id, notBefore), groupId };
  if (notBefore - now <= MAX_QUEUED_DELAY_MS) return { id, message, uniqueKey, args: travelled, ...withBlob };
  if (body.length > MAX_TIMER_MESSAGE_CHARS) {
    throw new EnqueueError(
      `Task '${task.name}': a run delayed by more than 15 minutes waits in a one-time schedule, whose message may be at most ${MAX_TIMER_MESSAGE_CHARS} characters (EventBridge Scheduler's limit); this one is ${body.length}. ` +
        'Nothing was enqueued. Pass smaller arguments (store large data elsewhere and pass its key), or delay by 15 minutes or less.',
      { code: 'PAYLOAD_TOO_LARGE', taskName: task.name, taskId: id },
    );
  }
  return {
    id,
    message,
    uniqueKey,
    args: travelled,
    timer: { name: timerName(id), at: notBefore, message },
    ...withBlob,
  };
}

/** When the run may start (epoch ms), from `delaySeconds` or `runAt`; `undefined` for at once. */
function startTime(task: AnyTaskContract, options: EnqueueOptions, now: number): number | undefined {
  const fail = (what: string): never => {
    throw new EnqueueError(`Task '${task.name}': ${what}. Nothing was enqueued.`, {
      code: 'INVALID_ENQUEUE_OPTION',
      taskName: task.name,
    });
  };
  const { delaySeconds, runAt } = options;
  if (delaySeconds !== undefined && runAt !== undefined) fail('give delaySeconds or runAt, not both');
  if (delaySeconds !== undefined) {
    if (
      typeof delaySeconds !== 'number' ||
      !Number.isFinite(delaySeconds) ||
      delaySeconds < 0 ||
      delaySeconds * 1000 > MAX_ENQUEUE_DELAY_MS
    ) {
      fail(
        `delaySeconds is ${String(delaySeconds)}; allowed: a number of seconds from 0 to ${MAX_ENQUEUE_DELAY_MS / 1000} (one year)`,
      );
    }
    return delaySeconds === 0 ? undefined : now + Math.round(delaySeconds * 1000);
  }
  if (runAt === undefined) return undefined;
  const at = runAt instanceof Date ? runAt.getTime() : runAt;
  if (typeof at !== 'number' || !Number.isFinite(at)) {
    fail(`runAt is ${String(runAt)}; allowed: a valid Date or epoch milliseconds`);
  }
  if (at - now > MAX_ENQUEUE_DELAY_MS) {
    fail(
      `runAt is ${new Date(at).toISOString()}, more than one year ahead (now ${new Date(now).toISOString()}); allowed: up to one year ahead`,
    );
  }
  return at <= now ? undefined : at;
}

/**
 * The unique lock key of a run of a `unique` task: its `unique.key` of the arguments; without one,
 * the idempotency key, or the task id when there is none or it is over `MAX_LOCK_KEY_BYTES` (the
 * id is derived from it: the same runs share it).
 */
function uniqueLockKey(task: AnyTaskContract, id: string, key: string | undefined, args: unknown): string {
  const own = task.unique?.key;
  if (own !== undefined) return lockKeyOrThrow(task, id, 'unique', own(args));
  const byKey = key === undefined ? undefined : lockKey(task.name, key);
  return typeof byKey === 'string' ? byKey : lockKeyOrThrow(task, id, 'unique', id);
}

/**
 * The lock key of a run's unique or singleton key (`lockKey`: `<task>:<key>`, NFC), or an
 * `EnqueueError` that says why the key is refused (not a string, or over `MAX_LOCK_KEY_BYTES`).
 */
function lockKeyOrThrow(task: AnyTaskContract, id: string, kind: 'unique' | 'singleton', key: unknown): string {
  const made = typeof key === 'string' ? lockKey(task.name, key) : { problem: `is ${typeof key}, not a string` };
  if (typeof made === 'string') return made;
  throw new EnqueueError(
    `Task '${task.name}': its ${kind} key ${made.problem}. Nothing was enqueued. ` +
      `Make the task's ${kind === 'unique' ? 'unique.key' : 'singleton.key'} return a shorter string (hash long keys).`,
    { code: 'INVALID_ENQUEUE_OPTION', taskName: task.name, taskId: id },
  );
}

/** Run the `onEnqueue` hooks of every middleware, in order. */
export async function runEnqueueHooks(middleware: readonly Middleware[], task: AnyTaskContract, run: PreparedRun) {
  for (const m of middleware) {
    await m.onEnqueue?.({ taskId: run.id, task: task.name, args: run.args });
  }
}

/**
 * Take the unique lock for a run. Returns the id of the run the caller should get a handle on:
 * the run's own id when the lock was taken, or the holder's id when a run with the same unique key
 * is still queued or running. A lock whose holder has ended is taken over.
 */
export async function acquireUniqueLock(
  store: TaskStore,
  task: AnyTaskContract,
  run: PreparedRun & { readonly uniqueKey: string },
  now: number,
): Promise<string> {
  const ttlMs = (task.unique?.ttlSeconds ?? 0) * 1000;
  let replaceHolder: string | undefined;
  for (let round = 0; round < 3; round++) {
    const lock = await store.acquireUnique({
      key: run.uniqueKey,
      id: run.id,
      now,
      ttlMs,
      ...(replaceHolder === undefined ? {} : { replaceHolder }),
    });
    if (lock.outcome === 'acquired') return run.id;
    const holderState = await store.stateOf(lock.holderId);
    if (holderState === undefined || !isTerminal(holderState)) return lock.holderId;
    replaceHolder = lock.holderId; // the holder ended without releasing: take the lock over
  }
  throw new EnqueueError(
    `Task '${task.name}': could not take unique lock ${JSON.stringify(run.uniqueKey)}: it changed hands three times during this enqueue. Try again.`,
    { code: 'UNIQUE_LOCK_CONTENDED', taskName: task.name, taskId: run.id },
  );
}

/**
 * Send prepared runs (delayed ones to their timers), each run's argument blob written first, so a
 * message never points to a blob not yet written; a failed write or send releases the unique locks
 * the runs took.
 */
export async function sendRuns(
  queue: Queue,
  store: TaskStore,
  runs: readonly PreparedRun[],
  scheduler: SchedulerPort | undefined,
): Promise<void> {
  try {
    const blobs = runs.flatMap((r) => (r.blob === undefined ? [] : [r.blob]));
    if (blobs.length > 0) {
      const blobStore = store.blobs;
      if (blobStore === undefined) throw new ConfigurationError('sendRuns: runs carry blobs, but the store has none.');
      await Promise.all(blobs.map((b) => blobStore.put(b.ref.key, b.body, b.expiresAt)));
    }
    const timed = runs.filter((r) => r.timer !== undefined);
    if (timed.length > 0 && scheduler === undefined) {
      throw new ConfigurationError(
        'A run delayed by more than 15 minutes needs a scheduler, and this backend has none. ' +
          'On AWS set SPOOL_SCHEDULE_GROUP and SPOOL_SCHEDULER_ROLE_ARN (the TaskQueue construct creates both and sets them on its functions), or delay by 15 minutes or less. Nothing was enqueued.',
      );
    }
    await Promise.all([
      queue.send(runs.filter((r) => r.timer === undefined).map((r) => r.message)),
      ...timed.map((r) => scheduler?.scheduleOnce(r.timer as OneTimeTimer)),
    ]);
  } catch (error) {
    await Promise.allSettled(
      runs.flatMap((r) => (r.uniqueKey === undefined ? [] : [store.releaseUnique(r.uniqueKey, r.id)])),
    );
    throw error;
  }
}
