/**
 * The long-running worker: receive, process with concurrency N, acknowledge in batches, shut
 * down gracefully. Runs on any backend.
 *
 * @module
 */

import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import type { Queue, ReceivedMessage } from '../backend/transport.js';
import { MAX_BATCH, MAX_WAIT_SECONDS } from '../backend/transport.js';
import type { Spool } from '../client/spool.js';
import type { Logger } from '../log/logger.js';
import { type ScheduleRunner, startScheduleRunner } from '../schedule/runner.js';
import { ConfigurationError } from '../task/errors.js';
import { BatchDeleter } from './deleter.js';
import { type Disposition, processMessage } from './processor.js';
import { sleep } from './sleep.js';

/** Options of a worker. */
export interface WorkerOptions {
  /**
   * Attempts run at once.
   * @default 10
   */
  readonly concurrency?: number;
  /**
   * Visibility timeout requested on receive, seconds. Heartbeats extend it while a run goes on,
   * and correctness never depends on it (the store's lease does). It does decide how soon a
   * crashed worker's messages come back: a run is taken over after the longer of this and its
   * task's `leaseSeconds`, so keep the two close.
   * @default 30
   */
  readonly visibilityTimeoutSeconds?: number;
  /**
   * Long-poll wait per receive, seconds (0–20).
   * @default 20
   */
  readonly waitTimeSeconds?: number;
  /**
   * On `stop()`, how long in-flight attempts may take to finish before they are interrupted and
   * released for another worker, ms.
   * @default 30000
   */
  readonly shutdownGraceMs?: number;
  /**
   * Identifies this worker in leases and logs.
   * @default `${hostname}:${pid}`
   */
  readonly workerId?: string;
  /**
   * Where this worker logs (for example a pretty logger in `spool dev`).
   * @default the app's logger
   */
  readonly logger?: Logger;
  /**
   * Fire the app's schedules and delayed runs from this worker, on backends where spool does the
   * firing (the embedded runtime; on AWS, EventBridge Scheduler fires). Any number of workers
   * may do it at once: each fire runs once. At start the worker deploys the app's schedules
   * (creates or updates them, keeping a paused one paused; `spool schedules sync` also deletes).
   * @default true
   */
  readonly runSchedules?: boolean;
}

/** How long the worker waits for a whole batch of free slots before receiving fewer, ms. */
const RECEIVE_BATCH_WINDOW_MS = 50;

/** Defaults of {@link WorkerOptions}, in one place. */
export const WORKER_DEFAULTS = {
  concurrency: 10,
  visibilityTimeoutSeconds: 30,
  waitTimeSeconds: MAX_WAIT_SECONDS,
  shutdownGraceMs: 30_000,
} as const;

/** A worker. `start()` begins polling; `stop()` drains and resolves when nothing is in flight. */
export interface Worker {
  readonly id: string;
  /** Start receiving. Resolves once polling has begun. */
  start(): Promise<void>;
  /**
   * Stop: no more receives; in-flight attempts get `shutdownGraceMs` to finish, then are
   * interrupted and released (visible again at once) so nothing is lost.
   */
  stop(): Promise<void>;
  /** Resolves when the worker has stopped. */
  readonly stopped: Promise<void>;
  /** Attempts and messages in flight now. */
  readonly inFlight: number;
  /** Messages processed since start, by outcome note. */
  readonly counts: ReadonlyMap<string, number>;
}

/** Create a worker for an app. Prefer `spool.worker(options)`. */
export function createWorker(spool: Spool, options: WorkerOptions = {}): Worker {
  const concurrency = options.concurrency ?? WORKER_DEFAULTS.concurrency;
  const visibility = options.visibilityTimeoutSeconds ?? WORKER_DEFAULTS.visibilityTimeoutSeconds;
  const waitTimeSeconds = options.waitTimeSeconds ?? WORKER_DEFAULTS.waitTimeSeconds;
  const graceMs = options.shutdownGraceMs ?? WORKER_DEFAULTS.shutdownGraceMs;
  const workerId = options.workerId ?? `${hostname()}:${process.pid}`;
  check(
    Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 10_000,
    'concurrency',
    concurrency,
    'an integer from 1 to 10000',
  );
  check(
    Number.isInteger(visibility) && visibility >= 1 && visibility <= 43_200,
    'visibilityTimeoutSeconds',
    visibility,
    'an integer from 1 to 43200',
  );
  check(
    Number.isInteger(waitTimeSeconds) && waitTimeSeconds >= 0 && waitTimeSeconds <= 20,
    'waitTimeSeconds',
    waitTimeSeconds,
    'an integer from 0 to 20',
  );
  check(Number.isFinite(graceMs) && graceMs >= 0, 'shutdownGraceMs', graceMs, 'a number of ms ≥ 0');

  const queue: Queue = spool.backend.transport.tasks;
  const logger = (options.logger ?? spool.logger).child({ worker: workerId });
  const deleter = new BatchDeleter(queue, logger, concurrency);
  const receiving = new AbortController();
  const interrupt = new AbortController();
  // Every attempt in flight listens on this signal.
  setMaxListeners(concurrency + 10, interrupt.signal);
  /** Chains of messages (one per message group of a receive) being processed. */
  let chains = 0;
  /** Waiting for `chains` to reach 0 (see {@link whenDrained}). */
  const drainWaiters: (() => void)[] = [];
  /** Resolves once no chain is being processed. */
  const whenDrained = () =>
    chains === 0 ? Promise.resolve() : new Promise<void>((resolve) => void drainWaiters.push(resolve));
  /** Messages received and not yet done with. */
  let active = 0;
  const counts = new Map<string, number>();
  let slotFreed: (() => void) | undefined;
  let started = false;
  let resolveStopped: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    resolveStopped = resolve;
  });
  const deps = {
    tasks: spool.tasks,
    store: spool.backend.store,
    deadLetters: spool.backend.transport.deadLetters,
    queue,
    middleware: spool.middleware,
    logger,
    now: spool.now,
    workerId,
  };

  const apply = async (message: ReceivedMessage, disposition: Disposition) => {
    counts.set(disposition.note, (counts.get(disposition.note) ?? 0) + 1);
    if (disposition.kind === 'ack')
      void deleter.delete(message.receiptHandle); // sent in batches; stop() flushes
    else await queue.changeVisibility(message.receiptHandle, disposition.delaySeconds);
  };

  /** Process one message; resolves whether it was acknowledged (false: retry, release or backend failure). */
  const handle = async (message: ReceivedMessage): Promise<boolean> => {
    try {
      const disposition = await processMessage(deps, message, {
        extendVisibility: async (seconds) => {
          await queue.changeVisibility(message.receiptHandle, seconds);
        },
        stop: interrupt.signal,
      });
      await apply(message, disposition);
      return disposition.kind === 'ack';
    } catch (error) {
      // The backend failed (store or queue unreachable): leave the message; it comes back after
      // its visibility timeout and the lease decides what happens then.
      logger.error('processing failed in the backend; the message will be delivered again', {
        messageId: message.messageId,
        error,
      });
      return false;
    }
  };

  const fullBatch = Math.min(MAX_BATCH, concurrency);
  /** Resolve when `count` slots are free, or after `windowMs`, whichever is first. */
  const waitForSlots = (count: number, windowMs: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, windowMs);
      const check = () => {
        if (concurrency - active - reserved >= count || receiving.signal.aborted) {
          clearTimeout(timer);
          resolve();
        } else {
          slotFreed = check;
        }
      };
      check();
    });

  const release = async (messages: readonly ReceivedMessage[]) => {
    active -= messages.length;
    await Promise.allSettled(messages.map((m) => queue.changeVisibility(m.receiptHandle, 0)));
  };

  /** Slots held by receives in flight (their messages are not in `active` yet). */
  let reserved = 0;
  /** Receives in flight. */
  const polls = new Set<Promise<void>>();
  /** The last receive came back full: the queue has a backlog right now. */
  let backlog = false;
  let failures = 0;

  /**
   * Process one message group of a receive. FIFO: its messages run one after another, in order;
   * after one that is not acknowledged (a retry), the rest of the group is handed back so order
   * is kept. Never rejects (`handle` and `release` do not).
   */
  const runChain = async (group: readonly ReceivedMessage[]) => {
    try {
      for (let index = 0; index < group.length; index++) {
        const message = group[index] as ReceivedMessage;
        if (receiving.signal.aborted) {
          // Stopping: what has not started goes back at once, for another worker.
          await release(group.slice(index));
          break;
        }
        const acknowledged = await handle(message);
        active--;
        if (!acknowledged) {
          await release(group.slice(index + 1));
          break;
        }
      }
    } finally {
      chains--;
      if (chains === 0) for (const resolve of drainWaiters.splice(0)) resolve();
      // Nothing else in flight: no more deletes are coming soon, so send what waits now.
      if (active === 0) void deleter.flush();
      wakeLoop();
    }
  };

  /** Start processing received messages (the caller counted them in `active`). */
  const dispatch = (messages: readonly ReceivedMessage[]) => {
    for (const group of groupInOrder(messages)) {
      chains++;
      void runChain(group);
    }
  };

  const wakeLoop = () => {
    const wake = slotFreed;
    slotFreed = undefined;
    wake?.();
  };

  /** One receive of up to `max` messages into slots already reserved. */
  const poll = async (max: number, waitSeconds: number) => {
    let messages: ReceivedMessage[] = [];
    try {
      messages = await queue.receive({
        maxMessages: max,
        visibilityTimeoutSeconds: visibility,
        waitTimeSeconds: waitSeconds,
        signal: receiving.signal,
      });
      failures = 0;
      backlog = messages.length === max;
    } catch (error) {
      backlog = false;
      if (!receiving.signal.aborted) {
        failures++;
        const pauseMs = Math.min(30_000, 200 * 2 ** Math.min(failures, 8));
        logger.error('receive failed; retrying', { error, pauseMs });
        // Still counted as a receive in flight: no other receive starts during the pause.
        await sleep(pauseMs, receiving.signal, { unref: true });
      }
    }
    reserved -= max;
    active += messages.length;
    dispatch(messages);
  };

  const loop = async () => {
    while (!receiving.signal.aborted) {
      // One receive at a time while the queue looks empty (a single long poll); while it has a
      // backlog, one receive per free batch of slots, overlapping (their round trips, or their
      // group commit on the embedded backend, are shared). Those extra receives do not wait.
      if (concurrency - active - reserved <= 0 || (polls.size > 0 && !backlog)) {
        await new Promise<void>((resolve) => {
          slotFreed = resolve;
        });
        continue;
      }
      // Receive full batches: wait (briefly) until a whole batch fits, so one receive brings ten
      // messages instead of one (on SQS each receive is a billed request).
      if (active + reserved > 0 && concurrency - active - reserved < fullBatch) {
        await waitForSlots(fullBatch, RECEIVE_BATCH_WINDOW_MS);
        if (receiving.signal.aborted) break;
      }
      const free = concurrency - active - reserved;
      if (free <= 0 || (polls.size > 0 && !backlog)) continue;
      const max = Math.min(MAX_BATCH, free);
      reserved += max;
      const polling: Promise<void> = poll(max, polls.size === 0 ? waitTimeSeconds : 0).finally(() => {
        polls.delete(polling);
        wakeLoop();
      });
      polls.add(polling);
    }
    // Receives still in flight dispatch (or hand back) their messages before the loop is done.
    await Promise.allSettled([...polls]);
  };

  let loopDone: Promise<void> = Promise.resolve();
  let runner: ScheduleRunner | undefined;
  const scheduler = spool.backend.scheduler;
  const startRunner = async () => {
    if (options.runSchedules === false || scheduler?.firing !== 'in-process') return;
    for (const schedule of spool.schedules.values()) await scheduler.put(schedule.spec);
    runner = startScheduleRunner({ scheduler, queue, logger, now: spool.now });
  };
  const worker: Worker = {
    id: workerId,
    stopped,
    get inFlight() {
      return active;
    },
    counts,
    async start() {
      if (started) return;
      started = true;
      await startRunner();
      logger.info('worker started', {
        concurrency,
        tasks: [...spool.tasks.keys()],
        ...(runner === undefined ? {} : { schedules: [...spool.schedules.keys()] }),
      });
      loopDone = loop().catch((error: unknown) => {
        // Never leave a worker that looks alive but receives nothing: drain and stop.
        logger.error('worker loop crashed; stopping', { error });
        setImmediate(() => void worker.stop());
      });
    },
    async stop() {
      if (receiving.signal.aborted) return stopped;
      logger.info('worker stopping: no more receives; waiting for in-flight attempts', {
        inFlight: active,
        graceMs,
      });
      receiving.abort();
      wakeLoop();
      await runner?.stop();
      await loopDone;
      const grace = sleep(graceMs, undefined, { unref: true }).then(() => 'grace-over' as const);
      const drained = whenDrained().then(() => 'drained' as const);
      if ((await Promise.race([grace, drained])) === 'grace-over' && active > 0) {
        logger.warn('grace period over; interrupting and releasing in-flight attempts', { inFlight: active });
        interrupt.abort();
        await whenDrained();
      }
      await deleter.flush();
      logger.info('worker stopped', { processed: Object.fromEntries(counts) });
      resolveStopped();
      return stopped;
    },
  };
  return worker;
}

/** Split a receive into its message groups, each in delivery order. */
function groupInOrder(messages: readonly ReceivedMessage[]): ReceivedMessage[][] {
  const groups = new Map<string, ReceivedMessage[]>();
  for (const m of messages) {
    const group = groups.get(m.groupId);
    if (group === undefined) groups.set(m.groupId, [m]);
    else group.push(m);
  }
  return [...groups.values()];
}

function check(ok: boolean, name: string, value: unknown, allowed: string): void {
  if (!ok) {
    throw new ConfigurationError(`Worker option ${name} is ${String(value)}; allowed: ${allowed}.`);
  }
}
