/**
 * The chaos suite's workload: what each run does (sleep past its lease, block the event loop,
 * fail some attempts, share an ordering key, be enqueued twice), drawn from a seed, and the task
 * contract producer and workers share. A run's behaviour travels in its arguments, so a worker
 * process needs no seed: it does what the message says.
 *
 * @module
 */

import { defineTaskContract } from 'spool-tasks';
import { z } from 'zod';

/** How a run is meant to end: `ok` and `flaky` succeed, `doomed` dies (retries used up), `rejected` fails. */
export type Fate = 'ok' | 'flaky' | 'doomed' | 'rejected';

/** The final state each fate must reach. */
export const EXPECTED_STATE = { ok: 'succeeded', flaky: 'succeeded', doomed: 'dead', rejected: 'failed' } as const;

/** The arguments of one run: its behaviour. */
export const runArgs = z.object({
  /** Unique per run and suite run: the idempotency key. */
  key: z.string(),
  /** Awaited sleep before the effect, ms (some longer than the lease: heartbeats must carry them). */
  sleepMs: z.number().int().nonnegative(),
  /** Busy loop (event loop blocked) after the sleep, ms; 0 for none. */
  blockMs: z.number().int().nonnegative(),
  fate: z.enum(['ok', 'flaky', 'doomed', 'rejected']),
  /** `flaky`: attempts 1…failUntil throw. */
  failUntil: z.number().int().nonnegative(),
});

/** The arguments of one run. */
export type RunArgs = z.infer<typeof runArgs>;

/**
 * Attempts per run: enough that a run failing twice and killed several times still succeeds. A run
 * whose every attempt is killed dies of it (`LeaseExpired`), as its retry policy says: the
 * analysis counts that apart from lost runs (`deadByKills`).
 */
export const MAX_ATTEMPTS = 10;

/** The task every worker process runs; its lease is set per suite run. */
export function chaosContract(leaseSeconds: number) {
  return defineTaskContract({
    name: 'chaos.effect',
    schema: runArgs,
    idempotencyKey: (args) => args.key,
    leaseSeconds,
    retry: { maxAttempts: MAX_ATTEMPTS, minDelayMs: 100, maxDelayMs: 1000 },
  }).returns<{ pid: number }>();
}

/** The contract's type. */
export type ChaosContract = ReturnType<typeof chaosContract>;

/** One planned run. */
export interface PlannedRun {
  readonly args: RunArgs;
  /** Ordering key (message group), for about a fifth of the runs, in groups of five. */
  readonly orderingKey: string | undefined;
  /** Enqueued a second time with the same idempotency key (must return the same run). */
  readonly enqueueTwice: boolean;
  /** Sent once more with another deduplication id (a late duplicate only the store can stop). */
  readonly lateDuplicate: boolean;
}

/** Shares of the workload. */
export const SHARES = {
  /** Runs that sleep past their lease. */
  long: 0.1,
  /** Runs that fail their first one or two attempts, then succeed. */
  flaky: 0.1,
  /** Runs that fail every attempt (dead after {@link MAX_ATTEMPTS}). */
  doomed: 0.01,
  /** Runs that throw a NonRetriableError (failed). */
  rejected: 0.005,
  /** Runs that block the event loop longer than the lease (with `--blocking on`). */
  blocking: 0.005,
  /** Runs with an ordering key. */
  grouped: 0.2,
  /** Runs enqueued twice. */
  enqueueTwice: 0.2,
  /** Runs delivered twice (second message outside the deduplication window's reach). */
  lateDuplicate: 0.1,
} as const;

/** What a plan is drawn from. */
export interface PlanOptions {
  readonly tasks: number;
  readonly seed: number;
  readonly leaseSeconds: number;
  readonly blocking: boolean;
  /** Makes the keys unique to this suite run (and backend). */
  readonly tag: string;
}

/** Draw the runs of one suite run. At least two runs block when blocking is on, whatever the size. */
export function planRuns(options: PlanOptions): PlannedRun[] {
  const random = seededRandom(options.seed);
  const leaseMs = options.leaseSeconds * 1000;
  const blockers = options.blocking ? Math.max(2, Math.round(options.tasks * SHARES.blocking)) : 0;
  const blockEvery = blockers > 0 ? Math.floor(options.tasks / blockers) : 0;
  const runs: PlannedRun[] = [];
  let grouped = 0;
  for (let i = 0; i < options.tasks; i++) {
    const long = random() < SHARES.long;
    const sleepMs = long ? leaseMs + 1000 + Math.floor(random() * 2000) : Math.floor(random() * 50);
    const blocks = blockEvery > 0 && i % blockEvery === Math.floor(blockEvery / 2);
    const roll = random();
    const fate: Fate =
      roll < SHARES.rejected
        ? 'rejected'
        : roll < SHARES.rejected + SHARES.doomed
          ? 'doomed'
          : roll < SHARES.rejected + SHARES.doomed + SHARES.flaky
            ? 'flaky'
            : 'ok';
    const orderingKey = random() < SHARES.grouped ? `g-${Math.floor(grouped++ / 5)}` : undefined;
    runs.push({
      args: {
        key: `${options.tag}-${i}`,
        sleepMs,
        blockMs: blocks ? leaseMs + 1500 : 0,
        fate,
        failUntil: fate === 'flaky' ? 1 + Math.floor(random() * 2) : 0,
      },
      orderingKey,
      enqueueTwice: random() < SHARES.enqueueTwice,
      lateDuplicate: random() < SHARES.lateDuplicate,
    });
  }
  return runs;
}

/** mulberry32: a small, fast, seeded generator of numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
