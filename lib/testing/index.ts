/**
 * `spool-tasks/testing`: what a test suite of an app on spool needs. {@link createTestSpool} makes
 * an app on a throwaway in-memory embedded backend; {@link runUntilIdle} runs what is queued until
 * nothing is left; `spool-tasks/testing/local-aws` (see its module) starts a local AWS endpoint in
 * vitest's globalSetup.
 *
 * @example
 * ```ts
 * import { createTestSpool, runUntilIdle } from 'spool-tasks/testing';
 *
 * it('charges once', async () => {
 *   const spool = createTestSpool({ tasks: [chargeOrder] });
 *   const run = await spool.enqueue(chargeOrder, { orderId: 'o-1', amountCents: 100 });
 *   await runUntilIdle(spool);
 *   expect(await run.status()).toBe('succeeded');
 *   await spool.close();
 * });
 * ```
 *
 * @module
 */

import type { Backend } from '../backend/backend.js';
import { createSpool, type Spool, type SpoolOptions } from '../client/spool.js';
import { openEmbeddedBackend } from '../embedded/backend.js';
import { MEMORY_PATH } from '../embedded/database.js';
import { silentLogger } from '../log/logger.js';
import { ConfigurationError, TimeoutError } from '../task/errors.js';
import type { WorkerOptions } from '../worker/worker.js';

/** Options of {@link createTestSpool}: those of `createSpool`, with the backend and logger optional. */
export interface TestSpoolOptions extends Omit<SpoolOptions, 'backend' | 'logger'> {
  /** @default a new private in-memory embedded backend, gone when the spool is closed */
  readonly backend?: Backend;
  /** @default silentLogger */
  readonly logger?: SpoolOptions['logger'];
}

/** An app for one test: on a private in-memory embedded backend unless another is given. */
export function createTestSpool(options: TestSpoolOptions): Spool {
  const backend =
    options.backend ?? openEmbeddedBackend({ path: MEMORY_PATH, ...(options.now ? { now: options.now } : {}) });
  return createSpool({ ...options, backend, logger: options.logger ?? silentLogger });
}

/** Options of {@link runUntilIdle}. */
export interface RunUntilIdleOptions {
  /** Give up after this long, ms (a `TimeoutError` says what was still queued). @default 10000 */
  readonly timeoutMs?: number;
  /** The worker's options (concurrency, visibility timeout…). @default concurrency 10, 1 s long polls */
  readonly worker?: WorkerOptions;
}

/** What {@link runUntilIdle} processed: messages by outcome (`succeeded`, `retry`, `dead`…). */
export interface IdleSummary {
  /** Messages processed in all. */
  readonly processed: number;
  /** Messages processed, by outcome. */
  readonly outcomes: Readonly<Record<string, number>>;
}

/** How often idleness is checked, ms. */
const POLL_MS = 20;

/**
 * Run a worker of `spool` until its task queue is empty and nothing is in flight, then stop it.
 * Retries waiting out their backoff count as queued, so they run too; runs delayed past the
 * timeout do not. Schedules declared in the app fire while it runs.
 *
 * @throws TimeoutError when the queue is not empty after `timeoutMs`; the worker is stopped first.
 */
export async function runUntilIdle(spool: Spool, options: RunUntilIdleOptions = {}): Promise<IdleSummary> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new ConfigurationError(
      `runUntilIdle: timeoutMs is ${String(timeoutMs)}; expected a positive number of milliseconds.`,
    );
  }
  const worker = spool.worker({ waitTimeSeconds: 1, signals: false, crashes: false, ...options.worker });
  await worker.start();
  const deadline = Date.now() + timeoutMs;
  let left = { visible: 0, inFlight: 0 };
  try {
    // Idle twice in a row: a message between a receive and its attempt is in flight in neither count.
    for (let idleChecks = 0; idleChecks < 2; ) {
      left = await spool.backend.transport.tasks.stats();
      idleChecks = left.visible + left.inFlight + worker.inFlight === 0 ? idleChecks + 1 : 0;
      if (idleChecks < 2) {
        if (Date.now() > deadline) {
          throw new TimeoutError(
            `runUntilIdle: the task queue was not idle after ${timeoutMs} ms: ${left.visible} messages ready, ` +
              `${left.inFlight} in flight (running, or waiting out a retry's backoff). Raise timeoutMs, or lower ` +
              "the tasks' retry delays in tests.",
          );
        }
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    }
  } finally {
    await worker.stop();
  }
  const outcomes = Object.fromEntries(worker.counts);
  return { processed: Object.values(outcomes).reduce((sum, n) => sum + n, 0), outcomes };
}
