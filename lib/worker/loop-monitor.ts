/**
 * The loop monitor: notices when the worker's main thread was blocked (a timer that should fire
 * every {@link LOOP_TICK_MS} fires late) for longer than half the shortest lease of the attempts
 * running then, and warns once per block, naming those attempts and the block's length. Each tick
 * also stamps a clock shared with the lease keeper's thread, which renews the leases of a blocked
 * thread only until each attempt's hard timeout (`./lease-keeper.ts`).
 *
 * One timer for the worker (unref'd), not one per attempt.
 *
 * @module
 */

import type { Logger } from '../log/logger.js';
import type { KeptAttempt } from './lease-keeper.js';

/** How often the monitor's timer fires, ms. */
export const LOOP_TICK_MS = 100;

/** A block is worth a warning when it is longer than this share of the shortest running lease. */
export const BLOCK_WARN_SHARE = 0.5;

/** Options of {@link LoopMonitor}. */
export interface LoopMonitorOptions {
  readonly logger: Logger;
  /** The attempts running now. */
  readonly running: () => Iterable<KeptAttempt>;
  /** Whether leases are renewed off the main thread (said in the warning). */
  readonly offThread: () => boolean;
}

/** See the module's header. */
export class LoopMonitor {
  /** The main thread's liveness stamp: epoch ms, one `BigInt64Array` element. */
  readonly liveness = new SharedArrayBuffer(8);
  readonly #stamp = new BigInt64Array(this.liveness);
  readonly #options: LoopMonitorOptions;
  #timer: NodeJS.Timeout | undefined;
  #last = Date.now();
  /** Attempts that ended while the loop looked blocked (a synchronous handler ends before the next tick). */
  #endedDuringBlock: KeptAttempt[] = [];

  constructor(options: LoopMonitorOptions) {
    this.#options = options;
    Atomics.store(this.#stamp, 0, BigInt(this.#last));
  }

  /** Start ticking. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#last = Date.now();
    Atomics.store(this.#stamp, 0, BigInt(this.#last));
    this.#timer = setInterval(LoopMonitor.#tick, LOOP_TICK_MS, this);
    this.#timer.unref();
  }

  /** Stop ticking. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /**
   * An attempt ended: remember it when the loop has not ticked for a while (a handler that blocked
   * the loop and then returned ends before the tick that measures the block).
   */
  noteEnded(attempt: KeptAttempt): void {
    if (this.#timer === undefined) return;
    if (Date.now() - this.#last > LOOP_TICK_MS * 3) this.#endedDuringBlock.push(attempt);
  }

  static #tick(monitor: LoopMonitor): void {
    const now = Date.now();
    const blockedMs = now - monitor.#last - LOOP_TICK_MS;
    monitor.#last = now;
    Atomics.store(monitor.#stamp, 0, BigInt(now));
    const ended = monitor.#endedDuringBlock;
    if (ended.length > 0) monitor.#endedDuringBlock = [];
    // Leases are at least a second: a block shorter than half of that never warns.
    if (blockedMs < 1000 * BLOCK_WARN_SHARE) return;
    const attempts = [...new Set([...monitor.#options.running(), ...ended])];
    if (attempts.length === 0) return;
    const shortest = Math.min(...attempts.map((a) => a.leaseSeconds)) * 1000;
    if (blockedMs <= shortest * BLOCK_WARN_SHARE) return;
    const offThread = monitor.#options.offThread();
    monitor.#options.logger.warn(
      offThread
        ? 'event loop blocked: a handler kept the main thread busy; the lease keeper renewed the leases, but timers, progress and logs waited. Run CPU-bound handlers in a pool (worker option pool)'
        : 'event loop blocked longer than half a lease: leases may lapse and another worker run the same runs. Run CPU-bound handlers in a pool (worker option pool)',
      {
        blockedMs,
        shortestLeaseMs: shortest,
        running: attempts.map((a) => ({ task: a.taskName, taskId: a.taskId, attempt: a.attempt })),
      },
    );
  }
}
