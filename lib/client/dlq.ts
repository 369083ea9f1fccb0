/**
 * Dead letters: list them with their reasons, and redrive them onto the task queue.
 * Backend-neutral: works through the queue and store ports only.
 *
 * @module
 */

import type { Backend } from '../backend/backend.js';
import { readBlob } from '../backend/blobs.js';
import { MAX_BATCH, type ReceivedMessage } from '../backend/transport.js';
import { decodeBodyRef } from '../protocol/blob-ref.js';
import { decodeEnvelope } from '../protocol/envelope.js';
import { REDRIVE_ID_PREFIX } from '../protocol/ids.js';
import { DEFAULT_RETENTION_MS, MAX_FIFO_ID_LENGTH } from '../protocol/limits.js';
import { DEAD_LETTER_ATTRIBUTES as A } from '../protocol/reasons.js';
import { SpoolError } from '../task/errors.js';

/** One dead-lettered message, as `spool dlq list` shows it. */
export interface DeadLetter {
  readonly messageId: string;
  /** The run's task id, when the message named one. */
  readonly taskId: string | undefined;
  readonly task: string | undefined;
  /** Why it is dead. */
  readonly reason: string;
  readonly errorName: string | undefined;
  /** When it was dead-lettered (ISO 8601), when known. */
  readonly deadAt: string | undefined;
  /**
   * The body, first 200 characters. A copy too large for the dead-letter queue with its attributes
   * has the body `{"spool":1,"bodyRef":…}`: the original is a blob, which a redrive sends back.
   */
  readonly preview: string;
}

/** How long listed messages stay hidden while a listing or redrive pages through the queue, s. */
const PAGE_VISIBILITY_SECONDS = 30;

/**
 * List dead letters (up to `limit`). Messages are hidden while the listing pages through the
 * queue, then made visible again.
 */
export async function listDeadLetters(backend: Backend, options: { readonly limit: number }): Promise<DeadLetter[]> {
  const queue = backend.transport.deadLetters;
  const seen: ReceivedMessage[] = [];
  try {
    while (seen.length < options.limit) {
      const page = await queue.receive({
        maxMessages: Math.min(MAX_BATCH, options.limit - seen.length),
        visibilityTimeoutSeconds: PAGE_VISIBILITY_SECONDS,
        waitTimeSeconds: 0,
      });
      if (page.length === 0) break;
      seen.push(...page);
    }
  } finally {
    await Promise.allSettled(seen.map((m) => queue.changeVisibility(m.receiptHandle, 0)));
  }
  return seen.map(describeDeadLetter);
}

/** Turn a dead-letter-queue message into a {@link DeadLetter}. */
export function describeDeadLetter(message: ReceivedMessage): DeadLetter {
  const decoded = decodeEnvelope(message.body);
  const attr = message.attributes;
  const taskId = attr[A.taskId] ?? (decoded.ok ? decoded.envelope.id : decoded.id);
  const task = attr[A.task] ?? (decoded.ok ? decoded.envelope.task : decoded.task);
  return {
    messageId: message.messageId,
    taskId,
    task,
    reason:
      attr[A.reason] ??
      `moved by the queue's redrive policy after ${message.receiveCount} receives (the worker never finished it)`,
    errorName: attr[A.errorName],
    deadAt: attr[A.deadAt],
    preview: message.body.slice(0, 200),
  };
}

/** Options of {@link redriveDeadLetters}. */
export interface RedriveOptions {
  /** Only these task ids; leave out to redrive every dead letter. */
  readonly taskIds?: readonly string[];
  /** Called after each message moved, with the running count. */
  readonly onProgress?: (moved: number) => void;
  /** Clock, epoch ms. @default Date.now */
  readonly now?: () => number;
  /** Retention of revived records, ms. @default 7 days */
  readonly retentionMs?: number;
}

/**
 * Move dead letters back onto the task queue: each run is revived in the store (state queued,
 * attempts reset) and its original message is sent again. Returns how many were moved.
 * A redrive interrupted half-way is safe to repeat: each message is sent with a deduplication id
 * derived from its dead-letter message id, and deleted from the dead-letter queue only after.
 * A copy whose body was kept as a blob (`{"spool":1,"bodyRef":…}`) is sent back with its original
 * body; one whose blob cannot be read any more rejects with a `SpoolError` naming it (it stays in
 * the dead-letter queue, as do the ones not moved yet).
 */
export async function redriveDeadLetters(backend: Backend, options: RedriveOptions = {}): Promise<number> {
  const dlq = backend.transport.deadLetters;
  const wanted = options.taskIds === undefined ? undefined : new Set(options.taskIds);
  const now = options.now ?? Date.now;
  const retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
  const skipped: ReceivedMessage[] = [];
  let moved = 0;
  try {
    for (;;) {
      const page = await dlq.receive({
        maxMessages: MAX_BATCH,
        visibilityTimeoutSeconds: PAGE_VISIBILITY_SECONDS,
        waitTimeSeconds: 0,
      });
      if (page.length === 0) break;
      const take: ReceivedMessage[] = [];
      for (const message of page) {
        const { taskId } = describeDeadLetter(message);
        if (wanted === undefined || (taskId !== undefined && wanted.has(taskId))) take.push(message);
        else skipped.push(message);
      }
      for (const message of take) {
        const { taskId } = describeDeadLetter(message);
        if (taskId !== undefined)
          await backend.store.revive({ id: taskId, now: now(), expiresAt: now() + retentionMs });
      }
      if (take.length > 0) {
        const bodies = await Promise.all(take.map((m) => originalBody(backend, m, now())));
        await backend.transport.tasks.send(
          take.map((m, i) => ({
            body: bodies[i] ?? m.body,
            deduplicationId: `${REDRIVE_ID_PREFIX}${m.messageId}`.slice(0, MAX_FIFO_ID_LENGTH),
            groupId: m.groupId,
          })),
        );
        await dlq.delete(take.map((m) => m.receiptHandle));
        moved += take.length;
        options.onProgress?.(moved);
      }
      if (wanted !== undefined && moved >= wanted.size) break;
    }
  } finally {
    await Promise.allSettled(skipped.map((m) => dlq.changeVisibility(m.receiptHandle, 0)));
  }
  return moved;
}

/** The body a dead letter was sent with: its own, or the blob its `bodyRef` points to. */
async function originalBody(backend: Backend, message: ReceivedMessage, now: number): Promise<string> {
  const ref = decodeBodyRef(message.body);
  if (ref === undefined) return message.body;
  const read = await readBlob(backend.store.blobs, ref, now);
  if (read.ok) return read.body;
  throw new SpoolError(
    `redrive: dead letter ${message.messageId}${message.attributes[A.taskId] === undefined ? '' : ` (run ${message.attributes[A.taskId]})`} ` +
      `kept its body as a blob, which cannot be read: ${read.reason} Nothing more was moved; remove that message from the dead-letter queue (or wait for it to expire) and redrive again.`,
  );
}

/** Count of dead letters (approximate on SQS). */
export async function countDeadLetters(backend: Backend): Promise<number> {
  const stats = await backend.transport.deadLetters.stats();
  return stats.visible + stats.inFlight;
}
