/**
 * Batched acknowledgement: deletes collect for a moment and go out ten at a time (one
 * `DeleteMessageBatch` instead of ten `DeleteMessage` on SQS). Safe because a message whose run is
 * recorded as ended is only ever acknowledged again if it comes back.
 *
 * @module
 */

import { MAX_BATCH, type Queue } from '../backend/transport.js';
import type { Logger } from '../log/logger.js';

/** Collects receipt handles and deletes them in batches. */
export class BatchDeleter {
  readonly #queue: Queue;
  readonly #logger: Logger;
  readonly #flushDelayMs: number;
  readonly #batchSize: number;
  #pending: { handle: string; done: () => void }[] = [];
  #timer: NodeJS.Timeout | undefined;
  readonly #sending = new Set<Promise<void>>();

  /**
   * @param batchSize - send as soon as this many deletes wait (at most 10).
   * @param flushDelayMs - longest a delete waits for companions before it is sent anyway. The
   *   worker also flushes as soon as nothing else is in flight, so this only bounds the wait.
   *   @default 50
   */
  constructor(queue: Queue, logger: Logger, batchSize: number = MAX_BATCH, flushDelayMs = 50) {
    this.#batchSize = Math.max(1, Math.min(MAX_BATCH, batchSize));
    this.#queue = queue;
    this.#logger = logger;
    this.#flushDelayMs = flushDelayMs;
  }

  /** Queue a delete; resolves when the batch holding it was sent (failures are logged, not thrown). */
  delete(receiptHandle: string): Promise<void> {
    return new Promise((resolve) => {
      this.#pending.push({ handle: receiptHandle, done: resolve });
      if (this.#pending.length >= this.#batchSize) void this.flush();
      else this.#timer ??= setTimeout(() => void this.flush(), this.#flushDelayMs);
    });
  }

  /** Send everything pending now. */
  flush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, MAX_BATCH);
      const sending: Promise<void> = this.#send(batch).finally(() => this.#sending.delete(sending));
      this.#sending.add(sending);
    }
    return Promise.all(this.#sending).then(() => {});
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
