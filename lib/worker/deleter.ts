/**
 * Batched acknowledgement: deletes collect for a moment and go out ten at a time (one
 * `DeleteMessageBatch` instead of ten `DeleteMessage` on SQS). Safe because a message whose run is
 * recorded as ended is only ever acknowledged again if it comes back.
 *
 * A delete adds no latency to its own task (the run is already recorded), so a partial batch may
 * wait for companions: up to {@link DEFAULT_ACK_LINGER_MS} after its first delete. That is what
 * keeps deletes in batches at a trickle (one task a second), where each delete would otherwise go
 * alone. Two bounds keep the wait safe:
 * - the message's visibility timeout (30 s by default, extended while the run goes on) is far
 *   longer than the wait: a delete sent after it lapsed only lets the message come back, to be
 *   acknowledged as a duplicate (one more receive and one failed conditional write). The worker
 *   keeps the wait to a quarter of its receive's visibility timeout: with a wait as long as the
 *   timeout, an acknowledged message could come back and be received again (a new receipt, which
 *   the late delete misses) before each of its deletes, and loop;
 * - in a FIFO group a message that is not deleted holds back the next one of its group: with an
 *   `orderingKey` shared by back-to-back runs, the next run would start up to the wait later. So
 *   only a message alone in its group by construction lingers ({@link mayLinger}); any other is
 *   deleted at once, with whatever waits.
 *
 * @module
 */

import { MAX_BATCH, type Queue } from '../backend/transport.js';
import type { Logger } from '../log/logger.js';

/** How long a partial batch of deletes waits for companions before it is sent anyway, ms. */
export const DEFAULT_ACK_LINGER_MS = 1000;

/**
 * Whether the delete of `message` may wait for companions: only when the message is alone in its
 * FIFO group by construction, which spool's producers mark by giving it the same group id as
 * deduplication id (a run enqueued without an `orderingKey` or a delay). Any other message may
 * have a successor in its group that SQS holds back until this one is deleted.
 */
export function mayLinger(message: { readonly groupId: string; readonly deduplicationId: string }): boolean {
  return message.groupId === message.deduplicationId;
}

/** Collects receipt handles and deletes them in batches. */
export class BatchDeleter {
  readonly #queue: Queue;
  readonly #logger: Logger;
  readonly #lingerMs: number;
  readonly #batchSize: number;
  #pending: { handle: string; done: () => void }[] = [];
  #timer: NodeJS.Timeout | undefined;
  readonly #sending = new Set<Promise<void>>();

  /**
   * @param batchSize - send as soon as this many deletes wait (at most 10).
   * @param lingerMs - longest a delete waits for companions before its batch is sent anyway.
   *   @default DEFAULT_ACK_LINGER_MS
   */
  constructor(queue: Queue, logger: Logger, batchSize: number = MAX_BATCH, lingerMs: number = DEFAULT_ACK_LINGER_MS) {
    this.#batchSize = Math.max(1, Math.min(MAX_BATCH, batchSize));
    this.#queue = queue;
    this.#logger = logger;
    this.#lingerMs = Math.max(0, lingerMs);
  }

  /** Deletes waiting to be sent. */
  get pending(): number {
    return this.#pending.length;
  }

  /**
   * Queue a delete; resolves when the batch holding it was sent (failures are logged, not thrown).
   * `linger: false` sends it now, with whatever waits: for a message that may hold back the next
   * one of its FIFO group (see {@link mayLinger}).
   */
  delete(receiptHandle: string, linger = true): Promise<void> {
    return new Promise((resolve) => {
      this.#pending.push({ handle: receiptHandle, done: resolve });
      if (!linger) void this.flushNow();
      else if (this.#pending.length >= this.#batchSize) this.#sendFull();
      else this.#timer ??= setTimeout(() => void this.flushNow(), this.#lingerMs);
    });
  }

  /**
   * Resolves once every delete queued so far has been sent. A partial batch is not hurried: it
   * still goes when full or when its first delete has waited the linger, so this resolves at most
   * that long from now. A worker calls it when it goes idle (nothing is lost by waiting) and when it
   * stops (the deletes are sent before `stop()` resolves).
   */
  flush(): Promise<void> {
    if (this.#pending.length === 0) return Promise.all(this.#sending).then(() => {});
    return new Promise<void>((resolve) => {
      const last = this.#pending[this.#pending.length - 1];
      if (last === undefined) return resolve();
      const done = last.done;
      last.done = () => {
        done();
        void Promise.all(this.#sending).then(() => resolve());
      };
    });
  }

  /** Send everything pending now, full batch or not; resolves when sent. */
  flushNow(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    while (this.#pending.length > 0) this.#start(this.#pending.splice(0, MAX_BATCH));
    return Promise.all(this.#sending).then(() => {});
  }

  /** Send the full batches; what is left keeps its timer (or gets one). */
  #sendFull(): void {
    while (this.#pending.length >= this.#batchSize) this.#start(this.#pending.splice(0, this.#batchSize));
    if (this.#pending.length === 0 && this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #start(batch: { handle: string; done: () => void }[]): void {
    const sending: Promise<void> = this.#send(batch).finally(() => this.#sending.delete(sending));
    this.#sending.add(sending);
  }

  async #send(batch: { handle: string; done: () => void }[]): Promise<void> {
    try {
      await this.#queue.delete(batch.map((b) => b.handle));
    } catch (error) {
      this.#logger.warn('delete failed; the messages will come back and be acknowledged as duplicates', {
        count: batch.length,
        error,
      });
    } finally {
      for (const b of batch) b.done();
    }
  }
}
