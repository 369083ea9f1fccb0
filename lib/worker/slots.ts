/**
 * The worker's slots: how many messages it holds at once. A slot is *reserved* by a receive in
 * flight (it may bring that many messages) and *active* from the moment a message is received
 * until it is settled (processed, or handed back). The polling loop waits on them.
 *
 * @module
 */

/** Slot accounting of one worker, with one waiter: the polling loop. */
export class Slots {
  /** Messages the worker may hold at once (its concurrency). */
  readonly capacity: number;
  #active = 0;
  #reserved = 0;
  #waiter: (() => void) | undefined;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** Messages received and not yet settled. */
  get active(): number {
    return this.#active;
  }

  /** Slots neither active nor reserved. */
  get free(): number {
    return this.capacity - this.#active - this.#reserved;
  }

  /** Hold `count` slots for a receive about to start. */
  reserve(count: number): void {
    this.#reserved += count;
  }

  /** A receive that held `reserved` slots returned `received` messages (≤ reserved). */
  fill(reserved: number, received: number): void {
    this.#reserved -= reserved;
    this.#active += received;
  }

  /** `count` messages are settled: their slots are free. */
  settle(count: number): void {
    this.#active -= count;
    this.wake();
  }

  /** Wake the waiter: something changed (a slot freed, a receive returned, a stop). */
  wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }

  /** Resolve at the next {@link wake}. */
  changed(): Promise<void> {
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }

  /** Resolve once `count` slots are free, `signal` aborts, or `windowMs` has passed. */
  whenFree(count: number, windowMs: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, windowMs);
      const check = () => {
        if (this.free >= count || signal.aborted) {
          clearTimeout(timer);
          resolve();
        } else {
          this.#waiter = check;
        }
      };
      check();
    });
  }
}
