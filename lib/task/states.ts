/**
 * # Glossary
 *
 * - **task** — a named, typed function defined with `defineTask`. Its arguments are checked by a
 *   Standard Schema (zod, valibot, arktype, …).
 * - **task run** (or just *run*) — one enqueued invocation of a task, identified by a **task id**.
 *   A task id has exactly one **task record** in the store.
 * - **idempotency key** — what makes two enqueues "the same run". Explicit
 *   (`enqueue(t, args, { idempotencyKey })`), or derived from the task name and the canonical JSON
 *   of its arguments. The task id is a hash of task name + idempotency key; a task that opts out
 *   (`idempotencyKey: false`) gets a fresh UUIDv7 per enqueue (time-ordered).
 * - **message** — what travels on the queue: the protocol envelope (see `lib/protocol`). Its
 *   deduplication id is the task id, so the same run sent twice inside the 5-minute window is one
 *   message, and outside it the store makes the second copy a no-op.
 * - **attempt** — one execution of the handler. The store counts attempts; the queue counts
 *   **receives**. They differ: a receive that finds the run leased by another worker is not an
 *   attempt.
 * - **claim** — the conditional write that starts an attempt: it takes a **lease** (owner +
 *   expiry) on the task record. Only the lease owner may finish the attempt.
 * - **lease** — time-bounded ownership of a run. A live worker renews it (**heartbeat**); a crashed
 *   worker's lease expires and the run can be claimed again.
 * - **visibility timeout** — how long a received message stays hidden from other receivers. spool
 *   keeps it in step with the lease, but correctness never depends on it: the lease decides.
 * - **dead letter** — a message moved to the dead-letter queue (retries exhausted, or a message
 *   that cannot be run at all: malformed, unknown task, oversize). `spool dlq redrive` moves it
 *   back.
 * - **unique** — at most one queued-or-running run per unique key (celery-once). A second enqueue
 *   returns the existing handle.
 * - **singleton** — at most one *running* run per singleton key; others wait their turn.
 * - **delay** / **ETA** — a run that must not start before a time (`delaySeconds`, `runAt`). Up to
 *   15 minutes it waits in the queue (a worker that receives it early hides it again until then);
 *   longer, in a **timer**.
 * - **timer** — a one-time schedule that sends one message at a time, then deletes itself
 *   (EventBridge Scheduler `at()` on AWS; a row of the embedded `timers` table locally).
 * - **schedule** — a recurring trigger declared in code (`defineSchedule`: cron in a time zone, or
 *   a rate) that runs a task with fixed arguments.
 * - **fire** — one scheduled time of a schedule. Its run's task id is `sched:<schedule>:<time>`,
 *   the same whoever fires it, so each fire runs once. A **fire message** is what EventBridge
 *   Scheduler sends for a fire; the worker turns it into the fire's run.
 * - **missed fire** — a fire that had not started when the schedule's next fire was due; with
 *   `missedRuns: 'latest'` it is skipped (cancelled, with the reason) and only the latest runs.
 *
 * @module
 */

/**
 * The states of a task run. This is the one place they are written down.
 *
 * ```text
 *             enqueue
 *                │
 *                ▼
 *   ┌────────► queued ──── cancel ────────────────► cancelled
 *   │            │ claim (conditional write, takes the lease)
 *   │            ▼
 *   │         running ──── handler returns ───────► succeeded
 *   │          │   │ ╲
 *   │          │   │  ╲── NonRetriableError,
 *   │          │   │      invalid arguments ──────► failed
 *   │          │   │
 *   │          │   └── error, attempts left ──────► retrying ──(backoff elapses, claim)──► running
 *   │          │
 *   │          └────── error, no attempts left,
 *   │                  or lease lost too often ───► dead  (message in the dead-letter queue)
 *   │                                                 │
 *   └──────────────────── dlq redrive ◄───────────────┘
 * ```
 *
 * A message that cannot be run at all (not JSON, unknown task, oversize) goes straight to `dead`.
 * A lease that expires while `running` (worker crashed, or a hard timeout) leaves the record
 * `running` with a stale lease; the next claim takes it over and counts a new attempt.
 * `succeeded`, `failed`, `cancelled` and `dead` are terminal: a duplicate delivery of a run in a
 * terminal state is acknowledged without running.
 */
export type TaskState = 'queued' | 'running' | 'retrying' | 'succeeded' | 'failed' | 'cancelled' | 'dead';

/** Every task state, in lifecycle order. */
export const TASK_STATES: readonly TaskState[] = [
  'queued',
  'running',
  'retrying',
  'succeeded',
  'failed',
  'cancelled',
  'dead',
];

/** States from which a run never moves on its own. */
export const TERMINAL_STATES: ReadonlySet<TaskState> = new Set<TaskState>(['succeeded', 'failed', 'cancelled', 'dead']);

/** Whether `state` is terminal (`succeeded`, `failed`, `cancelled` or `dead`). */
export function isTerminal(state: TaskState): boolean {
  return TERMINAL_STATES.has(state);
}
