/**
 * The reasons spool itself gives when it ends a run without its handler's say, or dead-letters a
 * message: the `name` of the error recorded on the run, and the `spool-error` attribute of a
 * dead-lettered message (docs/protocol.md, "Dead letters"). A handler's own error keeps its own
 * name (`TypeError`, a `NonRetriableError` subclass, …), so readers must accept other names too.
 *
 * @module
 */

/** Each reason, what it means, and what becomes of the run. */
export const REASONS = {
  OversizeMessage: {
    outcome: 'dead-lettered',
    meaning: "the message is over the queue's size limit (SQS's 1 MiB)",
  },
  MalformedMessage: {
    outcome: 'dead-lettered',
    meaning: 'the body is not JSON, not a spool envelope, or of a protocol version this worker does not read',
  },
  UnknownTask: {
    outcome: 'dead-lettered',
    meaning: 'no task of that name is registered with the worker that received it',
  },
  LeaseExpired: {
    outcome: 'dead-lettered',
    meaning:
      'the lease expired with no attempts left: the worker crashed, was killed, or an attempt outlived its lease',
  },
  MissingBlob: { outcome: 'dead-lettered', meaning: "the message's arguments are a blob that could not be read" },
  ConflictingDuplicate: {
    outcome: 'refused',
    meaning:
      "the message has a run's task id but other arguments (or another enqueuer) than the message the run's first claim ran; it is never run, and the run is left alone",
  },
  ResultTooLarge: {
    outcome: 'failed',
    meaning: 'the result is larger, as JSON, than the store keeps',
  },
  MissedRun: {
    outcome: 'cancelled',
    meaning: "a schedule's fire had not started when a later fire was due (`missedRuns: 'latest'`)",
  },
  OverlapSkipped: {
    outcome: 'cancelled',
    meaning: "a schedule's fire came while its previous run was still running (`overlap: 'skip'`)",
  },
  NonErrorThrown: {
    outcome: 'as the attempt',
    meaning: 'the handler threw (or rejected with) something that is not an Error; its message is that value',
  },
} as const satisfies Record<string, { readonly outcome: string; readonly meaning: string }>;

/** A reason spool gives (see {@link REASONS}). */
export type Reason = keyof typeof REASONS;

/** The error spool records for `reason`: `{ name: reason, message }`. */
export function reasonError(reason: Reason, message: string): { readonly name: Reason; readonly message: string } {
  return { name: reason, message };
}

/** Whether `name` is one of spool's own reasons (else it is a handler's error name). */
export function isReason(name: string): name is Reason {
  return Object.hasOwn(REASONS, name);
}

/** Attribute names on dead-lettered messages (docs/protocol.md, "Dead letters"). */
export const DEAD_LETTER_ATTRIBUTES = {
  reason: 'spool-reason',
  errorName: 'spool-error',
  taskId: 'spool-task-id',
  task: 'spool-task',
  deadAt: 'spool-dead-at',
  sourceMessageId: 'spool-source-message-id',
} as const;
