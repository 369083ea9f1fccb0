/**
 * The queue transport port: what spool needs from a queue. Its semantics are those of an
 * **SQS FIFO queue** with a redrive policy, and every backend must reproduce them (the
 * conformance suite checks):
 *
 * - **Deduplication**: a message whose `deduplicationId` was sent to the same queue within the
 *   last {@link DEDUPLICATION_WINDOW_MS} (5 minutes) is accepted and dropped, whatever its body,
 *   even if the first copy was already deleted.
 * - **Message groups**: messages of one group are delivered in send order; while any message of a
 *   group is in flight (received, not deleted, visibility not expired) no other message of that
 *   group is delivered. One receive may return several consecutive messages of one group.
 * - **Visibility timeout**: a received message is hidden for the visibility timeout, then
 *   delivered again with `receiveCount` + 1. `changeVisibility` resets the timer from now.
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
