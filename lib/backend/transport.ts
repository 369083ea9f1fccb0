/**
 * The queue transport port: what spool needs from a queue. Its semantics are those of an
 * **SQS FIFO queue** with a redrive policy, and every backend must reproduce them (the
 * conformance suite checks):
 *
 * - **Deduplication**: a message whose `deduplicationId` was sent to the same queue **and message
 *   group** within the last {@link DEDUPLICATION_WINDOW_MS} (5 minutes) is accepted and dropped,
 *   whatever its body, even if the first copy was already deleted ({@link DEDUPLICATION_SCOPE}: the
 *   high-throughput FIFO queue the construct deploys). The same id in another group is delivered:
 *   the store's claim makes both copies one run, and refuses a copy with other arguments.
 * - **Message groups**: messages of one group are delivered in send order; while any message of a
 *   group is in flight (received, not deleted, visibility not expired) no other message of that
 *   group is delivered. One receive may return several consecutive messages of one group.
 * - **Visibility timeout**: a received message is hidden for the visibility timeout, then
 *   delivered again with `receiveCount` + 1. `changeVisibility` resets the timer from now, but
 *   never past {@link MAX_VISIBILITY_SECONDS} (12 hours) after the **receive** its handle came
 *   from: SQS counts the limit from the receive, not from the change, and refuses a timeout that
 *   would end later (every queue refuses it the same way, with a `ConfigurationError`). So a
 *   message can be kept hidden for at most 12 hours per receive: to wait longer, let it come back
 *   and hide it again from the new receive ({@link visibilityLeftSeconds} says how long is left).
 * - **Redrive**: a message received more than `maxReceiveCount` times moves to the dead-letter
 *   queue instead of being delivered.
 * - Limits (`lib/protocol/limits.ts`, re-exported here): 1–{@link MAX_BATCH} messages per receive,
 *   body ≤ {@link MAX_MESSAGE_BYTES}, visibility ≤ {@link MAX_VISIBILITY_SECONDS} (12 hours),
 *   long-poll wait ≤ {@link MAX_WAIT_SECONDS}; group and deduplication ids as `FIFO_ID_PATTERN`
 *   (`lib/protocol/ids.ts`) says.
 *
 * @module
 */

import {
  DEDUPLICATION_WINDOW_MS,
  MAX_BATCH,
  MAX_MESSAGE_BYTES,
  MAX_VISIBILITY_SECONDS,
  MAX_WAIT_SECONDS,
} from '../protocol/limits.js';

export { DEDUPLICATION_WINDOW_MS, MAX_BATCH, MAX_MESSAGE_BYTES, MAX_VISIBILITY_SECONDS, MAX_WAIT_SECONDS };

/**
 * Where a deduplication id is unique: per message group (SQS's `DeduplicationScope`
 * `messageGroup`). The AWS layout deploys its queues with it and the embedded queue keys its
 * deduplication ids by group, so both backends drop and deliver the same copies.
 */
export const DEDUPLICATION_SCOPE = 'messageGroup';

/** A message to send. */
export interface OutgoingMessage {
  /** The message body: protocol JSON, at most {@link MAX_MESSAGE_BYTES} bytes. */
  readonly body: string;
  /** FIFO deduplication id: 1–128 printable ASCII characters without spaces (`FIFO_ID_PATTERN`). */
  readonly deduplicationId: string;
  /** FIFO message group id (the same alphabet). */
  readonly groupId: string;
  /** String attributes carried beside the body (the dead-letter reason, for example). */
  readonly attributes?: Readonly<Record<string, string>>;
}

/** A message as a receiver gets it. */
export interface ReceivedMessage {
  /** Id the queue gave the message when it was sent. */
  readonly messageId: string;
  readonly body: string;
  /** Handle for `delete` and `changeVisibility`; valid until the message is received again. */
  readonly receiptHandle: string;
  readonly groupId: string;
  readonly deduplicationId: string;
  /** How many times this message has been received, this time included (≥ 1). */
  readonly receiveCount: number;
  /** When the message was sent, epoch milliseconds. */
  readonly sentAt: number;
  /**
   * When this receive began, epoch ms, on the queue's clock (the embedded queue's `now`; for SQS, the
   * local time just before the `ReceiveMessage` request, so never later than SQS's own): the 12
   * hours a visibility change may reach are counted from it ({@link visibilityLeftSeconds}).
   * Absent when the receiver does not know it (a Lambda event record carries no receive time).
   */
  readonly receivedAt?: number;
  readonly attributes: Readonly<Record<string, string>>;
}

/** Options of {@link Queue.receive}. */
export interface ReceiveOptions {
  /** 1–{@link MAX_BATCH}. */
  readonly maxMessages: number;
  /** How long received messages stay hidden, in seconds (0–{@link MAX_VISIBILITY_SECONDS}). */
  readonly visibilityTimeoutSeconds: number;
  /** Long poll: how long to wait for a first message when none is ready, in seconds (0–{@link MAX_WAIT_SECONDS}). */
  readonly waitTimeSeconds: number;
  /** Ends a long poll early (returns what was received, possibly nothing). */
  readonly signal?: AbortSignal;
}

/** Approximate counts, as SQS's queue attributes give them. */
export interface QueueStats {
  /** Messages ready to be received. */
  readonly visible: number;
  /** Messages received and not yet deleted (running, or waiting out a retry backoff). */
  readonly inFlight: number;
}

/** One FIFO queue. */
export interface Queue {
  /** The queue's name (for logs and the CLI). */
  readonly name: string;
  /** Send messages; implementations split into batches of {@link MAX_BATCH} as needed. */
  send(messages: readonly OutgoingMessage[]): Promise<void>;
  /** Receive up to `maxMessages` messages, long-polling up to `waitTimeSeconds` for the first. */
  receive(options: ReceiveOptions): Promise<ReceivedMessage[]>;
  /** Delete received messages. A stale receipt handle (the message was received again since) is ignored. */
  delete(receiptHandles: readonly string[]): Promise<void>;
  /**
   * Hide a received message for `visibilityTimeoutSeconds` from now (0 makes it visible at once).
   * Resolves `false` when the receipt handle is stale or the message is gone.
   *
   * @throws ConfigurationError when the timeout would end more than {@link MAX_VISIBILITY_SECONDS}
   *   after the receive the handle came from (SQS's limit; cap it with {@link visibilityLeftSeconds}).
   */
  changeVisibility(receiptHandle: string, visibilityTimeoutSeconds: number): Promise<boolean>;
  /** Approximate message counts. */
  stats(): Promise<QueueStats>;
}

/** The queues one spool app uses: its task queue and that queue's dead-letter queue. */
export interface QueueTransport {
  /** Where enqueued runs go. Its redrive policy points at `deadLetters`. */
  readonly tasks: Queue;
  /** Where dead runs go (explicitly by the worker, or by the redrive policy). */
  readonly deadLetters: Queue;
}

/**
 * How many whole seconds a received message may still be hidden for, from `now`: what remains of
 * the {@link MAX_VISIBILITY_SECONDS} (12 hours) counted from `receivedAt` (see
 * {@link ReceivedMessage.receivedAt}), never below 0. A `changeVisibility` of at most this much is
 * within the limit.
 *
 * @example
 * ```ts
 * const seconds = Math.min(wanted, visibilityLeftSeconds(message.receivedAt ?? startedAt, Date.now()));
 * await queue.changeVisibility(message.receiptHandle, seconds);
 * ```
 */
export function visibilityLeftSeconds(receivedAt: number, now: number): number {
  return Math.max(0, Math.floor((receivedAt + MAX_VISIBILITY_SECONDS * 1000 - now) / 1000));
}

/**
 * Why a visibility change is refused, or `undefined` when it is within the limit: the timeout would
 * end more than {@link MAX_VISIBILITY_SECONDS} after `receivedAt`. `where` names the queue and the call.
 */
export function visibilityLimitProblem(
  where: string,
  receivedAt: number,
  now: number,
  visibilityTimeoutSeconds: number,
): string | undefined {
  const endsAt = now + visibilityTimeoutSeconds * 1000;
  const limit = receivedAt + MAX_VISIBILITY_SECONDS * 1000;
  if (endsAt <= limit) return undefined;
  const left = visibilityLeftSeconds(receivedAt, now);
  return (
    `${where}: a visibility timeout of ${visibilityTimeoutSeconds} s would end ${new Date(endsAt).toISOString()}, ` +
    `more than ${MAX_VISIBILITY_SECONDS} s (12 hours) after the message was received (${new Date(receivedAt).toISOString()}); ` +
    `SQS counts that limit from the receive, so at most ${left} s are left. ` +
    'Pass at most that (visibilityLeftSeconds), and to wait longer let the message come back and hide it again from its new receive.'
  );
}

/** What SQS counts for an attribute's data type: its name, `String` (6 bytes). */
const ATTRIBUTE_TYPE_BYTES = 'String'.length;

/**
 * The size of a message as SQS counts it against {@link MAX_MESSAGE_BYTES}, in bytes: its body
 * (UTF-8) plus, for each attribute, its name, its data type (`String`) and its value. Every queue
 * refuses a message whose size is over the limit (the embedded queue too, as SQS does).
 */
export function messageBytes(message: Pick<OutgoingMessage, 'body' | 'attributes'>): number {
  let bytes = Buffer.byteLength(message.body, 'utf8');
  for (const [name, value] of Object.entries(message.attributes ?? {})) {
    bytes += Buffer.byteLength(name, 'utf8') + ATTRIBUTE_TYPE_BYTES + Buffer.byteLength(value, 'utf8');
  }
  return bytes;
}
