/**
 * The processor: what happens to one received message. Shared by the long-running worker and
 * the Lambda handler; it decides, the runtime applies the decision to the queue.
 *
 * 1. Read the message (size, JSON, protocol, known task) — anything else is dead-lettered. A
 *    schedule's fire message becomes its fire's run (./fires.ts). A run whose `notBefore` has not
 *    come is hidden until then.
 * 2. **Claim** the run in the store (conditional write + lease). Outcomes: run it; acknowledge a
 *    finished duplicate; hide a duplicate of a leased run until the lease ends; dead-letter a run
 *    with no attempts left (its lease expired, or its last attempt was released at a Lambda's
 *    deadline; a worker's shutdown gives its attempt back); wait for a busy singleton.
 *    A fire that was missed (`missedRuns: 'latest'`) or overlaps its schedule's running fire
 *    (`overlap: 'skip'`) ends cancelled, with the reason.
 * 3. Run the attempt (validation, middleware, timeouts, heartbeat).
 * 4. **Finish** it in the store: succeeded / failed / retrying (with backoff) / dead / cancelled,
 *    after checking that what it writes fits the record (`MAX_RECORD_BYTES`; error messages are cut
 *    to `MAX_ERROR_MESSAGE_BYTES`), so both backends end a run alike. What does not fit goes to the
 *    blob store (the claim-check, ./claim-check.ts): a result up to `MAX_RESULT_BYTES`, an error
 *    message whole; arguments too large for the message arrive as a blob, read before step 2.
 *
 * @module
 */

import { randomUUID } from 'node:crypto';
import type { FinishInput, TaskRecord, TaskStore } from '../backend/store.js';
import { MAX_MESSAGE_BYTES, type Queue, type ReceivedMessage, visibilityLeftSeconds } from '../backend/transport.js';
import type { Logger } from '../log/logger.js';
import { argumentsHash } from '../protocol/canonical.js';
import { decodeEnvelope, type Envelope } from '../protocol/envelope.js';
import { DEAD_LETTER_ID_PREFIX, lockKey } from '../protocol/ids.js';
import {
  DEFAULT_RETENTION_MS,
  MAX_FIFO_ID_LENGTH,
  MAX_QUEUED_DELAY_MS,
  MAX_VISIBILITY_SECONDS,
} from '../protocol/limits.js';
import { DEAD_LETTER_ATTRIBUTES, reasonError } from '../protocol/reasons.js';
import type { Schedule } from '../schedule/define.js';
import type { AnyTask } from '../task/define.js';
import {
  boundErrorInfo,
  type ErrorInfo,
  hasErrorCode,
  isRetriable,
  RetryAfterError,
  toErrorInfo,
} from '../task/errors.js';
import type { Middleware } from '../task/middleware.js';
import { encodeResult } from '../task/result.js';
import { backoffMs } from '../task/retry.js';
import { callHooks, runAttempt } from './attempt.js';
import { type BlobContext, deadLetterBody, keepWholeMessage, placeResult, resolveArguments } from './claim-check.js';
import {
  fireSingletonKey,
  handleFireMessage,
  mightBeFireMessage,
  missedFire,
  trustedFireRun,
  waitForStart,
} from './fires.js';
import { leaseLength } from './lease.js';
import type { LeaseKeeper } from './lease-keeper.js';

/** What the runtime should do with the message. */
export type Disposition =
  /** Delete it: the run ended, was dead-lettered, or was a duplicate of a finished run. */
  | { readonly kind: 'ack'; readonly note: string }
  /** Keep it; make it visible again after `delaySeconds` (a retry, or waiting on a lease). */
  | { readonly kind: 'retry'; readonly delaySeconds: number; readonly note: string };

/** Everything the processor needs. */
export interface ProcessorDeps {
  readonly tasks: ReadonlyMap<string, AnyTask>;
  /** The app's schedules, by name: a fire message or a `schedule` field naming another is refused. */
  readonly schedules: ReadonlyMap<string, Schedule>;
  readonly store: TaskStore;
  readonly deadLetters: Queue;
  /** The task queue (a fire message's run is sent to it). */
  readonly queue: Queue;
  readonly middleware: readonly Middleware[];
  readonly logger: Logger;
  readonly now: () => number;
  /** Identifies this worker in lease owners (a random suffix is added per attempt). */
  readonly workerId: string;
  /** Renews leases off the main thread (the long-running worker's); absent: attempts heartbeat themselves. */
  readonly keeper?: LeaseKeeper;
}

/** Per-message controls the runtime gives the processor. */
export interface MessageControl {
  /** Keep the message hidden `seconds` from now (heartbeat). */
  readonly extendVisibility: (seconds: number) => Promise<void>;
  /**
   * Aborts when the runtime must stop: the worker's shutdown, or (when `deadline` is set) the
   * Lambda's deadline nearing. An attempt it interrupts is released for another try; a shutdown's
   * is given back (not counted against `maxAttempts`), a deadline's counts (the attempt used up
   * its invocation's time, as a timeout would).
   */
  readonly stop: AbortSignal;
  /** Latest moment an attempt may run to, epoch ms (Lambda's remaining time). */
  readonly deadline?: number;
}

/** Makes lease owners unique per attempt: a random token per process, then a counter. */
const OWNER_TOKEN = randomUUID().slice(0, 8);
let attempts = 0;

/** A lease owner for a new attempt: `<worker id>/<process token>.<count>`, never the same twice. */
function leaseOwner(workerId: string): string {
  attempts += 1;
  return `${workerId}/${OWNER_TOKEN}.${attempts}`;
}

/** One message being processed: what every step of the processor reads. */
interface Processing {
  readonly deps: ProcessorDeps;
  readonly message: ReceivedMessage;
  readonly control: MessageControl;
  /** When its processing began, epoch ms (stands in for an unknown receive time, see {@link receivedAtOf}). */
  readonly startedAt: number;
}

/** A message whose envelope names a registered task. */
interface RunProcessing extends Processing {
  readonly task: AnyTask;
  readonly envelope: Envelope;
  /** What binds the run to this message (`argumentsHash` of its arguments and enqueuer). */
  readonly argsHash: string;
}

/** The logger for lines about a run before (or without) an attempt: its task id and name. Made when a line is written. */
function runLog(p: RunProcessing): Logger {
  return p.deps.logger.child({ taskId: p.envelope.id, task: p.task.name });
}

/** The run a dead-lettered message names, when its envelope was readable that far. */
interface NamedRun {
  readonly id: string;
  /** Absent when the message's task name was unreadable. */
  readonly task?: string;
  /** The message's `argumentsHash`, when its arguments could be read (a run bound to others is left alone). */
  readonly argsHash?: string;
}

/**
 * Process one message. Never rejects for a task's failure; rejects only when the backend fails.
 *
 * A retry's `delaySeconds` never reaches past what is left of the message's receive window: SQS
 * counts its 12-hour visibility limit from the receive ({@link hideLeftSeconds}). A wait that is
 * longer (a retry due in 12 hours, after an attempt that took one) hides the message to the end
 * of the window; it then comes back, and its claim finds the run not due (`not-due`), so it is
 * hidden again from the new receive until its time, and never runs early.
 */
export async function processMessage(
  deps: ProcessorDeps,
  message: ReceivedMessage,
  control: MessageControl,
): Promise<Disposition> {
  const startedAt = deps.now();
  const disposition = await processReceived({ deps, message, control, startedAt });
  if (disposition.kind === 'ack') return disposition;
  const left = hideLeftSeconds(message, startedAt, deps.now());
  return disposition.delaySeconds <= left ? disposition : { ...disposition, delaySeconds: left };
}

/**
 * A message whose receiver gave no receive time (a Lambda event record) is taken to have been
 * received this long before its processing began, ms: an invocation lasts at most 15 minutes, and
 * the event source mapping receives its batch just before it starts.
 */
const UNKNOWN_RECEIVE_MS = 16 * 60 * 1000;
/** Seconds kept off the end of a receive's 12-hour window: a visibility change reaches SQS a moment after it is computed. */
const VISIBILITY_MARGIN_SECONDS = 5;

/** When the message was received, or the earliest it can have been when the receiver did not say. */
function receivedAtOf(message: ReceivedMessage, startedAt: number): number {
  return message.receivedAt ?? startedAt - UNKNOWN_RECEIVE_MS;
}

/**
 * How long the message may still be hidden, whole seconds from `now`: what remains of its receive's
 * 12-hour window ({@link visibilityLeftSeconds}), less {@link VISIBILITY_MARGIN_SECONDS}; never below 0.
 */
function hideLeftSeconds(message: ReceivedMessage, startedAt: number, now: number): number {
  return Math.max(0, visibilityLeftSeconds(receivedAtOf(message, startedAt), now) - VISIBILITY_MARGIN_SECONDS);
}

/**
 * Keep the message hidden `seconds` more (an attempt's heartbeat), capped at what is left of its
 * receive's window. Once nothing is left it is not changed: it comes back when its visibility ends
 * (at the window's end, at the latest), and the run's live lease turns the copy away.
 */
async function extendWithinReceive(p: Processing, seconds: number): Promise<void> {
  const allowed = Math.min(seconds, hideLeftSeconds(p.message, p.startedAt, p.deps.now()));
  if (allowed > 0 || seconds === 0) await p.control.extendVisibility(allowed);
}

async function processReceived(p: Processing): Promise<Disposition> {
  const { deps, message, control } = p;
  const bytes = Buffer.byteLength(message.body, 'utf8');
  if (bytes > MAX_MESSAGE_BYTES) {
    const reason = `message is ${bytes} bytes; the limit is ${MAX_MESSAGE_BYTES} (SQS's 1 MiB)`;
    return deadLetterMessage(p, reasonError('OversizeMessage', reason), undefined);
  }
  let fire: Awaited<ReturnType<typeof handleFireMessage>>;
  try {
    fire = mightBeFireMessage(message.body) ? await handleFireMessage(deps, message) : undefined;
  } catch (error) {
    // A fire whose arguments the producer would refuse (nested too deep): not the backend's failure.
    if (!hasErrorCode(error, 'ARGUMENTS_NOT_JSON')) throw error;
    return deadLetterMessage(p, reasonError('MalformedMessage', `fire message: ${error.message}`), undefined);
  }
  if (fire !== undefined) return fire.kind === 'ack' ? fire : deadLetterMessage(p, fire.error, undefined);
  const decoded = decodeEnvelope(message.body);
  if (!decoded.ok) {
    const run = decoded.id === undefined ? undefined : { id: decoded.id, ...definedTask(decoded.task) };
    return deadLetterMessage(p, reasonError('MalformedMessage', decoded.reason), run);
  }
  const { envelope } = decoded;
  const task = deps.tasks.get(envelope.task);
  if (task === undefined) {
    const known = [...deps.tasks.keys()].sort().join(', ') || '(none)';
    const reason =
      `unknown task '${envelope.task}'; this worker runs: ${known}. ` +
      'Register the task in createSpool({ tasks }) and deploy it, then `spool dlq redrive`.';
    return deadLetterMessage(p, reasonError('UnknownTask', reason), { id: envelope.id, task: envelope.task });
  }
  const run = { id: envelope.id, task: envelope.task };
  // The metadata a sender writes is checked against the app before it decides anything; a message
  // that fails is refused, and the run it names is left alone.
  const problem = metadataProblem(envelope, task, deps.now());
  if (problem !== undefined) return refuseMessage(p, reasonError('MalformedMessage', problem), run);
  const trusted = trustedFireRun(envelope, deps.schedules);
  if (!trusted.ok) return refuseMessage(p, reasonError('MalformedMessage', trusted.reason), run);
  if (envelope.notBefore !== undefined) {
    const parked = await waitForStart(envelope.notBefore, deps.now, control.stop);
    if (parked !== undefined) return parked;
  }
  const resolved = await resolveArguments(blobContext(deps), trusted.envelope);
  if (!resolved.ok) return deadLetterMessage(p, resolved.error, run);
  let argsHash: string;
  try {
    argsHash = argumentsHash(resolved.envelope.args, task.name, envelope.enqueuedBy);
  } catch (error) {
    // Arguments read from a blob that the producer would refuse (nested too deep).
    if (!hasErrorCode(error, 'ARGUMENTS_NOT_JSON')) throw error;
    return deadLetterMessage(p, reasonError('MalformedMessage', error.message), run);
  }
  return claimAndRun({ ...p, task, envelope: resolved.envelope, argsHash });
}

/**
 * How far ahead of now a message's `notBefore` may be, ms: the longest delay a run waits in the
 * queue (`MAX_QUEUED_DELAY_MS`, 15 minutes: longer ones wait in a one-time schedule and are sent
 * when due) plus an hour for producers' clocks.
 */
export const MAX_NOT_BEFORE_AHEAD_MS = MAX_QUEUED_DELAY_MS + 60 * 60 * 1000;

/**
 * Why the envelope's own metadata is refused for `task`, or `undefined`: a `unique` key outside
 * the task's namespace (`<task>:…`, as enqueue makes it), or a `notBefore` further ahead than a
 * queued run can be ({@link MAX_NOT_BEFORE_AHEAD_MS}).
 */
function metadataProblem(envelope: Envelope, task: AnyTask, now: number): string | undefined {
  if (envelope.unique !== undefined && !envelope.unique.startsWith(`${task.name}:`)) {
    return `"unique" is ${JSON.stringify(envelope.unique.slice(0, 80))}; a run of '${task.name}' may only hold unique keys that start with '${task.name}:'`;
  }
  if (envelope.notBefore !== undefined && envelope.notBefore - now > MAX_NOT_BEFORE_AHEAD_MS) {
    return (
      `"notBefore" is ${new Date(envelope.notBefore).toISOString()}, more than ${MAX_NOT_BEFORE_AHEAD_MS / 60_000} minutes ahead; ` +
      `a run waits in the queue at most ${MAX_QUEUED_DELAY_MS / 60_000} minutes (longer delays wait in a one-time schedule): check the producer's clock`
    );
  }
  return undefined;
}

async function claimAndRun(p: RunProcessing): Promise<Disposition> {
  const { deps, control, task, envelope } = p;
  const now = deps.now();
  const retentionMs = task.resultTtlSeconds * 1000;
  const leaseMs = leaseLength(task, now, control.deadline);
  const singletonKey = envelope.schedule?.overlap === 'skip' ? undefined : singletonKeyOf(task, envelope.args);
  const argsHash = p.argsHash;
  const fireLock = envelope.schedule === undefined ? undefined : fireSingletonKey(envelope.schedule);
  // A missed fire is skipped before the claim, so it never holds its schedule's overlap lock.
  const missed = missedFire(envelope.schedule, now);
  if (missed !== undefined) {
    const skipped = await skipFire(p, now, reasonError('MissedRun', missed));
    if (skipped.outcome === 'cancelled') {
      runLog(p).info('schedule fire skipped: a later fire is already due');
      return { kind: 'ack', note: 'skipped (missed)' };
    }
  }
  const claim = await deps.store.claim({
    id: envelope.id,
    task: task.name,
    owner: leaseOwner(deps.workerId),
    now,
    leaseMs,
    maxAttempts: task.retry.maxAttempts,
    expiresAt: now + leaseMs + retentionMs,
    ...(fireLock !== undefined ? { singletonKey: fireLock } : singletonKey === undefined ? {} : { singletonKey }),
    ...(envelope.unique === undefined ? {} : { uniqueKey: envelope.unique }),
    argsHash,
    ...(envelope.enqueuedBy === undefined ? {} : { enqueuedBy: envelope.enqueuedBy }),
  });
  // Only the outcomes that do not run log here (a claimed run logs through its attempt's logger).
  switch (claim.outcome) {
    case 'conflict':
      return refuseMessage(p, conflictReason(p, claim.record), { id: envelope.id, task: task.name });
    case 'finished':
      runLog(p).debug('duplicate delivery of an ended run; acknowledged without running', {
        state: claim.record.state,
      });
      return { kind: 'ack', note: `already ${claim.record.state}` };
    case 'leased': {
      const waitMs = (claim.record.leaseExpiresAt ?? now) - now;
      runLog(p).debug('run is leased by another worker; message hidden until the lease ends', { waitMs });
      return { kind: 'retry', delaySeconds: clampSeconds(waitMs / 1000 + 1), note: 'leased elsewhere' };
    }
    case 'singleton-busy': {
      if (fireLock !== undefined) {
        const reason = `skipped: the schedule's run ${claim.holderId} is still running (overlap: 'skip')`;
        await skipFire(p, now, reasonError('OverlapSkipped', reason));
        runLog(p).info('schedule fire skipped: the previous run is still running', { holder: claim.holderId });
        return { kind: 'ack', note: 'skipped (overlap)' };
      }
      const waitMs = claim.heldUntil - now;
      runLog(p).debug('singleton busy; waiting', { holder: claim.holderId, waitMs });
      return {
        kind: 'retry',
        delaySeconds: Math.min(task.leaseSeconds, clampSeconds(waitMs / 1000)),
        note: 'singleton busy',
      };
    }
    case 'exhausted':
      return deadLetterMessage(p, exhaustedReason(claim.record, task), { id: envelope.id, task: task.name, argsHash });
    case 'not-due': {
      // Back before its retry's time (its wait outlasted a receive's 12-hour window): hidden again
      // from this receive, until the retry is due (processMessage caps it at this window's end).
      const waitMs = (claim.record.nextRunAt ?? now) - now;
      runLog(p).debug('retry not due yet; message hidden until it is', { waitMs });
      return { kind: 'retry', delaySeconds: clampSeconds(waitMs / 1000), note: 'not due' };
    }
    case 'claimed':
      return runClaimed(p, claim.record);
  }
}

async function runClaimed(p: RunProcessing, record: TaskRecord): Promise<Disposition> {
  const { deps, message, control, task, envelope } = p;
  const log = deps.logger.child({ taskId: record.id, task: task.name, attempt: record.attempt });
  log.debug('attempt started', { receiveCount: message.receiveCount });
  const outcome = await runAttempt({
    task,
    record,
    rawArgs: envelope.args,
    store: deps.store,
    logger: log,
    middleware: deps.middleware,
    now: deps.now,
    stop: control.stop,
    extendVisibility: (seconds) => extendWithinReceive(p, seconds),
    ...(control.deadline === undefined ? {} : { deadline: control.deadline }),
    ...(deps.keeper === undefined ? {} : { keeper: deps.keeper, receiptHandle: message.receiptHandle }),
  });
  const now = deps.now();
  const finish = (ending: AttemptEnding) => finishAttempt(deps.store, log, record, task, now, ending, outcome.progress);

  if (outcome.kind === 'succeeded') {
    let json: string | undefined;
    try {
      // An ignored result is not stored, so it need not be JSON.
      json = task.ignoreResult ? undefined : encodeResult(outcome.result, { taskName: task.name, taskId: record.id });
    } catch (error) {
      const info = toErrorInfo(error);
      log.error('attempt failed: result is not JSON', { error: info, durationMs: outcome.durationMs });
      await finish({ state: 'failed', error: info });
      return { kind: 'ack', note: 'failed: result not JSON' };
    }
    const placed =
      json === undefined
        ? undefined
        : await placeResult(blobContext(deps), record, json, outcome.progress, recordExpiresAt(task, now));
    if (placed?.ok === false) {
      log.error('attempt failed: result too large', { error: placed.error, durationMs: outcome.durationMs });
      await finish({ state: 'failed', error: placed.error });
      return { kind: 'ack', note: 'failed: result too large' };
    }
    await finish(placed === undefined ? { state: 'succeeded' } : { state: 'succeeded', ...placed.fields });
    log.debug('attempt succeeded', { durationMs: outcome.durationMs });
    return { kind: 'ack', note: 'succeeded' };
  }

  const error = outcome.aborted ?? outcome.error;
  const info = await keepWholeMessage(
    blobContext(deps),
    record.id,
    toErrorInfo(error),
    error,
    recordExpiresAt(task, now),
  );
  const retriable = isRetriable(error);
  const attemptsLeft = record.attempt < task.retry.maxAttempts;
  const why = outcome.aborted?.why;
  const willRetry = why !== 'cancelled' && retriable && (attemptsLeft || why === 'shutdown');
  const event = { taskId: record.id, task: task.name, attempt: record.attempt, args: envelope.args, logger: log };
  await callHooks(deps.middleware, log, (m) =>
    m.onFailure?.({ ...event, error, willRetry, durationMs: outcome.durationMs }),
  );

  if (why === 'lease-lost') {
    log.error('attempt abandoned: lease lost', { durationMs: outcome.durationMs });
    return { kind: 'ack', note: 'lease lost' };
  }
  if (why === 'cancelled') {
    await finish({ state: 'cancelled', error: info });
    log.info('attempt cancelled', { durationMs: outcome.durationMs });
    return { kind: 'ack', note: 'cancelled' };
  }
  if (why === 'shutdown') {
    // A released attempt is not a failed one: the worker's shutdown gives it back, so a shutdown
    // during the last attempt leaves the run its attempt. A Lambda's deadline (`deadline` set: the
    // only reason its stop aborts) counts it: the attempt used up its invocation's time.
    const releaseAttempt = control.deadline === undefined;
    await finish({ state: 'retrying', error: info, nextRunAt: now, releaseAttempt });
    if (releaseAttempt) {
      log.warn('attempt interrupted by shutdown; released for another worker (not counted as an attempt)', {
        durationMs: outcome.durationMs,
      });
    } else {
      log.warn("attempt interrupted at the invocation's deadline; released for another try", {
        durationMs: outcome.durationMs,
      });
    }
    return { kind: 'retry', delaySeconds: 0, note: 'released on shutdown' };
  }
  if (!retriable) {
    await finish({ state: 'failed', error: info });
    log.warn('attempt failed; not retriable', { error: info, durationMs: outcome.durationMs });
    return { kind: 'ack', note: 'failed' };
  }
  if (!attemptsLeft) {
    const reason = `${info.name}: ${info.message} (attempt ${record.attempt} of ${task.retry.maxAttempts}, no attempts left)`;
    await finish({ state: 'dead', error: info });
    await sendToDeadLetters(p, { name: info.name, message: reason }, { id: record.id, task: task.name });
    log.error('attempt failed; no attempts left, dead-lettered', { error: info, durationMs: outcome.durationMs });
    return { kind: 'ack', note: 'dead' };
  }
  const delayMs = error instanceof RetryAfterError ? error.retryAfterMs : backoffMs(task.retry, record.attempt);
  const delaySeconds = clampSeconds(delayMs / 1000);
  await finish({ state: 'retrying', error: info, nextRunAt: now + delaySeconds * 1000 });
  log.warn('attempt failed; will retry', { error: info, delaySeconds, durationMs: outcome.durationMs });
  return { kind: 'retry', delaySeconds, note: 'retrying' };
}

/** How an attempt ends, as its finish records it: the parts of a {@link FinishInput} the outcome decides. */
type AttemptEnding = FinishInput extends infer F
  ? F extends FinishInput
    ? Pick<F, Extract<keyof F, 'state' | 'result' | 'resultRef' | 'error' | 'nextRunAt' | 'releaseAttempt'>>
    : never
  : never;

/**
 * Record how the attempt ended (see `TaskStore.finish`), with the progress the attempt accepted
 * last (`progress`, JSON text) and its error cut to what a record stores; logs when the lease was
 * lost meanwhile.
 */
async function finishAttempt(
  store: TaskStore,
  log: Logger,
  record: TaskRecord,
  task: AnyTask,
  now: number,
  ending: AttemptEnding,
  progress: string | undefined,
): Promise<void> {
  const input: FinishInput = {
    id: record.id,
    owner: record.leaseOwner ?? '',
    now,
    expiresAt: recordExpiresAt(task, now),
    ...(progress === undefined ? {} : { progress }),
    ...(record.singletonKey === undefined ? {} : { singletonKey: record.singletonKey }),
    ...(record.uniqueKey === undefined ? {} : { uniqueKey: record.uniqueKey }),
    ...ending,
    ...(ending.error === undefined ? {} : { error: boundErrorInfo(ending.error) }),
  };
  const done = await store.finish(input);
  if (done.outcome === 'lost') {
    log.error('lease lost before the attempt ended; its outcome was not recorded (another worker owns the run)', {
      state: ending.state,
    });
  }
}

/**
 * Why a run with no attempts left is dead-lettered at its claim. A `running` record's lease
 * expired (`LeaseExpired`: the worker died, of a hard crash no listener sees, or was blocked past the lease);
 * a released one (`retrying`: its last attempt was interrupted at a Lambda's deadline, or
 * `maxAttempts` was lowered since) keeps its last error, as a run whose retries ran out does.
 */
function exhaustedReason(found: TaskRecord, task: AnyTask): ErrorInfo {
  const count = `attempt ${found.attempt} of ${task.retry.maxAttempts}, no attempts left`;
  if (found.state !== 'running' && found.error !== undefined) {
    return { name: found.error.name, message: `${found.error.message} (${count})` };
  }
  // Only the last attempt is known to have lost its lease: earlier ones may have failed otherwise.
  return reasonError(
    'LeaseExpired',
    `attempt ${found.attempt} of ${task.retry.maxAttempts} never finished: its lease expired, so the worker running it died ` +
      '(killed, out of memory, a native crash) or was blocked past the lease; no attempts left. ' +
      "A run that kills every worker that runs it ends here: the workers' last log lines name its task id",
  );
}

/** Record a message as dead (when it names a run) and move it to the dead-letter queue. */
async function deadLetterMessage(p: Processing, error: ErrorInfo, run: NamedRun | undefined): Promise<Disposition> {
  const { deps } = p;
  const now = deps.now();
  if (run !== undefined) {
    const retentionSeconds = run.task === undefined ? undefined : deps.tasks.get(run.task)?.resultTtlSeconds;
    const dead = await deps.store.deadLetter({
      id: run.id,
      ...definedTask(run.task),
      now,
      error: boundErrorInfo(error),
      expiresAt: now + (retentionSeconds === undefined ? DEFAULT_RETENTION_MS : retentionSeconds * 1000),
      ...(run.argsHash === undefined ? {} : { argsHash: run.argsHash }),
    });
    // The run is bound to another message: this one cannot end it, only be kept for a person to see.
    if (dead.outcome === 'conflict') return refuseMessage(p, error, run);
    if (dead.outcome === 'unchanged' && dead.record.state !== 'dead') {
      deps.logger.warn('message could not be run, but its run is not dead-letterable; acknowledged', {
        taskId: run.id,
        state: dead.record.state,
        reason: error.message,
      });
      return { kind: 'ack', note: `unchanged (${dead.record.state})` };
    }
  }
  await sendToDeadLetters(p, error, run);
  deps.logger.error('message dead-lettered', { taskId: run?.id, task: run?.task, error });
  return { kind: 'ack', note: 'dead-lettered' };
}

/**
 * Refuse a message without touching the run it names: a copy goes to the dead-letter queue (where
 * `spool dlq list` shows it and the queue's depth alarm counts it), and the message is
 * acknowledged. For messages whose sender may not decide the run's fate: a conflicting duplicate,
 * forged metadata, or a message that cannot be run for a run bound to another message.
 */
async function refuseMessage(p: Processing, error: ErrorInfo, run: NamedRun): Promise<Disposition> {
  await sendToDeadLetters(p, error, run);
  p.deps.logger.error('message refused; its run was left alone', { taskId: run.id, task: run.task, error });
  return { kind: 'ack', note: 'refused' };
}

/** Why a conflicting duplicate is refused: the run's id is bound to another message's arguments or enqueuer. */
function conflictReason(p: RunProcessing, record: TaskRecord): ErrorInfo {
  const enqueuer =
    record.enqueuedBy === p.envelope.enqueuedBy
      ? 'other arguments'
      : `another enqueuer (${JSON.stringify(p.envelope.enqueuedBy ?? null)}, the run's is ${JSON.stringify(record.enqueuedBy ?? null)}) or other arguments`;
  return reasonError(
    'ConflictingDuplicate',
    `a message with task id ${p.envelope.id} and ${enqueuer} than the run's first claim ran (the run is ${record.state}); ` +
      'it was not run. Two enqueues with one idempotency key are one run: give different runs different keys',
  );
}

async function sendToDeadLetters(p: Processing, error: ErrorInfo, run: NamedRun | undefined): Promise<void> {
  const { deps, message } = p;
  const a = DEAD_LETTER_ATTRIBUTES;
  const attributes = {
    [a.reason]: error.message.slice(0, 4000),
    [a.errorName]: error.name,
    [a.deadAt]: new Date(deps.now()).toISOString(),
    [a.sourceMessageId]: message.messageId,
    ...(run === undefined ? {} : { [a.taskId]: run.id }),
    ...(run?.task === undefined ? {} : { [a.task]: run.task }),
  };
  // SQS counts the attributes toward the copy's 1 MiB: a body near the limit is kept as a blob.
  const body = await deadLetterBody(blobContext(deps), run?.id ?? message.messageId, message.body, attributes);
  await deps.deadLetters.send([
    {
      body,
      deduplicationId: `${DEAD_LETTER_ID_PREFIX}${message.messageId}`.slice(0, MAX_FIFO_ID_LENGTH),
      groupId: run?.id ?? message.messageId,
      attributes,
    },
  ]);
}

/** End a fire that will not run as `cancelled` with `reason`; a copy already running is left alone. */
function skipFire(p: RunProcessing, now: number, reason: ErrorInfo) {
  return p.deps.store.cancel({
    id: p.envelope.id,
    task: p.task.name,
    now,
    expiresAt: recordExpiresAt(p.task, now),
    reason,
    onlyIfNotStarted: true,
  });
}

/**
 * When a record written at `now` by a run of `task` expires (its `resultTtlSeconds`): the finish's
 * and a skipped fire's TTL, and so the expiry of the result and error blobs the record points to.
 */
function recordExpiresAt(task: AnyTask, now: number): number {
  return now + task.resultTtlSeconds * 1000;
}

/** The blob store (the store's), the task queue's name for keys, and now. */
function blobContext(deps: ProcessorDeps): BlobContext {
  return { blobs: deps.store.blobs, queue: deps.queue.name, now: deps.now() };
}

/** `{ task }` when `name` is known. */
function definedTask(name: string | undefined): { task?: string } {
  return name === undefined ? {} : { task: name };
}

/**
 * The singleton lock key of a run (`lockKey`: `<task>:<key>`, NFC). A key function that throws
 * (malformed arguments: validation fails the attempt anyway) or returns what enqueue would refuse
 * (not a string, too long) locks on the task's name: the run still runs alone.
 */
function singletonKeyOf(task: AnyTask, args: unknown): string | undefined {
  if (task.singletonKey === undefined) return undefined;
  let key: unknown;
  try {
    key = task.singletonKey(args);
  } catch {
    key = undefined;
  }
  const made = typeof key === 'string' ? lockKey(task.name, key) : undefined;
  return typeof made === 'string' ? made : `${task.name}:${task.name}`;
}

function clampSeconds(seconds: number): number {
  return Math.min(MAX_VISIBILITY_SECONDS, Math.max(0, Math.ceil(seconds)));
}
