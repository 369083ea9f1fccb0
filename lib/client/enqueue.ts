/**
 * Enqueue: validate, derive the task id, take a unique lock when asked, send.
 *
 * @module
 */

import type { TaskStore } from '../backend/store.js';
import { MAX_MESSAGE_BYTES, type OutgoingMessage, type Queue } from '../backend/transport.js';
import { canonicalJson, deriveTaskId, randomTaskId } from '../protocol/canonical.js';
import { encodeEnvelope } from '../protocol/envelope.js';
import type { AnyTask } from '../task/define.js';
import { EnqueueError } from '../task/errors.js';
import { validateArgs } from '../task/schema.js';
import { isTerminal } from '../task/states.js';
import type { Middleware } from './middleware.js';

/** Options of one enqueue. */
export interface EnqueueOptions {
  /**
   * What makes two enqueues the same run, overriding the task's `idempotencyKey`. Two enqueues
   * with the same key are one run, even with different arguments (the first one's are used).
   * @default the task's `idempotencyKey`, else the canonical JSON of the arguments
   */
  readonly idempotencyKey?: string;
  /**
   * Runs with the same ordering key start in enqueue order, one at a time (the FIFO message
   * group). Without one, every run is its own group and runs in parallel.
   * @default the task id
   */
  readonly orderingKey?: string;
}

/** A run ready to send: its id, message and (for unique tasks) lock key. */
export interface PreparedRun {
  readonly id: string;
  readonly message: OutgoingMessage;
  readonly uniqueKey: string | undefined;
  readonly args: unknown;
}

const KEY_PATTERN = /^[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]{1,128}$/;

/** Validate arguments and build the message of one run (nothing is sent). */
export async function prepareRun(task: AnyTask, args: unknown, options: EnqueueOptions = {}): Promise<PreparedRun> {
  // Validate what the worker will see: the JSON round trip of the arguments.
  const argsJson = canonicalJson(args, task.name);
  const travelled: unknown = JSON.parse(argsJson);
  await validateArgs(task.schema, travelled, { taskName: task.name, when: 'enqueue' });
  const key =
    options.idempotencyKey ??
    (task.idempotencyKey === false ? undefined : (task.idempotencyKey?.(travelled) ?? argsJson));
  const id = key === undefined ? randomTaskId() : deriveTaskId(task.name, key);
  const uniqueKey = task.unique === undefined ? undefined : `${task.name}:${task.unique.key?.(travelled) ?? key ?? id}`;
  const body = encodeEnvelope(id, task.name, argsJson, uniqueKey);
  const bytes = Buffer.byteLength(body, 'utf8');
  if (bytes > MAX_MESSAGE_BYTES) {
    throw new EnqueueError(
      `Task '${task.name}': the message is ${bytes} bytes; the limit is ${MAX_MESSAGE_BYTES} bytes (SQS's 1 MiB). ` +
        'Nothing was enqueued. Store large data elsewhere (S3, a database) and pass its key as the argument.',
      { taskName: task.name, taskId: id },
    );
  }
  const groupId = options.orderingKey ?? id;
  if (!KEY_PATTERN.test(groupId)) {
    throw new EnqueueError(
      `Task '${task.name}': orderingKey ${JSON.stringify(groupId)} is not allowed; use 1–128 printable ASCII characters without spaces.`,
      { taskName: task.name, taskId: id },
    );
  }
  return { id, message: { body, deduplicationId: id, groupId }, uniqueKey, args: travelled };
}

/** Run the `onEnqueue` hooks of every middleware, in order. */
export async function runEnqueueHooks(middleware: readonly Middleware[], task: AnyTask, run: PreparedRun) {
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
  task: AnyTask,
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
    const holder = await store.get(lock.holderId);
    if (holder === undefined || !isTerminal(holder.state)) return lock.holderId;
    replaceHolder = lock.holderId; // the holder ended without releasing: take the lock over
  }
  throw new EnqueueError(
    `Task '${task.name}': could not take unique lock ${JSON.stringify(run.uniqueKey)}: it changed hands three times during this enqueue. Try again.`,
    { taskName: task.name, taskId: run.id },
  );
}

/** Send prepared runs; a failed send releases the unique locks the runs took. */
export async function sendRuns(queue: Queue, store: TaskStore, runs: readonly PreparedRun[]): Promise<void> {
  try {
    await queue.send(runs.map((r) => r.message));
  } catch (error) {
    await Promise.allSettled(
      runs.flatMap((r) => (r.uniqueKey === undefined ? [] : [store.releaseUnique(r.uniqueKey, r.id)])),
    );
    throw error;
  }
}
