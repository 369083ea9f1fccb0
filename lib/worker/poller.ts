/**
 * The worker's polling: receive messages into free slots and hand them to the group runner.
 *
 * - While the queue looks empty, one receive at a time (a single long poll).
 * - While it has a backlog (the last receive came back full), one receive per free batch of
 *   slots, overlapping (their round trips, or their group commit on the embedded backend, are
 *   shared); those extra receives do not wait.
 * - Receives ask for whole batches: with fewer than a batch free and messages in flight, the
 *   poller waits up to {@link RECEIVE_BATCH_WINDOW_MS} for a batch to free up, so one receive
 *   brings ten messages instead of one (on SQS each receive is a billed request).
 * - A failed receive pauses before the next: 400 ms, doubling with each failure in a row, at most 30 s.
 * - When the signal aborts, no receive starts, and {@link Poller.run} resolves once the receives in
 *   flight have returned and dispatched what they brought (the group runner hands it back, visible
 *   at once, as the worker is stopping). They are given the signal, but a queue may not end a long
 *   poll early: the embedded queue's returns at once, an SQS receive when SQS answers (at most its
 *   wait), since an abandoned one would go on at the server and hide what it takes.
 *
 * @module
 */

import { MAX_BATCH, type Queue, type ReceivedMessage } from '../backend/transport.js';
import type { Logger } from '../log/logger.js';
import { sleep } from './sleep.js';
import type { Slots } from './slots.js';

/** How long the poller waits for a whole batch of free slots before receiving fewer, ms. */
export const RECEIVE_BATCH_WINDOW_MS = 50;

/** What the poller needs. */
export interface PollerOptions {
  readonly queue: Queue;
  readonly slots: Slots;
  /** Visibility timeout requested on receive, seconds. */
  readonly visibilityTimeoutSeconds: number;
  /** Long-poll wait of a receive when no other is in flight, seconds. */
  readonly waitTimeSeconds: number;
  readonly logger: Logger;
  /** Aborts when the worker stops receiving (passed to receives in flight, which may still wait: see the module's header). */
  readonly signal: AbortSignal;
  /** Start processing received messages (already counted as active in `slots`). */
  readonly dispatch: (messages: readonly ReceivedMessage[]) => void;
}

/** The receive loop of one worker (see the module's header). */
export class Poller {
  readonly #o: PollerOptions;
  /** Receives in flight. */
  readonly #polls = new Set<Promise<void>>();
  /** The last receive came back full: the queue has a backlog right now. */
  #backlog = false;
  /** Receives failed in a row. */
  #failures = 0;

  constructor(options: PollerOptions) {
    this.#o = options;
  }

  /** Receive until the signal aborts; resolves once the receives in flight have returned and dispatched. */
  async run(): Promise<void> {
    const { slots, signal } = this.#o;
    const fullBatch = Math.min(MAX_BATCH, slots.capacity);
    while (!signal.aborted) {
      if (slots.free <= 0 || this.#waitsForOthers()) {
        await slots.changed();
        continue;
      }
      if (slots.active > 0 && slots.free < fullBatch) {
        await slots.whenFree(fullBatch, RECEIVE_BATCH_WINDOW_MS, signal);
        if (signal.aborted) break;
      }
      const free = slots.free;
      if (free <= 0 || this.#waitsForOthers()) continue;
      const max = Math.min(MAX_BATCH, free);
      slots.reserve(max);
      const polling: Promise<void> = this.#poll(max, this.#polls.size === 0 ? this.#o.waitTimeSeconds : 0).finally(
        () => {
          this.#polls.delete(polling);
          slots.wake();
        },
      );
      this.#polls.add(polling);
    }
    // Receives still in flight dispatch (or hand back) their messages before the loop is done.
    await Promise.allSettled([...this.#polls]);
  }

  /** A receive is in flight and the queue looks empty: no second receive. */
  #waitsForOthers(): boolean {
    return this.#polls.size > 0 && !this.#backlog;
  }

  /** One receive of up to `max` messages into slots already reserved. Never rejects. */
  async #poll(max: number, waitSeconds: number): Promise<void> {
    const { queue, slots, signal, logger } = this.#o;
    let messages: ReceivedMessage[] = [];
    try {
      messages = await queue.receive({
        maxMessages: max,
        visibilityTimeoutSeconds: this.#o.visibilityTimeoutSeconds,
        waitTimeSeconds: waitSeconds,
        signal,
      });
      this.#failures = 0;
      this.#backlog = messages.length === max;
    } catch (error) {
      this.#backlog = false;
      if (!signal.aborted) {
        this.#failures++;
        const pauseMs = Math.min(30_000, 200 * 2 ** Math.min(this.#failures, 8));
        logger.error('receive failed; retrying', { error, pauseMs });
        // Still counted as a receive in flight: no other receive starts during the pause.
        await sleep(pauseMs, signal, { unref: true });
      }
    }
    slots.fill(max, messages.length);
    this.#o.dispatch(messages);
  }
}
