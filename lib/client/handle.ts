/**
 * Task handles: what `enqueue` returns, to follow and control a run.
 *
 * @module
 */

import { type BlobRef, readBlob } from '../backend/blobs.js';
import type { SchedulerPort } from '../backend/scheduler.js';
import type { TaskRecord, TaskStore } from '../backend/store.js';
import { timerName } from '../protocol/ids.js';
import { SpoolError, TaskFailedError, TimeoutError } from '../task/errors.js';
import type { TaskState } from '../task/states.js';

/** Options of {@link TaskHandle.result}. */
export interface ResultOptions {
  /**
   * Give up after this long (rejects with `TimeoutError`; the run goes on).
   * @default 30000
   */
  readonly timeoutMs?: number;
  /**
   * Longest pause between two reads of the store; reads start at 10 ms and back off to this.
   * @default 500
   */
  readonly maxPollIntervalMs?: number;
}

/** A handle on one run. Handles hold no resources; make one for any id with `spool.handle(id)`. */
export interface TaskHandle<R = unknown> {
  /** The task id. */
  readonly id: string;
  /** The task's name; absent for a handle made from a bare id. */
  readonly task?: string;
  /** `true` when enqueue returned an existing run instead of a new one (a `unique` task). */
  readonly existing: boolean;
  /** The run's state. A run the store has no record of yet is `queued`. */
  status(): Promise<TaskState>;
  /**
   * The run's full record, or `undefined` while it is queued (or its record expired). A result or
   * an error message kept as a blob (too large for the record) is read back into `result` and
   * `error.message`; the references stay in `resultRef` and `error.messageRef`. A blob that cannot
   * be read any more is left out (`result` absent; the cut `error.message`): `result()` says why.
   */
  info(): Promise<TaskRecord | undefined>;
  /**
   * Wait for the run to end. Resolves its result when it succeeded; rejects with
   * `TaskFailedError` when it failed, went dead or was cancelled, and with `TimeoutError` when
   * `timeoutMs` passed first.
   */
  result(options?: ResultOptions): Promise<R>;
  /**
   * Cancel the run. `cancelled`: it will not run (a delayed run's one-time schedule is deleted
   * too). `requested`: it is running; its handler's `ctx.signal` aborts at the worker's next
   * heartbeat. `finished`: too late, it already ended.
   */
  cancel(): Promise<'cancelled' | 'requested' | 'finished'>;
}

/** Defaults of {@link ResultOptions}. */
export const RESULT_DEFAULTS = { timeoutMs: 30_000, maxPollIntervalMs: 500 } as const;

/** What {@link createHandle} builds a handle from. */
export interface HandleSource {
  readonly store: TaskStore;
  /** Where a delayed run's one-time schedule lives (deleted on cancel). */
  readonly scheduler: SchedulerPort | undefined;
  readonly now: () => number;
  readonly id: string;
  /** The task's name, when known. */
  readonly task?: string;
  readonly existing: boolean;
  /** How long a record made by `cancel()` is kept, ms. */
  readonly retentionMs: number;
}

/** Build a handle over a store. */
export function createHandle<R>(source: HandleSource): TaskHandle<R> {
  const { store, scheduler, now, id, task, existing, retentionMs } = source;
  const named = task === undefined ? `Run ${id}` : `Run ${id} of task '${task}'`;
  return {
    id,
    ...(task === undefined ? {} : { task }),
    existing,
    async status() {
      return (await store.get(id))?.state ?? 'queued';
    },
    async info() {
      const record = await store.get(id);
      return record === undefined ? undefined : resolveBlobs(store, record, now(), 'lenient');
    },
    async result(options = {}) {
      const timeoutMs = options.timeoutMs ?? RESULT_DEFAULTS.timeoutMs;
      const maxInterval = options.maxPollIntervalMs ?? RESULT_DEFAULTS.maxPollIntervalMs;
      const deadline = Date.now() + timeoutMs;
      let interval = 10;
      for (;;) {
        const found = await store.get(id);
        const record = found === undefined ? undefined : await resolveBlobs(store, found, now(), 'strict');
        if (record !== undefined) {
          const outcome = settle<R>(record);
          if (outcome !== undefined) return outcome.value;
        }
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new TimeoutError(
            `${named} did not finish within ${timeoutMs} ms (state: ${record?.state ?? 'queued'}). ` +
              'Is a worker running for this backend? Wait longer with result({ timeoutMs }), or check `spool inspect ' +
              `${id}\`.`,
            { taskId: id, ...(task === undefined ? {} : { taskName: task }) },
          );
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(interval, left)));
        interval = Math.min(maxInterval, interval * 1.5);
      }
    },
    async cancel() {
      const at = now();
      const outcome = await store.cancel({
        id,
        ...(task === undefined ? {} : { task }),
        now: at,
        expiresAt: at + retentionMs,
      });
      if (outcome.outcome === 'cancelled' && scheduler !== undefined) {
        try {
          await scheduler.cancelOnce(timerName(id));
        } catch (error) {
          throw new SpoolError(
            `Run ${id} is cancelled and will not run, but deleting its one-time schedule ${timerName(id)} failed (it will fire and be dropped): ${(error as Error).message}`,
            { taskId: id, cause: error },
          );
        }
      }
      // `running` is only reported to callers that pass onlyIfNotStarted, which this one does not.
      return outcome.outcome === 'running' ? 'requested' : outcome.outcome;
    },
  };
}

/**
 * `record` with its blobs read back: the result into `result`, the whole error message into
 * `error.message`. A result blob that cannot be read rejects with a {@link SpoolError} naming the
 * key when `strict` (else the record keeps its reference only); an error message blob that cannot be
 * read leaves the cut message as it is.
 */
async function resolveBlobs(
  store: TaskStore,
  record: TaskRecord,
  now: number,
  mode: 'strict' | 'lenient',
): Promise<TaskRecord> {
  let resolved = record;
  if (record.resultRef !== undefined && record.result === undefined) {
    const read = await readBlob(store.blobs, record.resultRef, now);
    if (!read.ok && mode === 'lenient') return resolved;
    if (!read.ok) {
      throw new SpoolError(`Run ${record.id} ${record.state}, but its result cannot be read: ${read.reason}`, {
        taskId: record.id,
        ...(record.task === undefined ? {} : { taskName: record.task }),
      });
    }
    resolved = { ...resolved, result: read.body };
  }
  const messageRef: BlobRef | undefined = record.error?.messageRef;
  if (record.error !== undefined && messageRef !== undefined) {
    const read = await readBlob(store.blobs, messageRef, now);
    if (read.ok) resolved = { ...resolved, error: { ...record.error, message: read.body } };
  }
  return resolved;
}

function settle<R>(record: TaskRecord): { value: R } | undefined {
  switch (record.state) {
    case 'succeeded':
      return { value: (record.result === undefined ? undefined : JSON.parse(record.result)) as R };
    case 'failed':
    case 'dead':
    case 'cancelled': {
      const reason = record.error === undefined ? '' : `: ${record.error.name}: ${record.error.message}`;
      const named = record.task === undefined ? `Run ${record.id}` : `Run ${record.id} of task '${record.task}'`;
      throw new TaskFailedError(`${named} ended ${record.state}${reason}`, {
        taskId: record.id,
        ...(record.task === undefined ? {} : { taskName: record.task }),
        state: record.state,
        ...(record.error === undefined ? {} : { errorName: record.error.name }),
      });
    }
    default:
      return undefined;
  }
}
