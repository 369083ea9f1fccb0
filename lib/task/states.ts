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
 *   deduplication id is the task id (a delayed run's: the id and its start time), so the same run
 *   sent twice inside the 5-minute window is one message, and outside it the store makes the
 *   second copy a no-op.
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
 * - **message group** — the messages of one ordering key (SQS's `MessageGroupId`; a run without an
 *   ordering key is a group of its own). A worker or Lambda runs the groups of a batch concurrently
 *   and each group in order (`lib/worker/groups.ts`).
 * - **runtime** — what runs tasks: the backend, the registered tasks and schedules, middleware,
 *   logger and clock (`spool.runtime`). The worker and the Lambda handler are built from it; a
 *   producer never sees it.
 * - **unique** — at most one queued, running or retrying run per unique key (celery-once). A
 *   second enqueue returns the existing handle.
 * - **singleton** — at most one *running* run per singleton key; others wait their turn.
 * - **delay** / **ETA** — a run that must not start before a time (`delaySeconds`, `runAt`). Up to
 *   15 minutes it waits in the queue (a worker that receives it early hides it again until then);
 *   longer, in a **timer**.
 * - **timer** — a one-time schedule that sends one message at its time, then deletes itself
 *   (EventBridge Scheduler `at()` on AWS; a row of the embedded `timers` table locally).
 * - **schedule** — a recurring trigger declared in code (`defineSchedule`: cron in a time zone, or
 *   a rate) that runs a task with fixed arguments.
 * - **fire** — one scheduled time of a schedule. Its run's task id is `sched:<schedule>:<time>`
 *   (`sched:<schedule>:manual:<time>` for `spool schedules trigger`), the same whoever fires it, so
 *   each fire runs once. A **fire message** is what EventBridge Scheduler sends for a fire; the
 *   worker turns it into the fire's run.
 * - **missed fire** — a fire that had not started when the schedule's next fire was due; with
 *   `missedRuns: 'latest'` it is skipped (cancelled, with the reason) and only the latest runs.
 *
 * @module
 */

/**
 * The states of a task run. This is the one place they and their transitions are written down;
 * each transition is one conditional write of the task store (`lib/backend/store.ts` states its
 * condition), made by the processor (`lib/worker/processor.ts`), a handle or `spool dlq redrive`.
 *
 * ```text
 *                 enqueue (no write: a run without a record is queued)
 *                    │
 *                    ▼
 *   ┌──────────► queued ── cancel ─────────────────────────────────────────► cancelled
 *   │                │ ─── deadLetter: malformed message, unknown task ──────► dead
 *   │                │ claim (takes the lease, attempt + 1)
 *   │                ▼
 *   │    ┌───────► running ◄──┐ claim after the lease expired (takeover, attempt + 1)
 *   │    │          │  └──────┘
 *   │    │          ├── finish: the handler returned ────────────────────────► succeeded
 *   │    │          ├── finish: NonRetriableError, invalid arguments,
 *   │    │          │           result not JSON or too large ────────────────► failed
 *   │    │          ├── finish: cancel requested, ctx.signal aborted ────────► cancelled
 *   │    │          ├── finish: error, no attempts left ─────────────────────► dead
 *   │    │          ├── deadLetter: lease expired, no attempts left ─────────► dead
 *   │    │          └── finish: error with attempts left, or worker shutdown
 *   │    │                         │
 *   │    │                         ▼
 *   │    └── claim (backoff ─── retrying ── cancel ─────────────────────────► cancelled
 *   │         elapsed)                └─── deadLetter: no attempts left,
 *   │                                      unknown task ─────────────────────► dead
 *   │                                                                          │
 *   └──────────────────── revive (`spool dlq redrive`, attempt = 0) ◄──────────┘
 * ```
 *
 * | from | to | write | when |
 * | --- | --- | --- | --- |
 * | (none) | queued | none | enqueue: the store has no record until the first claim |
 * | queued, retrying | running | `claim` | a worker receives the message; attempt + 1, lease taken |
 * | running | running | `claim` | the lease expired (the worker crashed or was killed, its heartbeats failed, its Lambda timed out): takeover, attempt + 1 |
 * | running | succeeded | `finish` | the handler returned; its result is stored |
 * | running | failed | `finish` | `NonRetriableError`, arguments that fail the schema, a result that is not JSON or too large |
 * | running | retrying | `finish` | a retriable error (a hard timeout too) with attempts left; or worker shutdown (due at once) |
 * | running | dead | `finish` | a retriable error with no attempts left |
 * | running | dead | `deadLetter` | the lease expired with no attempts left (claim outcome `exhausted`) |
 * | running | cancelled | `finish` | `cancel()` set `cancelRequested`, the next heartbeat aborted `ctx.signal`, and the handler threw (one that returns succeeds) |
 * | queued, retrying | cancelled | `cancel` | `cancel()` before it runs (a record is made if there is none); a skipped schedule fire |
 * | queued, retrying | dead | `deadLetter` | the message cannot be run (malformed, unknown task); a retrying run's claim found no attempts left (a shutdown released its last attempt) |
 * | dead | queued | `revive` | `spool dlq redrive`; attempt back to 0 |
 *
 * `cancel()` on a running run only sets `cancelRequested`; the run stays `running` until its
 * attempt finishes. A worker that lost its lease writes nothing: the run is the new owner's.
 * `succeeded`, `failed`, `cancelled` and `dead` are terminal (only `revive` leaves `dead`): a
 * duplicate delivery of a run in a terminal state is acknowledged without running. A message too
 * large to read, or without a readable id, goes to the dead-letter queue with no record written.
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
